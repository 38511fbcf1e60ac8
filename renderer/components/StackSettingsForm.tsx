import { useId, useRef, useState, type FormEvent, type ReactNode } from 'react';
import type { ErrorShape } from '../../electron/contract/errors';
import { hwAccelKinds, StackSettings, type HwAccel, type ModuleId, type StackSettingsView } from '../../electron/contract/stack';
import { asShape } from '../hooks/use-call';
import { call } from '../m2';
import { ErrorNotice } from './ErrorNotice';

/** What the admin is typing: numbers stay text until validation, so "" and "8o96" can be reported, not coerced. */
interface Draft {
  dataRoot: string;
  publishAddress: '0.0.0.0' | '127.0.0.1';
  uid: string;
  gid: string;
  timezone: string;
  adminEmail: string;
  hostnames: { jellyfin: string; nextcloud: string; authentik: string };
  jellyfin: { hwAccel: HwAccel; renderDevice: string; renderGid: string; lanPort: string; mediaPaths: string[] };
  nextcloud: { enabled: boolean; adminUser: string; lanPort: string };
  authentik: { enabled: boolean };
  cloudflared: { enabled: boolean; replicas: '1' | '2' };
  backup: { enabled: boolean; repository: string; time: string; keepDaily: string; keepWeekly: string; keepMonthly: string; warnAfterHours: string };
  wireguard: { enabled: boolean; port: string };
  mediaAutomation: { enabled: boolean; ingestPath: string };
  imageOverrides: Record<string, string>;
}

const toDraft = (s: StackSettings): Draft => ({
  dataRoot: s.dataRoot,
  publishAddress: s.publishAddress,
  uid: String(s.uid),
  gid: String(s.gid),
  timezone: s.timezone,
  adminEmail: s.adminEmail,
  hostnames: { ...s.hostnames },
  jellyfin: {
    hwAccel: s.modules.jellyfin.hwAccel,
    renderDevice: s.modules.jellyfin.renderDevice,
    renderGid: s.modules.jellyfin.renderGid === null ? '' : String(s.modules.jellyfin.renderGid),
    lanPort: String(s.modules.jellyfin.lanPort),
    mediaPaths: [...s.modules.jellyfin.mediaPaths],
  },
  nextcloud: { enabled: s.modules.nextcloud.enabled, adminUser: s.modules.nextcloud.adminUser, lanPort: String(s.modules.nextcloud.lanPort) },
  authentik: { ...s.modules.authentik },
  cloudflared: { enabled: s.modules.cloudflared.enabled, replicas: s.modules.cloudflared.replicas === 2 ? '2' : '1' },
  backup: {
    enabled: s.modules.backup.enabled,
    repository: s.modules.backup.repository,
    time: s.modules.backup.time,
    keepDaily: String(s.modules.backup.keepDaily),
    keepWeekly: String(s.modules.backup.keepWeekly),
    keepMonthly: String(s.modules.backup.keepMonthly),
    warnAfterHours: String(s.modules.backup.warnAfterHours),
  },
  wireguard: {
    enabled: s.modules.wireguard.enabled,
    port: String(s.modules.wireguard.port),
  },
  mediaAutomation: { ...s.modules.mediaAutomation },
  imageOverrides: { ...s.imageOverrides },
});

/**
 * An empty or non-numeric field becomes NaN, which the schema reports with the field's own message. Only decimal
 * digits count: Number() would quietly read "0x50" as 80 and "1e3" as 1000.
 */
const num = (s: string): number => (/^-?\d+$/.test(s.trim()) ? Number(s.trim()) : Number.NaN);

