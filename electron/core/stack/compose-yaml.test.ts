import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { secretMask } from '../../contract/stack';
import { AppError } from '../errors';
import { Secret } from '../secrets/secret';
import { composeValue, dotenvValue, escapeDollars, renderEnvFile, toComposeYaml, varRefNames } from './compose-yaml';
import { varRef } from './types';

describe('compose values', () => {
  it('doubles every $ of a plain string and writes a VarRef as ${NAME}', () => {
    expect(escapeDollars('/srv/$(touch x)/$HOME/${Y}/$$')).toBe('/srv/$$(touch x)/$$HOME/$${Y}/$$$$');
    expect(composeValue({ a: '$x', b: varRef('DB_PASSWORD') })).toEqual({ a: '$$x', b: '${DB_PASSWORD}' });
  });

  it('sorts keys at every level, keeps array order and drops undefined members', () => {
    const v = composeValue({ b: 1, a: { z: [3, 1, 2], y: undefined, x: true } });
    expect(JSON.stringify(v)).toBe('{"a":{"x":true,"z":[3,1,2]},"b":1}');
  });

  it('refuses a Secret, a key with $, null and non-finite numbers', () => {
    expect(() => composeValue({ a: new Secret('s3cret-value') })).toThrow(/Secret/);
    expect(() => composeValue({ 'a$': 1 })).toThrow(/contains \$/);
    expect(() => composeValue({ a: null })).toThrow(/unsupported/);
    expect(() => composeValue({ a: Number.NaN })).toThrow(/finite/);
  });

  it('quotes strings a YAML reader would take for numbers, times or booleans', () => {
    const text = toComposeYaml({ t: '03:30', p: '8096', y: 'yes', o: 'on', f: '0.0166', u: '1000:1000' });
    expect(text.split('\n')[0]).toMatch(/^# Rendered by M2 Companion/);
    expect(text).toContain('t: "03:30"\n');
    expect(text).toContain('p: "8096"\n');
    expect(text).toContain('"y": "yes"\n');
    expect(text).toContain('o: "on"\n');
    expect(YAML.parse(text, { version: '1.1' })).toEqual({ t: '03:30', p: '8096', y: 'yes', o: 'on', f: '0.0166', u: '1000:1000' });
  });

  it('lists the VarRefs a document uses', () => {
    expect([...varRefNames({ a: [varRef('A'), { b: varRef('B') }], c: '${C}' })].sort()).toEqual(['A', 'B']);
  });
});

describe('env files', () => {
  it('writes safe values bare and others single-quoted (literal in Compose dotenv)', () => {
    expect(dotenvValue('abcXYZ019-_+/=.:@,~', 'K')).toBe('abcXYZ019-_+/=.:@,~');
    expect(dotenvValue('', 'K')).toBe('');
    expect(dotenvValue('a b', 'K')).toBe("'a b'");
    expect(dotenvValue('$HOME', 'K')).toBe("'$HOME'");
    expect(dotenvValue('x #c', 'K')).toBe("'x #c'");
    expect(dotenvValue('"q"\\n ü', 'K')).toBe("'\"q\"\\n ü'");
  });

  it.each(["it's", 'a\nb', 'a\rb'])('refuses %j, which has no literal form, naming the key', (v) => {
    expect(() => dotenvValue(v, 'CLOUDFLARED_TUNNEL_TOKEN')).toThrow(AppError);
    expect(() => dotenvValue(v, 'CLOUDFLARED_TUNNEL_TOKEN')).toThrow(/CLOUDFLARED_TUNNEL_TOKEN/);
  });

  it('masks secret values in the preview and marks the file secret', () => {
    const f = renderEnvFile([
      ['A_PASSWORD', new Secret('hunter2hunter2')],
      ['A_PLAIN', 'visible'],
    ]);
    expect(f.content).toBe('# Rendered by M2 Companion. Secret: keep this file 0600.\nA_PASSWORD=hunter2hunter2\nA_PLAIN=visible\n');
    expect(f.masked).toBe(`# Rendered by M2 Companion. Secret: keep this file 0600.\nA_PASSWORD=${secretMask}\nA_PLAIN=visible\n`);
    expect(f.secret).toBe(true);
    expect(renderEnvFile([['A', 'b']]).secret).toBe(false);
  });

  it('refuses duplicate and malformed keys', () => {
    expect(() => renderEnvFile([['A', '1'], ['A', '2']])).toThrow(/twice/);
    expect(() => renderEnvFile([['a-b', '1']])).toThrow(/invalid/);
  });
});
