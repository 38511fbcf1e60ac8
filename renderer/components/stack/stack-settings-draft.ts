/**
 * The settings form's state, derived from the module declarations: every field the form shows has a settings path
 * (`modules.jellyfin.lanPort`), a label and a way its typed text becomes the setting. Numbers stay text while the
 * admin types, so "" and "8o96" can be reported with the field's own message instead of coerced.
 */
import type { StackSettings } from '../../../electron/contract/stack';
import { hostnameModules, moduleDeclarations, type FormField, type ModuleDeclaration } from '../../../electron/contract/stack-modules';
import { adminFields, storageFields } from '../../../electron/contract/stack-modules/stack-wide';

export type DraftValue = string | boolean | readonly string[];

export interface Draft {
  /** Settings path → what the form holds for it (text, a switch, a list of text). */
  readonly values: Readonly<Record<string, DraftValue>>;
  /** Image tags held back: not edited here, carried through. */
  readonly imageOverrides: Readonly<Record<string, string>>;
}

type Conversion = 'string' | 'number' | 'number-or-null' | 'string-or-null' | 'select-number' | 'list' | 'switch' | 'always-on';

interface Leaf {
  readonly path: string;
  readonly label: string;
  readonly conversion: Conversion;
  /** For a list: what one row is called ("Media folder"). */
  readonly itemLabel?: string;
}

/** The settings path of a field's key: stack-wide keys as they are, a module's under `modules.<id>`. */
export const pathOf = (prefix: string, key: string): string => (prefix ? `${prefix}.${key}` : key);
export const modulePrefix = (d: Pick<ModuleDeclaration, 'id'>): string => `modules.${d.id}`;

function leavesOf(fields: readonly FormField[], prefix: string): Leaf[] {
  return fields.flatMap((f): Leaf[] => {
    switch (f.kind) {
      case 'row':
        return leavesOf(f.fields, prefix);
      case 'widget':
        return f.keys.map((k) => ({ path: pathOf(prefix, k), label: f.labels[k] ?? k, conversion: 'string' }));
      case 'list':
        return [{ path: pathOf(prefix, f.key), label: f.label, conversion: 'list', itemLabel: f.itemLabel }];
      case 'select':
        return [{ path: pathOf(prefix, f.key), label: f.label, conversion: f.value === 'number' ? 'select-number' : 'string' }];
      case 'text':
        return [{ path: pathOf(prefix, f.key), label: f.label, conversion: f.value ?? 'string' }];
      default: {
        const never: never = f;
        return never;
      }
    }
  });
}

/** Every value the form holds, in form order. */
const leaves: readonly Leaf[] = [
  ...leavesOf(storageFields, ''),
  ...leavesOf(adminFields, ''),
  ...hostnameModules.map((d): Leaf => ({ path: `hostnames.${d.id}`, label: d.hostname.label, conversion: 'string' })),
  ...moduleDeclarations.flatMap((d: ModuleDeclaration): Leaf[] => [
    { path: `${modulePrefix(d)}.enabled`, label: d.title, conversion: d.alwaysOn ? 'always-on' : 'switch' },
    ...leavesOf(d.fields, modulePrefix(d)),
  ]),
];

const labels = new Map(leaves.map((l) => [l.path, l.label]));
const lists = leaves.filter((l) => l.conversion === 'list');

const read = (o: unknown, path: string): unknown => path.split('.').reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), o);

function write(o: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let at = o;
  for (const k of keys.slice(0, -1)) {
    const next = at[k];
    at = (next && typeof next === 'object' ? next : (at[k] = {})) as Record<string, unknown>;
  }
  at[keys.at(-1) ?? ''] = value;
}

export function toDraft(s: StackSettings): Draft {
  const values: Record<string, DraftValue> = {};
  for (const l of leaves) {
    const v = read(s, l.path);
    if (l.conversion === 'list') values[l.path] = Array.isArray(v) ? v.map(String) : [];
    else if (l.conversion === 'switch' || l.conversion === 'always-on') values[l.path] = v === true;
    else values[l.path] = v === null || v === undefined ? '' : String(v);
  }
  return { values, imageOverrides: { ...s.imageOverrides } };
}

/**
 * An empty or non-numeric field becomes NaN, which the schema reports with the field's own message. Only decimal
 * digits count: Number() would quietly read "0x50" as 80 and "1e3" as 1000.
 */
const num = (s: string): number => (/^-?\d+$/.test(s.trim()) ? Number(s.trim()) : Number.NaN);

const text = (v: DraftValue | undefined): string => (typeof v === 'string' ? v : '');

function convert(l: Leaf, v: DraftValue | undefined): unknown {
  switch (l.conversion) {
    case 'string':
      return text(v);
    case 'number':
      return num(text(v));
    case 'number-or-null':
      return text(v).trim() === '' ? null : num(text(v));
    case 'string-or-null':
      return text(v).trim() === '' ? null : text(v);
    case 'select-number':
      return Number(text(v));
    case 'list':
      return Array.isArray(v) ? [...(v as readonly string[])] : [];
    case 'switch':
      return v === true;
    case 'always-on':
      return true;
    default: {
      const never: never = l.conversion;
      return never;
    }
  }
}

/** The settings the draft stands for, unchecked: the contract's schema checks them (here and again in main). */
export function fromDraft(d: Draft): unknown {
  const out: Record<string, unknown> = {};
  for (const l of leaves) write(out, l.path, convert(l, d.values[l.path]));
  out.imageOverrides = { ...d.imageOverrides };
  return out;
}

/** Where an issue is shown: per row of a list, otherwise on the field (a list shows its rows' errors). */
export function fieldOf(path: readonly PropertyKey[]): string {
  const p = path.map(String);
  if (p[0] === 'settings') p.shift();
  const joined = p.join('.');
  for (const l of lists) {
    if (joined.startsWith(`${l.path}.`)) return p.slice(0, l.path.split('.').length + 1).join('.');
  }
  if (p[0] === 'imageOverrides') return 'imageOverrides';
  return joined;
}

/** A list row's list and number (from 1), when the field is one. */
function rowOf(field: string): { list: Leaf; n: number } | undefined {
  for (const l of lists) {
    const m = field.startsWith(`${l.path}.`) ? /^(\d+)$/.exec(field.slice(l.path.length + 1)) : null;
    if (m) return { list: l, n: Number(m[1]) + 1 };
  }
  return undefined;
}

export function labelOf(field: string): string {
  const row = rowOf(field);
  if (row) return `${row.list.itemLabel ?? row.list.label} ${row.n}`;
  return labels.get(field) ?? field;
}

/** Schema messages already start with the field ("Jellyfin port: …"); generic ones get the label in front. */
export function named(field: string, message: string): string {
  // A list row's message names the kind of row ("Media folder: …"); the row's own label says which one.
  const row = rowOf(field);
  const itemPrefix = row?.list.itemLabel ? `${row.list.itemLabel}: ` : undefined;
  if (itemPrefix && message.startsWith(itemPrefix)) return `${labelOf(field)}: ${message.slice(itemPrefix.length)}`;
  return /^[A-Z][^:]{0,40}:/.test(message) ? message : `${labelOf(field)}: ${message}`;
}

export type Issues = ReadonlyMap<string, readonly string[]>;

export function collect(issues: readonly { path: readonly PropertyKey[]; message: string }[]): Issues {
  const out = new Map<string, string[]>();
  for (const i of issues) {
    const field = fieldOf(i.path);
    const list = out.get(field) ?? [];
    const msg = named(field, i.message);
    if (!list.includes(msg)) list.push(msg);
    out.set(field, list);
  }
  return out;
}
