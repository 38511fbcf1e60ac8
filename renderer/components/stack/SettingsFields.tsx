import { useId, type ReactNode } from 'react';
import type { StackSettingsView } from '../../../electron/contract/stack';
import type { FormField, ListField, ModuleDeclaration, SelectField, TextField } from '../../../electron/contract/stack-modules';
import { Field } from '../common/Field';
import { HwAccelField } from './HwAccelField';
import { labelOf, pathOf, type DraftValue } from './stack-settings-draft';

/** What every field needs from the form: the current values, a way to change them, ids and errors by settings path. */
export interface FieldContext {
  readonly value: (path: string) => DraftValue | undefined;
  /** Sets values by settings path; given a function, from the form's latest values (several changes in one event). */
  readonly change: (values: Readonly<Record<string, DraftValue>> | ((value: (path: string) => DraftValue | undefined) => Readonly<Record<string, DraftValue>>)) => void;
  readonly idOf: (path: string) => string;
  readonly errors: (path: string) => readonly string[] | undefined;
  readonly suggestion: StackSettingsView['suggestions'];
}

const asText = (v: DraftValue | undefined): string => (typeof v === 'string' ? v : '');
const asList = (v: DraftValue | undefined): readonly string[] => (Array.isArray(v) ? (v as readonly string[]) : []);

/** A text box for the setting at `path`. */
export function TextInput({ path, field, ctx }: { path: string; field: Pick<TextField, 'hint' | 'placeholder' | 'inputMode'>; ctx: FieldContext }) {
  return (
    <Field id={ctx.idOf(path)} label={labelOf(path)} hint={field.hint} errors={ctx.errors(path)}>
      {(aria) => (
        <input
          {...aria}
          value={asText(ctx.value(path))}
          onChange={(e) => ctx.change({ [path]: e.target.value })}
          inputMode={field.inputMode}
          placeholder={field.placeholder}
          spellCheck={false}
          autoCapitalize="off"
        />
      )}
    </Field>
  );
}

function SelectInput({ path, field, ctx }: { path: string; field: SelectField; ctx: FieldContext }) {
  return (
    <Field id={ctx.idOf(path)} label={labelOf(path)} errors={ctx.errors(path)} hint={field.hint}>
      {(aria) => (
        <select {...aria} value={asText(ctx.value(path))} onChange={(e) => ctx.change({ [path]: e.target.value })}>
          {field.options.map((o) => (
            <option key={o.value} value={o.value}>
              {o.label}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}

/** A list of text rows (media folders), each removable, with an Add button; the list's own errors under it. */
function ListInput({ path, field, ctx }: { path: string; field: ListField; ctx: FieldContext }) {
  const rows = asList(ctx.value(path));
  const listErrors = ctx.errors(path);
  return (
    <div role="group" aria-label={field.label} className="media-folders">
      <p className="group-title">{field.label}</p>
      <p className="hint">{field.hint}</p>
      {rows.length === 0 ? <p className="muted">{field.empty}</p> : null}
      {rows.map((_, i) => (
        <div className="media-row" key={i}>
          <ListRow path={`${path}.${i}`} index={i} listPath={path} field={field} ctx={ctx} />
          <button
            type="button"
            className="secondary"
            aria-label={`Remove ${field.itemLabel.toLowerCase()} ${i + 1}`}
            onClick={() => ctx.change((v) => ({ [path]: asList(v(path)).filter((_, k) => k !== i) }))}
          >
            Remove
          </button>
        </div>
      ))}
      {listErrors ? <p className="field-error">{listErrors.join(' ')}</p> : null}
      <button type="button" className="secondary" onClick={() => ctx.change((v) => ({ [path]: [...asList(v(path)), ''] }))}>
        {field.add}
      </button>
    </div>
  );
}

/** One row of a list: a text box whose value lives at `listPath[index]`. */
function ListRow({ path, index, listPath, field, ctx }: { path: string; index: number; listPath: string; field: ListField; ctx: FieldContext }) {
  const rowCtx: FieldContext = {
    ...ctx,
    value: () => asList(ctx.value(listPath))[index] ?? '',
    change: (values) =>
      ctx.change((v) => {
        const typed = typeof values === 'function' ? values(v) : values;
        return { [listPath]: asList(v(listPath)).map((x, k) => (k === index ? asText(typed[path]) : x)) };
      }),
  };
  return <TextInput path={path} field={{ placeholder: field.placeholder }} ctx={rowCtx} />;
}

/** A declared field, drawn under the settings `prefix` (`modules.jellyfin`, or '' for stack-wide settings). */
export function FormFieldView({ field, prefix, ctx }: { field: FormField; prefix: string; ctx: FieldContext }) {
  if (field.when && !field.when((p) => ctx.value(p))) return null;
  switch (field.kind) {
    case 'text':
      return <TextInput path={pathOf(prefix, field.key)} field={field} ctx={ctx} />;
    case 'select':
      return <SelectInput path={pathOf(prefix, field.key)} field={field} ctx={ctx} />;
    case 'list':
      return <ListInput path={pathOf(prefix, field.key)} field={field} ctx={ctx} />;
    case 'row':
      return (
        <div className="field-row">
          <FormFields fields={field.fields} prefix={prefix} ctx={ctx} />
        </div>
      );
    case 'widget':
      switch (field.widget) {
        case 'hw-accel':
          return <HwAccelField prefix={prefix} ctx={ctx} />;
        default: {
          const never: never = field.widget;
          return never;
        }
      }
    default: {
      const never: never = field;
      return never;
    }
  }
}

export function FormFields({ fields, prefix, ctx }: { fields: readonly FormField[]; prefix: string; ctx: FieldContext }) {
  return (
    <>
      {fields.map((f, i) => (
        <FormFieldView key={f.kind === 'row' || f.kind === 'widget' ? `${f.kind}-${i}` : f.key} field={f} prefix={prefix} ctx={ctx} />
      ))}
    </>
  );
}

/** A module's fieldset: its legend is the on/off switch, its fields show only while it is on. */
export function ModuleSet(props: { module: ModuleDeclaration; enabled: boolean; onToggle?: (on: boolean) => void; children?: ReactNode }) {
  const descId = useId();
  return (
    <fieldset className="module">
      <legend>
        <label className="switch-label">
          <input
            type="checkbox"
            role="switch"
            checked={props.enabled}
            disabled={!props.onToggle}
            aria-describedby={descId}
            onChange={(e) => props.onToggle?.(e.target.checked)}
          />
          {props.module.title}
        </label>
      </legend>
      <p id={descId} className="hint">
        {props.module.description}
      </p>
      {props.enabled ? props.children : null}
    </fieldset>
  );
}
