/**
 * Writing compose.yaml and env files so that the same input always gives the same bytes, and nothing the admin
 * typed is ever interpolated by Compose: every plain string has its `$` doubled, and only a `VarRef` renders as
 * `${NAME}`. Env file values are written so Compose's dotenv parser reads them back literally.
 */
import YAML from 'yaml';
import { secretMask } from '../../contract/stack';
import { AppError } from '../errors';
import { Secret } from '../secrets/secret';
import { VarRef, type EnvEntries } from './types';

/** The Compose form of a plain string: `$` doubled, so `docker compose` reads it back unchanged. */
export const escapeDollars = (s: string): string => s.replace(/\$/g, () => '$$');

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;

/** Code-unit order: the same on every machine and locale. */
const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The value as it goes into YAML: object keys sorted at every level (arrays keep their order), strings escaped,
 * VarRefs as `${NAME}`, undefined members dropped. Anything else (a Secret, a function, NaN) is a bug in a module.
 */
export function composeValue(v: unknown, where = '$'): unknown {
  if (v instanceof VarRef) return `\${${v.name}}`;
  if (v instanceof Secret) throw new Error(`compose value at ${where} is a Secret: secrets reach compose.yaml only as a VarRef`);
  if (typeof v === 'string') return escapeDollars(v);
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`compose value at ${where} is not a finite number`);
    return v;
  }
  if (Array.isArray(v)) return v.map((x, i) => composeValue(x, `${where}[${i}]`));
  if (isPlainObject(v)) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(v).sort(byCodeUnit)) {
      if (key.includes('$')) throw new Error(`compose key ${JSON.stringify(key)} at ${where} contains $`);
      const x = v[key];
      if (x === undefined) continue;
      out[key] = composeValue(x, `${where}.${key}`);
    }
    return out;
  }
  throw new Error(`compose value at ${where} has an unsupported type (${v === null ? 'null' : typeof v})`);
}

const header = '# Rendered by M2 Companion. Do not edit: the next apply replaces this file.\n';

/** compose.yaml text for a compose document (see composeValue). */
export function toComposeYaml(doc: Record<string, unknown>): string {
  const value = composeValue(doc);
  // YAML 1.1 rules for quoting: a string such as 03:30, yes or on is quoted, so no YAML reader (1.1 or 1.2) takes it for a number or a boolean.
  return header + YAML.stringify(value, { version: '1.1', lineWidth: 0, minContentWidth: 0, indent: 2, aliasDuplicateObjects: false });
}

/** Every VarRef name used anywhere in a compose document. */
export function varRefNames(v: unknown, out = new Set<string>()): Set<string> {
  if (v instanceof VarRef) out.add(v.name);
  else if (Array.isArray(v)) for (const x of v) varRefNames(x, out);
  else if (isPlainObject(v)) for (const x of Object.values(v)) varRefNames(x, out);
  return out;
}

/** Characters Compose's dotenv parser reads literally without quotes (no `$`, `#`, quotes, spaces or backslashes). */
const bareValue = /^[A-Za-z0-9_\-+/=.:@,~%^]*$/;

/**
 * One env file value in a form Compose's dotenv parser (compose-go/dotenv) reads back exactly: bare when it has
 * only safe characters; otherwise single-quoted, which that parser takes literally (no `$` expansion, no escapes).
 * A value with a single quote or a line break has no literal form there, so it is refused.
 */
export function dotenvValue(value: string, key: string): string {
  if (bareValue.test(value)) return value;
  if (/['\r\n\0]/.test(value)) {
    throw new AppError('stack.invalid-settings', `The value of ${key} contains a single quote or a line break, which a Compose env file cannot hold literally.`, {
      hint: 'Enter the value again without quotes or line breaks.',
    });
  }
  return `'${value}'`;
}

const envKey = /^[A-Z][A-Z0-9_]*$/;

/** An env file's text: the real one (to upload, 0600) and the masked one (for plans), keys in the order given. */
export function renderEnvFile(entries: EnvEntries): { content: string; masked: string; secret: boolean } {
  let content = '# Rendered by M2 Companion. Secret: keep this file 0600.\n';
  let masked = content;
  let secret = false;
  const seen = new Set<string>();
  for (const [key, value] of entries) {
    if (!envKey.test(key)) throw new Error(`invalid env file key ${key}`);
    if (seen.has(key)) throw new Error(`env file key ${key} appears twice`);
    seen.add(key);
    if (value instanceof Secret) {
      secret = true;
      content += `${key}=${dotenvValue(value.reveal(), key)}\n`;
      masked += `${key}=${secretMask}\n`;
    } else {
      const line = `${key}=${dotenvValue(value, key)}\n`;
      content += line;
      masked += line;
    }
  }
  return { content, masked, secret };
}
