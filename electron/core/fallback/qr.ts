/**
 * QR codes of a device's wg-quick config, as the WireGuard apps scan them (plain config text, byte mode,
 * error correction M: a ~400-byte config is version 15, 77×77 modules).
 */
import QRCode from 'qrcode';
import { AppError } from '../errors';

const OPTIONS = { errorCorrectionLevel: 'M', margin: 4 } as const;
/** Pixels per module in the PNG: big enough for a phone camera or zbarimg to read from a screen or a print. */
const PNG_SCALE = 8;

const tooBig = (err: unknown): AppError =>
  new AppError('fallback.invalid', 'This device’s WireGuard config is too long for a QR code.', {
    cause: err,
    hint: 'Import the config file into the WireGuard app instead of scanning it.',
  });

/** `data:image/svg+xml;base64,…` of a QR code holding `text`. */
export const qrSvgDataUrl = async (text: string): Promise<string> => {
  let svg: string;
  try {
    svg = await QRCode.toString(text, { ...OPTIONS, type: 'svg' });
  } catch (err) {
    throw tooBig(err);
  }
  return `data:image/svg+xml;base64,${Buffer.from(svg, 'utf8').toString('base64')}`;
};

/** A PNG of a QR code holding `text`. */
export const qrPng = async (text: string): Promise<Buffer> => {
  try {
    return await QRCode.toBuffer(text, { ...OPTIONS, type: 'png', scale: PNG_SCALE });
  } catch (err) {
    throw tooBig(err);
  }
};
