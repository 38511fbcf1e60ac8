import { hwAccelKinds, hwAccelLabels, type HwAccel } from '../../../electron/contract/stack-modules/jellyfin';
import { Field } from '../common/Field';
import type { FieldContext } from './SettingsFields';
import { labelOf } from './stack-settings-draft';

/**
 * Jellyfin's hardware acceleration, with what detection on the server suggests: the suggested method is marked,
 * the reason is the hint, and one button takes the detected method, render node and group at once.
 */
export function HwAccelField({ prefix, ctx }: { prefix: string; ctx: FieldContext }) {
  const path = `${prefix}.hwAccel`;
  const devicePath = `${prefix}.renderDevice`;
  const gidPath = `${prefix}.renderGid`;
  const suggestion = ctx.suggestion;
  const hwAccel = ctx.value(path);
  const renderGid = ctx.value(gidPath);
  return (
    <>
      <Field
        id={ctx.idOf(path)}
        label={labelOf(path)}
        errors={ctx.errors(path)}
        hint={suggestion ? `Detected on the server: ${hwAccelLabels[suggestion.hwAccel]} — ${suggestion.reason}` : undefined}
      >
        {(aria) => (
          <select {...aria} value={typeof hwAccel === 'string' ? hwAccel : 'none'} onChange={(e) => ctx.change({ [path]: e.target.value as HwAccel })}>
            {hwAccelKinds.map((k) => (
              <option key={k} value={k}>
                {hwAccelLabels[k]}
                {suggestion?.hwAccel === k ? ' (suggested)' : ''}
              </option>
            ))}
          </select>
        )}
      </Field>
      {suggestion && (suggestion.hwAccel !== hwAccel || (suggestion.renderGid !== null && String(suggestion.renderGid) !== renderGid)) ? (
        <button
          type="button"
          className="secondary"
          onClick={() =>
            ctx.change((v) => ({
              [path]: suggestion.hwAccel,
              [devicePath]: suggestion.renderDevice ?? v(devicePath) ?? '',
              [gidPath]: suggestion.renderGid === null ? (v(gidPath) ?? '') : String(suggestion.renderGid),
            }))
          }
        >
          Use the detected settings
        </button>
      ) : null}
    </>
  );
}