const fromDraft = (d: Draft): unknown => ({
  dataRoot: d.dataRoot,
  publishAddress: d.publishAddress,
  uid: num(d.uid),
  gid: num(d.gid),
  timezone: d.timezone,
  adminEmail: d.adminEmail,
  hostnames: d.hostnames,
  modules: {
    jellyfin: {
      enabled: true,
      hwAccel: d.jellyfin.hwAccel,
      renderDevice: d.jellyfin.renderDevice,
      renderGid: d.jellyfin.renderGid.trim() === '' ? null : num(d.jellyfin.renderGid),
      lanPort: num(d.jellyfin.lanPort),
      mediaPaths: d.jellyfin.mediaPaths,
    },
    nextcloud: { enabled: d.nextcloud.enabled, adminUser: d.nextcloud.adminUser, lanPort: num(d.nextcloud.lanPort) },
    authentik: d.authentik,
    cloudflared: { enabled: d.cloudflared.enabled, replicas: Number(d.cloudflared.replicas) },
    backup: {
      enabled: d.backup.enabled,
      repository: d.backup.repository,
      time: d.backup.time,
      keepDaily: num(d.backup.keepDaily),
      keepWeekly: num(d.backup.keepWeekly),
      keepMonthly: num(d.backup.keepMonthly),
      warnAfterHours: num(d.backup.warnAfterHours),
    },
    wireguard: {
      enabled: d.wireguard.enabled,
      port: num(d.wireguard.port),
    },
    mediaAutomation: d.mediaAutomation,
  },
  imageOverrides: d.imageOverrides,
});

/** Field paths as the schema names them (`modules.jellyfin.lanPort`), with the label each field shows. */
const LABELS: Record<string, string> = {
  dataRoot: 'Service data folder',
  publishAddress: 'Publish ports on',
  uid: 'User id',
  gid: 'Group id',
  timezone: 'Time zone',
  adminEmail: 'Admin email',
  'hostnames.jellyfin': 'Jellyfin host name',
  'hostnames.nextcloud': 'Nextcloud host name',
  'hostnames.authentik': 'Authentik host name',
  'modules.jellyfin.hwAccel': 'Hardware acceleration',
  'modules.jellyfin.renderDevice': 'GPU render device',
  'modules.jellyfin.renderGid': 'GPU render group id',
  'modules.jellyfin.lanPort': 'Jellyfin port',
  'modules.jellyfin.mediaPaths': 'Media folders',
  'modules.nextcloud.adminUser': 'Nextcloud admin user',
  'modules.nextcloud.lanPort': 'Nextcloud port (fallback)',
  'modules.cloudflared.replicas': 'Tunnel connectors',
  'modules.backup.repository': 'Backup repository folder',
  'modules.backup.time': 'Backup time',
  'modules.backup.keepDaily': 'Keep daily',
  'modules.backup.keepWeekly': 'Keep weekly',
  'modules.backup.keepMonthly': 'Keep monthly',
  'modules.backup.warnAfterHours': 'Warn after (hours without a good backup)',
  'modules.wireguard.port': 'WireGuard port',
  'modules.mediaAutomation.ingestPath': 'Ingest folder',
};

/** Where an issue is shown: per media folder row, otherwise on the field (a device list shows its items' errors). */
const fieldOf = (path: readonly PropertyKey[]): string => {
  const p = path.map(String);
  if (p[0] === 'settings') p.shift();
  if (p.join('.').startsWith('modules.jellyfin.mediaPaths.')) return p.slice(0, 4).join('.');
  if (p[0] === 'imageOverrides') return 'imageOverrides';
  return p.join('.');
};

const labelOf = (field: string): string => {
  const row = /^modules\.jellyfin\.mediaPaths\.(\d+)$/.exec(field);
  if (row) return `Media folder ${Number(row[1]) + 1}`;
  return LABELS[field] ?? field;
};

/** Schema messages already start with the field ("Jellyfin port: …"); generic ones get the label in front. */
const named = (field: string, message: string): string => {
  // A media folder's message names the list ("Media folder: …"); the row's own label says which one.
  if (/^modules\.jellyfin\.mediaPaths\.\d+$/.test(field) && message.startsWith('Media folder: ')) return `${labelOf(field)}: ${message.slice('Media folder: '.length)}`;
  return /^[A-Z][^:]{0,40}:/.test(message) ? message : `${labelOf(field)}: ${message}`;
};

