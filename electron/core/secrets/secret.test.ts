import { describe, expect, it } from 'vitest';
import { inspect, format } from 'node:util';
import { Secret } from './secret';

describe('a Secret', () => {
  const s = new Secret('correct horse battery staple');

  it('refuses to print in strings, JSON, inspect and format', () => {
    const renderings = [String(s), `${s}`, JSON.stringify({ s }), inspect(s), inspect({ nested: { s } }), format('%s %o %j', s, s, s)];
    for (const r of renderings) expect(r).not.toContain('horse');
    expect(JSON.stringify({ s })).toBe('{"s":"[REDACTED]"}');
  });

  it('reveals its value only when asked, and masks most of it for display', () => {
    expect(s.reveal()).toBe('correct horse battery staple');
    expect(s.masked()).toBe('••••••••aple');
    expect(new Secret('short').masked()).toBe('••••••••');
  });
});
