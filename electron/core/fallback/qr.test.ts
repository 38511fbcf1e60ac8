import QRCode from 'qrcode';
import { describe, expect, it } from 'vitest';
import { AppError } from '../errors';
import { qrPng, qrSvgDataUrl } from './qr';

// A config of the usual size (~370 bytes): the error-correction level shows in the symbol's size.
const config = `[Interface]\nPrivateKey = ${'A'.repeat(43)}=\nAddress = 10.13.13.2/32\nDNS = 10.13.13.1\n\n[Peer]\nPublicKey = ${'B'.repeat(43)}=\nPresharedKey = ${'C'.repeat(43)}=\nAllowedIPs = 10.13.13.1/32\nEndpoint = home.example.com:51820\nPersistentKeepalive = 25\n`;
const MARGIN = 4;

describe('QR codes of a config', () => {
  it('gives an SVG data URL whose symbol is the error-correction-M code of the text', async () => {
    const url = await qrSvgDataUrl(config);
    expect(url).toMatch(/^data:image\/svg\+xml;base64,[A-Za-z0-9+/]+=*$/);
    const svg = Buffer.from(url.slice(url.indexOf(',') + 1), 'base64').toString('utf8');
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    const size = Number(/viewBox="0 0 (\d+) \1"/.exec(svg)?.[1]);
    const m = QRCode.create(config, { errorCorrectionLevel: 'M' }).modules.size;
    expect(size).toBe(m + 2 * MARGIN);
    expect(QRCode.create(config, { errorCorrectionLevel: 'L' }).modules.size).not.toBe(m);
    expect(QRCode.create(config, { errorCorrectionLevel: 'Q' }).modules.size).not.toBe(m);
  });

  it('gives a PNG', async () => {
    const png = await qrPng(config);
    expect(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
    const m = QRCode.create(config, { errorCorrectionLevel: 'M' }).modules.size;
    expect(png.readUInt32BE(16)).toBe((m + 2 * MARGIN) * 8); // IHDR width: 8 pixels per module
  });

  it('says in words when the text is too long for a QR code', async () => {
    const long = 'x'.repeat(2400);
    await expect(qrSvgDataUrl(long)).rejects.toBeInstanceOf(AppError);
    await expect(qrPng(long)).rejects.toMatchObject({ code: 'fallback.invalid', hint: expect.stringMatching(/config file/) });
  });
});
