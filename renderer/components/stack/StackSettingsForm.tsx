import { useId, useRef, useState, type FormEvent } from 'react';
import type { ErrorShape } from '../../../electron/contract/errors';
import { StackSettings, type StackSettingsView } from '../../../electron/contract/stack';
import { hostnameModules, moduleDeclarations } from '../../../electron/contract/stack-modules';
import { adminFields, storageFields } from '../../../electron/contract/stack-modules/stack-wide';
import { asShape } from '../../hooks/use-call';
import { call } from '../../m2';
import { ErrorNotice } from '../common/ErrorNotice';
import { FormFields, ModuleSet, TextInput, type FieldContext } from './SettingsFields';
import { collect, fieldOf, fromDraft, modulePrefix, toDraft, type Draft, type DraftValue, type Issues } from './stack-settings-draft';

/**
 * The stack settings of one server, drawn from the module declarations (electron/contract/stack-modules). Checked
 * in the renderer with the contract's own schema, so each message shows beside its field before anything is sent;
 * main checks again when saving.
 */
export function StackSettingsForm({ profileId, view, onSaved }: { profileId: string; view: StackSettingsView; onSaved: (v: StackSettingsView) => void }) {
  const base = useId();
  const formRef = useRef<HTMLFormElement>(null);
  const [draft, setDraft] = useState<Draft>(() => toDraft(view.settings));
  const [issues, setIssues] = useState<Issues>(new Map());
  const [error, setError] = useState<ErrorShape | undefined>();
  const [busy, setBusy] = useState(false);
  const [savedAt, setSavedAt] = useState<Date | undefined>();

  const ctx: FieldContext = {
    value: (path) => draft.values[path],
    change: (values) => {
      setDraft((d) => ({ ...d, values: { ...d.values, ...(typeof values === 'function' ? values((path) => d.values[path]) : values) } }));
      setSavedAt(undefined);
    },
    idOf: (path) => `${base}-${path.replace(/\./g, '-')}`,
    errors: (path) => issues.get(path),
    suggestion: view.suggestions,
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    setSavedAt(undefined);
    const parsed = StackSettings.safeParse(fromDraft(draft));
    if (!parsed.success) {
      setIssues(collect(parsed.error.issues));
      // Focus the first field at fault so keyboard and screen-reader users land on it.
      requestAnimationFrame(() => formRef.current?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus());
      return;
    }
    setIssues(new Map());
    setBusy(true);
    try {
      const saved = await call('stack:save-settings', { profileId, settings: parsed.data });
      setDraft(toDraft(saved.settings));
      setSavedAt(new Date());
      onSaved(saved);
    } catch (err) {
      const shape = asShape(err);
      setError(shape);
      if (shape.field) setIssues(new Map([[fieldOf(shape.field.split('.')), [shape.userMessage]]]));
    } finally {
      setBusy(false);
    }
  };

  const allIssues = [...issues.values()].flat();

  return (
    <form ref={formRef} className="settings-form" aria-label="Stack settings" noValidate onSubmit={(e) => void submit(e)}>
      {!view.saved ? <p className="muted">These are the defaults; nothing is saved for this server yet.</p> : null}
      {allIssues.length > 0 ? (
        <div role="alert" className="notice notice-error">
          <strong>
            {/* Settings, not messages: one field can have two (too long, and not an address). */}
            {issues.size === 1 ? 'One setting needs fixing' : `${issues.size} settings need fixing`} before they can be saved. Nothing was saved.
          </strong>
          <ul>
            {allIssues.map((m) => (
              <li key={m}>{m}</li>
            ))}
          </ul>
        </div>
      ) : null}

      <fieldset>
        <legend>Storage and network</legend>
        <FormFields fields={storageFields} prefix="" ctx={ctx} />
      </fieldset>

      <fieldset>
        <legend>Admin and host names</legend>
        <FormFields fields={adminFields} prefix="" ctx={ctx} />
        {hostnameModules.map((d) => (
          <div key={d.id}>
            <TextInput path={`hostnames.${d.id}`} field={{}} ctx={ctx} />
          </div>
        ))}
      </fieldset>

      <h3>Modules</h3>
      {moduleDeclarations.map((d) => {
        const switchPath = `${modulePrefix(d)}.enabled`;
        const on: DraftValue | undefined = draft.values[switchPath];
        return (
          <ModuleSet key={d.id} module={d} enabled={'alwaysOn' in d || on === true} {...('alwaysOn' in d ? {} : { onToggle: (v: boolean) => ctx.change({ [switchPath]: v }) })}>
            <FormFields fields={d.fields} prefix={modulePrefix(d)} ctx={ctx} />
          </ModuleSet>
        );
      })}

      {error ? <ErrorNotice error={error} /> : null}
      <div className="actions">
        <button type="submit" disabled={busy}>
          {busy ? 'Saving…' : 'Save settings'}
        </button>
        <p role="status" className="saved-note">
          {savedAt ? 'Saved.' : ''}
        </p>
      </div>
    </form>
  );
}
