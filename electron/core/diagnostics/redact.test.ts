import { describe, expect, it } from 'vitest';
import { Secret } from '../secrets/secret';
import { createLogger } from '../log';
import { REDACTED, Redactor } from './redact';

const WG_KEY = 'yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=';
const CF_TOKEN = 'Xy9_a8bC7dE6fG5hI4jK3lM2nO1pQ0rS-tUvWxYz';
const TUNNEL_TOKEN = Buffer.from(JSON.stringify({ a: '0123456789abcdef0123456789abcdef', t: '9a7f0c9e-1111-2222-3333-444455556666', s: 'c2VjcmV0LXNlY3JldC1zZWNyZXQ=' })).toString('base64');
const JWT = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';
const PEM = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACBbZWVk\n-----END OPENSSH PRIVATE KEY-----';

/** A log line as the app writes it, through the redactor. */
function logged(r: Redactor, message: string, fields?: Record<string, unknown>): string {
  const lines: string[] = [];
  createLogger((l) => lines.push(r.redact(l))).warn(message, fields);
  return lines[0] ?? '';
}

describe('Redactor', () => {
  it('removes every value it was told about, in plain text and inside JSON strings', () => {
    const r = new Redactor();
    const hostile = 'p"a\\ss$(rm -rf /)\n`x`.*+?[]{}|^é漢字🙂';
    r.known(hostile);
    r.known(new Secret('restic-password-123'));
    const line = logged(r, 'stderr', { stderr: `Fatal: wrong password ${hostile} and restic-password-123` });
    expect(line).not.toContain('restic-password-123');
    expect(line).not.toContain(JSON.stringify(hostile).slice(1, -1));
    expect(JSON.parse(line)).toMatchObject({ fields: { stderr: `Fatal: wrong password ${REDACTED} and ${REDACTED}` } });
    expect(r.redact(`raw ${hostile} end`)).toBe(`raw ${REDACTED} end`);
  });

  it('removes the longer of two known values whole, and ignores values too short to redact by value', () => {
    const r = new Redactor();
    r.known('abcd1234');
    r.known('abcd1234-longer');
    r.known('ab');
    expect(r.redact('x abcd1234-longer y abcd1234 ab')).toBe(`x ${REDACTED} y ${REDACTED} ab`);
    r.known(undefined);
    expect(r.knownCount).toBe(2);
  });

  it('removes credential-shaped strings it was never told about', () => {
    const r = new Redactor();
    const cases: Array<[string, string]> = [
      [`PrivateKey = ${WG_KEY}`, WG_KEY],
      [`cloudflared tunnel run --token ${TUNNEL_TOKEN}`, TUNNEL_TOKEN],
      [`jwt ${JWT}`, JWT.split('.')[2] ?? ''],
      [`curl -H 'Authorization: Bearer ${CF_TOKEN}'`, CF_TOKEN],
      ['Authorization: Basic dXNlcjpwYXNzd29yZA==', 'dXNlcjpwYXNzd29yZA=='],
      [`the token ${CF_TOKEN} was refused`, CF_TOKEN],
      ['RESTIC_PASSWORD=hunter2hunter2 restic snapshots', 'hunter2hunter2'],
      ['{"api_key": "k-12345-secret"}', 'k-12345-secret'],
    ];
    for (const [text, secret] of cases) {
      const out = r.redact(text);
      expect(out, text).not.toContain(secret);
      expect(out, text).toContain('[REDACTED');
    }
  });

  it('removes PEM blocks whole, in a JSON line and cut off without their END line', () => {
    const r = new Redactor();
    const line = logged(r, 'key', { stdout: `before\n${PEM}\nafter` });
    expect(line).not.toContain('b3BlbnNzaC1rZXkt');
    expect(JSON.parse(line)).toMatchObject({ fields: { stdout: 'before\n[REDACTED PEM]\nafter' } });
    const cut = logged(r, 'key', { stderr: PEM.slice(0, 90) });
    expect(cut).not.toContain('b3BlbnNzaC1rZXkt');
    expect(() => JSON.parse(cut) as unknown).not.toThrow();
  });

  it('leaves ordinary facts alone: hashes, container ids, paths, words about tokens', () => {
    const r = new Redactor();
    const text = [
      'commit 3f786850e387550fdab836ed7e6dc881de23001b',
      'container 4f2a9c1b0e8d7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1',
      'sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
      '/srv/m2/releases/2026-12-05T03-00-00Z/compose.yaml',
      'the Cloudflare token check failed: permission missing',
      'a_very_long_identifier_in_snake_case_xyz',
    ].join('\n');
    expect(r.redact(text)).toBe(text);
  });

  it('keeps a log line valid JSON whatever it carries', () => {
    const r = new Redactor();
    r.known('s3cr3t"\\value');
    for (const stderr of [`Authorization: Bearer ${CF_TOKEN}","x":"`, 'password="a\\"b" token:"c"', `${PEM.slice(0, 60)}"}{"`, 's3cr3t"\\value']) {
      const line = logged(r, 'failed', { stderr });
      expect(() => JSON.parse(line) as unknown, line).not.toThrow();
    }
  });

  it('stays linear on long hostile input', () => {
    const r = new Redactor();
    r.known('x'.repeat(50));
    const long = `${'A'.repeat(200_000)} ${'-----BEGIN X-----'.repeat(2_000)} ${'eyJ'.repeat(30_000)} ${'password='.repeat(20_000)}`;
    const out = r.redact(long);
    expect(out.length).toBeGreaterThan(0);
  }, 60_000);
});