type Issues = ReadonlyMap<string, readonly string[]>;

const collect = (issues: readonly { path: readonly PropertyKey[]; message: string }[]): Issues => {
  const out = new Map<string, string[]>();
  for (const i of issues) {
    const field = fieldOf(i.path);
    const list = out.get(field) ?? [];
    const msg = named(field, i.message);
    if (!list.includes(msg)) list.push(msg);
    out.set(field, list);
  }
  return out;
};

const MODULE_TITLES: Record<ModuleId, string> = {
  jellyfin: 'Jellyfin',
  nextcloud: 'Nextcloud',
  authentik: 'Authentik',
  cloudflared: 'Cloudflare Tunnel',
  backup: 'Backups',
  wireguard: 'WireGuard fallback',
  mediaAutomation: 'Media automation',
};
export const moduleTitle = (m: ModuleId): string => MODULE_TITLES[m];

const HW_LABELS: Record<HwAccel, string> = {
  nvidia: 'NVIDIA (NVENC)',
  'intel-qsv': 'Intel Quick Sync (QSV)',
  vaapi: 'Intel VA-API',
  'amd-vaapi': 'AMD VA-API',
  none: 'None (software transcoding)',
};
const needsRenderNode = (h: HwAccel): boolean => h === 'intel-qsv' || h === 'vaapi' || h === 'amd-vaapi';

/** One labelled control with its hint and its errors, tied together with aria-describedby. */
function Field(props: { id: string; label: string; hint?: ReactNode; errors: readonly string[] | undefined; children: (aria: FieldAria) => ReactNode }) {
  const errors = props.errors ?? [];
  const hintId = props.hint ? `${props.id}-hint` : undefined;
  const errorId = errors.length > 0 ? `${props.id}-error` : undefined;
  const describedBy = [errorId, hintId].filter(Boolean).join(' ') || undefined;
  return (
    <div className="field">
      <label htmlFor={props.id}>{props.label}</label>
      {props.children({ id: props.id, 'aria-invalid': errors.length > 0 ? true : undefined, 'aria-describedby': describedBy })}
      {errorId ? (
        <p id={errorId} className="field-error">
          {errors.join(' ')}
        </p>
      ) : null}
      {hintId ? (
        <p id={hintId} className="hint">
          {props.hint}
        </p>
      ) : null}
    </div>
  );
}
interface FieldAria {
  id: string;
  'aria-invalid': true | undefined;
  'aria-describedby': string | undefined;
}

/** A module's fieldset: its legend is the on/off switch, its fields show only while it is on. */
function ModuleSet(props: { module: ModuleId; enabled: boolean; onToggle?: (on: boolean) => void; description: string; children?: ReactNode }) {
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
          {MODULE_TITLES[props.module]}
        </label>
      </legend>
      <p id={descId} className="hint">
        {props.description}
      </p>
      {props.enabled ? props.children : null}
    </fieldset>
  );
}

/**
 * The stack settings of one server. Checked in the renderer with the contract's own schema, so each
 * message shows beside its field before anything is sent; main checks again when saving.
 */
export function StackSettingsForm({ profileId, view, onSaved }: { profileId: string; view: StackSettingsView; onSaved: (v: StackSettingsView) => void }) {
  const base = useId();
  const formRef = useRef<HTMLFormElement>(null);
  const [draft, setDraft] = useState<Draft>(() => toDraft(view.settings));
  const [issues, setIssues] = useState<Issues>(new Map());
  const [error, setError] = useState<ErrorShape | undefined>();
  const [busy, setBusy] = useState(false);
  const [savedAt, setSavedAt] = useState<Date | undefined>();

  const idOf = (field: string): string => `${base}-${field.replace(/\./g, '-')}`;
  const errs = (field: string) => issues.get(field);
  const set = (update: (d: Draft) => Draft) => {
    setDraft(update);
    setSavedAt(undefined);
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

  const text = (field: string, value: string, onChange: (v: string) => void, opts: { hint?: ReactNode; inputMode?: 'numeric' | 'email'; placeholder?: string } = {}) => (
    <Field id={idOf(field)} label={labelOf(field)} hint={opts.hint} errors={errs(field)}>
      {(aria) => (
        <input
          {...aria}
          value={value}
          onChange={(e) => onChange(e.target.value)}
          inputMode={opts.inputMode}
          placeholder={opts.placeholder}
          spellCheck={false}
          autoCapitalize="off"
        />
      )}
    </Field>
  );

  const j = draft.jellyfin;
  const suggestion = view.suggestions;
  const allIssues = [...issues.values()].flat();
  const mediaListErrors = errs('modules.jellyfin.mediaPaths');

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
        {text('dataRoot', draft.dataRoot, (v) => set((d) => ({ ...d, dataRoot: v })), {
          hint: 'Where service configs and databases live on the server. Never inside a release; another disk is fine.',
          placeholder: '/srv/m2',
        })}
        <Field id={idOf('publishAddress')} label={labelOf('publishAddress')} errors={errs('publishAddress')} hint="Where TV apps and phones at home reach Jellyfin directly.">
          {(aria) => (
            <select {...aria} value={draft.publishAddress} onChange={(e) => set((d) => ({ ...d, publishAddress: e.target.value as Draft['publishAddress'] }))}>
              <option value="0.0.0.0">The home network (every interface)</option>
              <option value="127.0.0.1">This server only</option>
            </select>
          )}
        </Field>
        <div className="field-row">
          {text('uid', draft.uid, (v) => set((d) => ({ ...d, uid: v })), { inputMode: 'numeric', hint: 'Your user on the server (id -u).' })}
          {text('gid', draft.gid, (v) => set((d) => ({ ...d, gid: v })), { inputMode: 'numeric', hint: 'Its group (id -g).' })}
        </div>
        {text('timezone', draft.timezone, (v) => set((d) => ({ ...d, timezone: v })), { placeholder: 'Europe/Berlin' })}
      </fieldset>

      <fieldset>
        <legend>Admin and host names</legend>
        {text('adminEmail', draft.adminEmail, (v) => set((d) => ({ ...d, adminEmail: v })), { inputMode: 'email', hint: 'Used for the admin accounts of Nextcloud and Authentik.' })}
        {(['jellyfin', 'nextcloud', 'authentik'] as const).map((h) => (
          <div key={h}>{text(`hostnames.${h}`, draft.hostnames[h], (v) => set((d) => ({ ...d, hostnames: { ...d.hostnames, [h]: v } })))}</div>
        ))}
      </fieldset>

      <h3>Modules</h3>
      <ModuleSet module="jellyfin" enabled description="Always on: your films, series and music, streamed at home and through the tunnel.">
        <Field
          id={idOf('modules.jellyfin.hwAccel')}
          label={labelOf('modules.jellyfin.hwAccel')}
          errors={errs('modules.jellyfin.hwAccel')}
          hint={suggestion ? `Detected on the server: ${HW_LABELS[suggestion.hwAccel]} — ${suggestion.reason}` : undefined}
        >
          {(aria) => (
            <select {...aria} value={j.hwAccel} onChange={(e) => set((d) => ({ ...d, jellyfin: { ...d.jellyfin, hwAccel: e.target.value as HwAccel } }))}>
              {hwAccelKinds.map((k) => (
                <option key={k} value={k}>
                  {HW_LABELS[k]}
                  {suggestion?.hwAccel === k ? ' (suggested)' : ''}
                </option>
              ))}
            </select>
          )}
        </Field>
        {suggestion && (suggestion.hwAccel !== j.hwAccel || (suggestion.renderGid !== null && String(suggestion.renderGid) !== j.renderGid)) ? (
          <button
            type="button"
            className="secondary"
            onClick={() =>
              set((d) => ({
                ...d,
                jellyfin: {
                  ...d.jellyfin,
                  hwAccel: suggestion.hwAccel,
                  renderDevice: suggestion.renderDevice ?? d.jellyfin.renderDevice,
                  renderGid: suggestion.renderGid === null ? d.jellyfin.renderGid : String(suggestion.renderGid),
                },
              }))
            }
          >
            Use the detected settings
          </button>
        ) : null}
        {needsRenderNode(j.hwAccel) ? (
          <div className="field-row">
            {text('modules.jellyfin.renderDevice', j.renderDevice, (v) => set((d) => ({ ...d, jellyfin: { ...d.jellyfin, renderDevice: v } })), {
              placeholder: '/dev/dri/renderD128',
            })}
            {text('modules.jellyfin.renderGid', j.renderGid, (v) => set((d) => ({ ...d, jellyfin: { ...d.jellyfin, renderGid: v } })), {
              inputMode: 'numeric',
              hint: 'getent group render',
            })}
          </div>
        ) : null}
        {text('modules.jellyfin.lanPort', j.lanPort, (v) => set((d) => ({ ...d, jellyfin: { ...d.jellyfin, lanPort: v } })), { inputMode: 'numeric' })}
        <div role="group" aria-label="Media folders" className="media-folders">
          <p className="group-title">Media folders</p>
          <p className="hint">Mounted read-only: Jellyfin can play them but never change them.</p>
          {j.mediaPaths.length === 0 ? <p className="muted">No media folders yet.</p> : null}
          {j.mediaPaths.map((p, i) => {
            const field = `modules.jellyfin.mediaPaths.${i}`;
            return (
              <div className="media-row" key={i}>
                {text(field, p, (v) => set((d) => ({ ...d, jellyfin: { ...d.jellyfin, mediaPaths: d.jellyfin.mediaPaths.map((x, k) => (k === i ? v : x)) } })), {
                  placeholder: '/srv/media/films',
                })}
                <button
                  type="button"
                  className="secondary"
                  aria-label={`Remove media folder ${i + 1}`}
                  onClick={() => set((d) => ({ ...d, jellyfin: { ...d.jellyfin, mediaPaths: d.jellyfin.mediaPaths.filter((_, k) => k !== i) } }))}
                >
                  Remove
                </button>
              </div>
            );
          })}
          {mediaListErrors ? <p className="field-error">{mediaListErrors.join(' ')}</p> : null}
          <button type="button" className="secondary" onClick={() => set((d) => ({ ...d, jellyfin: { ...d.jellyfin, mediaPaths: [...d.jellyfin.mediaPaths, ''] } }))}>
            Add a media folder
          </button>
        </div>
      </ModuleSet>

      <ModuleSet
        module="nextcloud"
        enabled={draft.nextcloud.enabled}
        onToggle={(on) => set((d) => ({ ...d, nextcloud: { ...d.nextcloud, enabled: on } }))}
        description="Files, calendars and contacts, with Postgres, Redis and cron; sign-in through Authentik."
      >
        {text('modules.nextcloud.adminUser', draft.nextcloud.adminUser, (v) => set((d) => ({ ...d, nextcloud: { ...d.nextcloud, adminUser: v } })))}
        {draft.wireguard.enabled
          ? text('modules.nextcloud.lanPort', draft.nextcloud.lanPort, (v) => set((d) => ({ ...d, nextcloud: { ...d.nextcloud, lanPort: v } })), {
              inputMode: 'numeric',
              hint: 'With the WireGuard fallback, the household reaches Nextcloud on this port at the tunnel address while Cloudflare is down.',
            })
          : null}
      </ModuleSet>

      <ModuleSet
        module="authentik"
        enabled={draft.authentik.enabled}
        onToggle={(on) => set((d) => ({ ...d, authentik: { enabled: on } }))}
        description="Single sign-on for the household: one account for every service."
      />

      <ModuleSet
        module="cloudflared"
        enabled={draft.cloudflared.enabled}
        onToggle={(on) => set((d) => ({ ...d, cloudflared: { ...d.cloudflared, enabled: on } }))}
        description="Publishes the services through Cloudflare without opening a port on your router."
      >
        <Field id={idOf('modules.cloudflared.replicas')} label={labelOf('modules.cloudflared.replicas')} errors={errs('modules.cloudflared.replicas')} hint="Two connectors keep the tunnel up while one restarts.">
          {(aria) => (
            <select {...aria} value={draft.cloudflared.replicas} onChange={(e) => set((d) => ({ ...d, cloudflared: { ...d.cloudflared, replicas: e.target.value === '2' ? '2' : '1' } }))}>
              <option value="1">1 connector</option>
              <option value="2">2 connectors (high availability)</option>
            </select>
          )}
        </Field>
      </ModuleSet>

      <ModuleSet
        module="backup"
        enabled={draft.backup.enabled}
        onToggle={(on) => set((d) => ({ ...d, backup: { ...d.backup, enabled: on } }))}
        description="restic snapshots of Nextcloud data, database dumps and service settings, every day."
      >
        {text('modules.backup.repository', draft.backup.repository, (v) => set((d) => ({ ...d, backup: { ...d.backup, repository: v } })), {
          hint: 'Another disk is best.',
          placeholder: '/srv/m2-backup/restic',
        })}
        {text('modules.backup.time', draft.backup.time, (v) => set((d) => ({ ...d, backup: { ...d.backup, time: v } })), { hint: '24-hour, server time.', placeholder: '03:30' })}
        <div className="field-row">
          {text('modules.backup.keepDaily', draft.backup.keepDaily, (v) => set((d) => ({ ...d, backup: { ...d.backup, keepDaily: v } })), { inputMode: 'numeric' })}
          {text('modules.backup.keepWeekly', draft.backup.keepWeekly, (v) => set((d) => ({ ...d, backup: { ...d.backup, keepWeekly: v } })), { inputMode: 'numeric' })}
          {text('modules.backup.keepMonthly', draft.backup.keepMonthly, (v) => set((d) => ({ ...d, backup: { ...d.backup, keepMonthly: v } })), { inputMode: 'numeric' })}
        </div>
        {text('modules.backup.warnAfterHours', draft.backup.warnAfterHours, (v) => set((d) => ({ ...d, backup: { ...d.backup, warnAfterHours: v } })), {
          inputMode: 'numeric',
          hint: 'The Dashboard and a notification warn when the last good backup is older than this.',
        })}
      </ModuleSet>

      <ModuleSet
        module="wireguard"
        enabled={draft.wireguard.enabled}
        onToggle={(on) => set((d) => ({ ...d, wireguard: { ...d.wireguard, enabled: on } }))}
        description="The way in when Cloudflare is down: a WireGuard endpoint for this laptop and the household's devices, closed until you turn on the fallback."
      >
        {text('modules.wireguard.port', draft.wireguard.port, (v) => set((d) => ({ ...d, wireguard: { ...d.wireguard, port: v } })), {
          inputMode: 'numeric',
          hint: 'UDP port the endpoint opens while the fallback is on. Devices and the public name are set on the Fallback page.',
        })}
      </ModuleSet>

      <ModuleSet
        module="mediaAutomation"
        enabled={draft.mediaAutomation.enabled}
        onToggle={(on) => set((d) => ({ ...d, mediaAutomation: { ...d.mediaAutomation, enabled: on } }))}
        description="Sonarr, Radarr and qBittorrent on an isolated network, writing to an ingest folder Jellyfin reads."
      >
        {text('modules.mediaAutomation.ingestPath', draft.mediaAutomation.ingestPath, (v) => set((d) => ({ ...d, mediaAutomation: { ...d.mediaAutomation, ingestPath: v } })), {
          placeholder: '/srv/m2-ingest',
        })}
      </ModuleSet>

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
