import { useCallback, useEffect, useId, useRef, useState } from 'react';
import { describeMapping, type DeviceConfig, type FallbackDevice, type FallbackProgress, type FallbackView, type OutageKind, type OutageState } from '../../../electron/contract/fallback';
import type { ErrorShape } from '../../../electron/contract/errors';
import { asShape } from '../../hooks/use-call';
import { useEvent } from '../../hooks/use-event';
import { call } from '../../m2';
import { ErrorNotice } from '../common/ErrorNotice';
import { ModalDialog } from '../common/ModalDialog';

/** The outage state as a person reads it: a word, a sentence, never colour alone. */
export const outageWords: Readonly<Record<OutageKind, { title: string; icon: string; tone: 'ok' | 'warning' | 'error' | 'unknown' }>> = {
  healthy: { title: 'Cloudflare path is healthy', icon: '✓', tone: 'ok' },
  'tunnel-broken': { title: 'The tunnel is broken', icon: '!', tone: 'error' },
  'cloudflare-outage': { title: 'Cloudflare is down', icon: '✕', tone: 'error' },
  'home-offline': { title: 'Home is offline', icon: '✕', tone: 'error' },
  unknown: { title: 'Not known yet', icon: '?', tone: 'unknown' },
};

const bytes = (n: number | null): string => (n === null ? '—' : n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 ** 2).toFixed(1)} MiB`);
const ago = (iso: string | null, now: number): string => {
  if (!iso) return 'never';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  return s < 90 ? `${s} s ago` : s < 5400 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`;
};

function OutageBanner({ outage }: { outage: OutageState | null }) {
  if (!outage) return <p className="muted">The Cloudflare path has not been checked yet: it is checked while live status watches this server.</p>;
  const w = outageWords[outage.kind];
  return (
    <div className={`notice notice-${w.tone === 'ok' ? 'ok' : w.tone === 'error' ? 'error' : 'warning'}`} role="status" aria-label="Cloudflare path">
      <strong>
        <span aria-hidden="true">{w.icon} </span>
        {w.title}
      </strong>
      <p>{outage.reason}</p>
      {outage.evidence.length > 0 ? (
        <ul aria-label="Evidence">
          {outage.evidence.map((e) => (
            <li key={e}>{e}</li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

function DeviceRow({ d, now, onShow, onRevoke, busy }: { d: FallbackDevice; now: number; onShow: () => void; onRevoke: () => void; busy: boolean }) {
  return (
    <tr>
      <th scope="row">{d.name}</th>
      <td>{d.address}</td>
      <td>{ago(d.lastHandshake, now)}</td>
      <td>
        {bytes(d.rxBytes)} in / {bytes(d.txBytes)} out
      </td>
      <td>
        {d.kind === 'household' ? (
          <>
            <button type="button" className="secondary" disabled={busy} onClick={onShow} aria-label={`Show config of ${d.name}`}>
              Show config
            </button>{' '}
            <button type="button" className="secondary" disabled={busy} onClick={onRevoke} aria-label={`Revoke ${d.name}`}>
              Revoke
            </button>
          </>
        ) : (
          <span className="muted">this computer</span>
        )}
      </td>
    </tr>
  );
}

/** During the fallback: whether devices reach the home network, and what the tunnel does not carry, in words. */
function TunnelReach({ view }: { view: FallbackView }) {
  return (
    <>
      <p aria-label="Home network through the tunnel">
        {view.settings.allowLan
          ? `Devices also reach your home network (${view.settings.lanCidr}) through the server.`
          : 'Devices reach the server and these services only, not the rest of your home network.'}
      </p>
      {view.lanWarning ? (
        <p role="note" className="notice notice-warning">
          {view.lanWarning}
        </p>
      ) : null}
      {view.unavailable.length > 0 ? (
        <>
          <h3>Not available until Cloudflare is back</h3>
          <ul aria-label="Not over the tunnel">
            {view.unavailable.map((u) => (
              <li key={u.service}>
                <strong>{u.service}:</strong> {u.reason}
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </>
  );
}

function FieldError({ id, error }: { id: string; error: ErrorShape | undefined }) {
  if (!error) return null;
  return (
    <p id={id} role="alert" className="field-error">
      {error.userMessage} {error.hint && !error.hint.startsWith('Correct the highlighted field') ? error.hint : ''}
    </p>
  );
}

/** Remote access → Outage fallback: the state, the switch, household devices and this computer's tunnel. */
export function FallbackPanel({ profileId }: { profileId: string }) {
  const id = useId();
  const [view, setView] = useState<FallbackView | undefined>();
  const [error, setError] = useState<ErrorShape | undefined>();
  const [busy, setBusy] = useState(false);
  const [steps, setSteps] = useState<FallbackProgress[]>([]);
  const [name, setName] = useState('');
  const [nameError, setNameError] = useState<ErrorShape | undefined>();
  const [shown, setShown] = useState<DeviceConfig | undefined>();
  const [confirmRevoke, setConfirmRevoke] = useState<FallbackDevice | undefined>();
  const [endpointName, setEndpointName] = useState('');
  const [sshAddress, setSshAddress] = useState('');
  const [autoSwitch, setAutoSwitch] = useState(false);
  const [allowLan, setAllowLan] = useState(false);
  const [lanCidr, setLanCidr] = useState('');
  const [settingsError, setSettingsError] = useState<ErrorShape | undefined>();
  const [now, setNow] = useState(() => Date.now());

  const adopt = useCallback((v: FallbackView) => {
    setView(v);
    setEndpointName(v.settings.endpointName);
    setSshAddress(v.settings.sshAddress);
    setAutoSwitch(v.settings.autoSwitch);
    setAllowLan(v.settings.allowLan);
    setLanCidr(v.settings.lanCidr);
  }, []);

  // The page keys this panel by server, so a new server is a new panel with nothing stale in it.
  useEffect(() => {
    call('fallback:view', { profileId }).then(adopt, (e: unknown) => setError(asShape(e)));
    const t = setInterval(() => setNow(Date.now()), 5_000);
    return () => clearInterval(t);
  }, [profileId, adopt]);

  useEvent(
    'fallback:changed',
    useCallback((v: FallbackView) => v.profileId === profileId && setView(v), [profileId]),
  );
  useEvent(
    'fallback:progress',
    useCallback((p: FallbackProgress) => p.profileId === profileId && setSteps((s) => [...s.filter((x) => !(x.step === p.step && p.state !== 'running')), p]), [profileId]),
  );

  const run = async (fn: () => Promise<void>, onError: (e: ErrorShape) => void = setError): Promise<void> => {
    setBusy(true);
    setError(undefined);
    try {
      await fn();
    } catch (e) {
      onError(asShape(e));
      call('fallback:view', { profileId }).then(setView, () => undefined);
    } finally {
      setBusy(false);
    }
  };

  const flip = (on: boolean) =>
    run(async () => {
      setSteps([]);
      setView(await call('fallback:switch', { profileId, on }));
    });
  const add = () =>
    run(
      async () => {
        setNameError(undefined);
        setView(await call('fallback:add-device', { profileId, name }));
        setName('');
      },
      (e) => (e.field === 'name' || e.code === 'ipc.invalid' || e.code === 'fallback.duplicate' ? setNameError(e) : setError(e)),
    );
  const show = (d: FallbackDevice) => run(async () => setShown(await call('fallback:device-config', { profileId, deviceId: d.id })));
  const revoke = (d: FallbackDevice) =>
    run(async () => {
      setConfirmRevoke(undefined);
      if (shown?.deviceId === d.id) setShown(undefined);
      setView(await call('fallback:revoke-device', { profileId, deviceId: d.id }));
    });
  const laptop = (up: boolean) => run(async () => setView(await call('fallback:laptop-tunnel', { profileId, up })));
  const saveSettings = () =>
    run(
      async () => {
        if (!view) return;
        setSettingsError(undefined);
        adopt(await call('fallback:save-settings', { profileId, settings: { ...view.settings, endpointName, sshAddress, autoSwitch, allowLan, lanCidr } }));
      },
      setSettingsError,
    );

  if (!view) return error ? <ErrorNotice error={error} /> : <p className="muted">Loading the outage fallback…</p>;
  /** Which settings field an error is about, from the field it names (validation names the path, the service its field). */
  const named = settingsError?.field?.split('.').at(-1) ?? (settingsError?.userMessage.startsWith('Endpoint name') ? 'endpointName' : undefined);
  const settingsField = named === 'endpointName' || named === 'sshAddress' || named === 'lanCidr' ? named : named === 'allowLan' ? 'lanCidr' : undefined;
  const mode = view.mode;
  const on = mode.kind === 'on';
  const households = view.devices.filter((d) => d.kind === 'household');
  const outageNow = view.outage && view.outage.kind !== 'healthy' && view.outage.kind !== 'unknown';
  const stepList = steps.filter((s, i, all) => all.findLastIndex((x) => x.step === s.step) === i);

  return (
    <div className="stack">
      <section className="card" aria-labelledby={`${id}-outage`}>
        <h2 id={`${id}-outage`}>Outage fallback</h2>
        <OutageBanner outage={view.outage} />
        {!view.ready ? (
          <div className="notice notice-warning" role="note">
            <strong>The fallback is not ready on this server.</strong>
            <p>{view.notReadyReason}</p>
          </div>
        ) : null}

        <p aria-live="polite" aria-label="Fallback state">
          {mode.kind === 'off' ? <strong>Fallback off: no WireGuard port is open at home.</strong> : null}
          {mode.kind === 'on' ? (
            <strong>
              Fallback on: {households.length} {households.length === 1 ? 'device' : 'devices'} can connect, and this computer.
            </strong>
          ) : null}
          {mode.kind === 'switching' ? <strong>Switching the fallback {mode.to}: {mode.step}…</strong> : null}
          {mode.kind === 'failed' ? (
            <strong>
              Switching {mode.to} failed: {mode.reason}
            </strong>
          ) : null}
        </p>
        {mode.kind === 'failed' ? <p>{mode.hint}</p> : null}
        {mode.kind === 'on' ? <p className="muted">{describeMapping(mode.mapping)}</p> : null}
        {mode.kind === 'on' ? (
          <p aria-label="Port check" className={view.endpoint.reachedFromOutside ? '' : 'muted'}>
            {view.endpoint.reachedFromOutside
              ? `✓ Checked from the server: ${view.endpoint.reachedFromOutside.device} reached home from outside (${view.endpoint.reachedFromOutside.from}), ${ago(view.endpoint.reachedFromOutside.at, now)}.`
              : `Not checked yet: connect a device away from the home Wi-Fi (a phone on mobile data). The server sees its first connection and this line confirms that UDP port ${view.endpoint.port} reaches home.`}
          </p>
        ) : null}
        {on && view.outage?.kind === 'healthy' ? (
          <div className="notice notice-ok" role="status" aria-label="Cloudflare is back">
            <strong>Cloudflare is healthy again.</strong>
            <p>The household can use the usual addresses. Switch the fallback off to close the WireGuard port.</p>
          </div>
        ) : null}

        <div className="row">
          {!on ? (
            <button type="button" disabled={busy || !view.ready || mode.kind === 'switching'} onClick={() => void flip(true)} className={outageNow ? '' : 'secondary'}>
              Turn the fallback on
            </button>
          ) : (
            <button type="button" disabled={busy || mode.kind !== 'on'} onClick={() => void flip(false)}>
              {view.outage?.kind === 'healthy' ? 'Switch back: turn the fallback off' : 'Turn the fallback off'}
            </button>
          )}
          {mode.kind === 'failed' && mode.to === 'off' ? (
            <button type="button" disabled={busy} onClick={() => void flip(false)}>
              Turn the fallback off again
            </button>
          ) : null}
        </div>
        {stepList.length > 0 ? (
          <ol aria-label="Switch progress" className="checklist">
            {stepList.map((s) => (
              <li key={s.step}>
                <span aria-hidden="true">{s.state === 'done' ? '✓ ' : s.state === 'failed' ? '✕ ' : s.state === 'skipped' ? '– ' : '… '}</span>
                {s.step}: {s.state === 'running' ? 'running' : s.state} — {s.detail}
              </li>
            ))}
          </ol>
        ) : null}
        {error ? <ErrorNotice error={error} /> : null}
        {on ? (
          <>
            <h3>Where things answer during the fallback</h3>
            <ul aria-label="Fallback addresses">
              {view.services.map((s) => (
                <li key={s.service}>
                  {s.service}: <code>{s.url}</code>
                </li>
              ))}
              <li>
                Endpoint devices connect to:{' '}
                <code>
                  {view.endpoint.name ?? view.endpoint.lastKnownIp ?? 'unknown'}:{view.endpoint.port}
                </code>
              </li>
            </ul>
            {view.endpoint.warning ? <p role="note">{view.endpoint.warning}</p> : null}
            <TunnelReach view={view} />
          </>
        ) : null}
      </section>

      <section className="card" aria-labelledby={`${id}-devices`}>
        <h2 id={`${id}-devices`}>Household devices</h2>
        <p className="muted">
          Each device gets its own key, made on this computer; private keys stay in this computer’s keychain.{' '}
          {view.settings.allowLan ? `Devices reach the server and your home network (${view.settings.lanCidr}).` : 'Devices reach the server only.'}
        </p>
        {view.devices.length > 0 ? (
          <table aria-label="Devices">
            <thead>
              <tr>
                <th scope="col">Device</th>
                <th scope="col">Address</th>
                <th scope="col">Last handshake</th>
                <th scope="col">Transfer</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {view.devices.map((d) => (
                <DeviceRow key={d.id} d={d} now={now} busy={busy} onShow={() => void show(d)} onRevoke={() => setConfirmRevoke(d)} />
              ))}
            </tbody>
          </table>
        ) : (
          <p className="muted">No devices yet.</p>
        )}
        {confirmRevoke ? <RevokeDialog device={confirmRevoke} busy={busy} onRevoke={() => void revoke(confirmRevoke)} onKeep={() => setConfirmRevoke(undefined)} /> : null}
        <div className="form inline-form">
          <label htmlFor={`${id}-device-name`}>Device name</label>
          <input
            id={`${id}-device-name`}
            value={name}
            maxLength={200}
            aria-invalid={nameError ? true : undefined}
            aria-describedby={nameError ? `${id}-device-name-error` : undefined}
            onChange={(e) => setName(e.target.value)}
          />
          <button type="button" disabled={busy || name.trim() === ''} onClick={() => void add()}>
            Add device
          </button>
        </div>
        {nameError ? (
          <p id={`${id}-device-name-error`} role="alert" className="field-error">
            {nameError.userMessage} {nameError.hint ?? ''}
          </p>
        ) : null}
        {shown ? (
          <figure aria-label="Device config" className="device-config">
            <img src={shown.qrSvgDataUrl} alt={`QR code of the WireGuard config for ${view.devices.find((d) => d.id === shown.deviceId)?.name ?? 'the device'}`} width={280} height={280} />
            <figcaption>
              Scan this with the WireGuard app on the device, or save the file and import it. It holds the device’s private key: show it only to its owner.
              {view.unavailable.length > 0 ? ` While Cloudflare is down, use the addresses under “Where things answer during the fallback”; ${view.unavailable.map((u) => u.service.toLowerCase()).join(' and ')} is not available until Cloudflare is back.` : ''}
              <br />
              <a href={`data:text/plain;charset=utf-8,${encodeURIComponent(shown.config)}`} download={shown.fileName}>
                Save {shown.fileName}
              </a>{' '}
              <button type="button" className="secondary" onClick={() => setShown(undefined)}>
                Hide config
              </button>
            </figcaption>
          </figure>
        ) : null}
      </section>

      <section className="card" aria-labelledby={`${id}-laptop`}>
        <h2 id={`${id}-laptop`}>This computer</h2>
        <p aria-label="This computer’s tunnel">{view.laptop.detail}</p>
        <button type="button" className="secondary" disabled={busy || !on} onClick={() => void laptop(view.laptop.state !== 'up')}>
          {view.laptop.state === 'up' ? 'Bring this computer’s tunnel down' : 'Reach the server through the tunnel'}
        </button>
      </section>

      <section className="card" aria-labelledby={`${id}-settings`}>
        <h2 id={`${id}-settings`}>Fallback settings</h2>
        <div className="form">
          <label htmlFor={`${id}-endpoint`}>Endpoint name</label>
          <input
            id={`${id}-endpoint`}
            value={endpointName}
            placeholder="home.example.com"
            aria-invalid={settingsField === 'endpointName' ? true : undefined}
            aria-describedby={settingsField === 'endpointName' ? `${id}-settings-error` : `${id}-endpoint-hint`}
            onChange={(e) => {
              setEndpointName(e.target.value);
              setSettingsError(undefined);
            }}
          />
          <p id={`${id}-endpoint-hint`} className="hint">
            The name devices use to reach home; kept pointing at your home’s public address through Cloudflare (a DNS-only record in your zone).
          </p>
          {settingsField === 'endpointName' ? <FieldError id={`${id}-settings-error`} error={settingsError} /> : null}
          <label htmlFor={`${id}-ssh`}>SSH address through the tunnel</label>
          <input
            id={`${id}-ssh`}
            value={sshAddress}
            placeholder={view.serverAddress}
            aria-invalid={settingsField === 'sshAddress' ? true : undefined}
            aria-describedby={settingsField === 'sshAddress' ? `${id}-settings-error` : undefined}
            onChange={(e) => {
              setSshAddress(e.target.value);
              setSettingsError(undefined);
            }}
          />
          {settingsField === 'sshAddress' ? <FieldError id={`${id}-settings-error`} error={settingsError} /> : null}
          <label className="checkbox">
            <input type="checkbox" checked={autoSwitch} onChange={(e) => setAutoSwitch(e.target.checked)} /> Switch on by itself when Cloudflare is down
          </label>
          <label className="checkbox">
            <input
              type="checkbox"
              checked={allowLan}
              aria-describedby={`${id}-lan-hint`}
              onChange={(e) => {
                setAllowLan(e.target.checked);
                setSettingsError(undefined);
              }}
            />{' '}
            Let devices reach the whole home network
          </label>
          <p id={`${id}-lan-hint`} className="hint">
            Off, a device reaches only the server and its services. On, every device with a fallback config can reach everything on your home network — the
            router’s settings page, printers, other computers and their shared folders — as if it were at home. The server passes their traffic on, and
            devices at home see it coming from the server. Revoke a lost phone’s config at once.
          </p>
          {allowLan ? (
            <>
              <label htmlFor={`${id}-lan`}>Home network range</label>
              <input
                id={`${id}-lan`}
                value={lanCidr}
                placeholder="192.168.1.0/24"
                maxLength={40}
                aria-invalid={settingsField === 'lanCidr' ? true : undefined}
                aria-describedby={settingsField === 'lanCidr' ? `${id}-settings-error` : `${id}-lan-range-hint`}
                onChange={(e) => {
                  setLanCidr(e.target.value);
                  setSettingsError(undefined);
                }}
              />
              <p id={`${id}-lan-range-hint`} className="hint">
                Your router’s settings show it, for example 192.168.1.0/24 when the server is 192.168.1.20. The server must forward IP traffic; the app checks
                when the fallback goes on and says what to do.
              </p>
              {settingsField === 'lanCidr' ? <FieldError id={`${id}-settings-error`} error={settingsError} /> : null}
            </>
          ) : null}
          {view.lanWarning ? (
            <p role="note" className="notice notice-warning" aria-label="Home network">
              {view.lanWarning}
            </p>
          ) : null}
          <button type="button" disabled={busy} onClick={() => void saveSettings()}>
            Save fallback settings
          </button>
        </div>
        {settingsError && settingsField === undefined ? <ErrorNotice error={settingsError} /> : null}
      </section>
    </div>
  );
}

/** Revoking a device deletes its key: asked in a modal dialog that starts on (and Escape answers) Keep it. */
function RevokeDialog(props: { device: FallbackDevice; busy: boolean; onRevoke: () => void; onKeep: () => void }) {
  const keepRef = useRef<HTMLButtonElement>(null);
  const id = useId();
  return (
    <ModalDialog role="alertdialog" labelledBy={`${id}-title`} describedBy={`${id}-desc`} className="dialog dialog-danger" onCancel={props.onKeep} initialFocus={keepRef}>
      <h2 id={`${id}-title`}>Revoke {props.device.name}?</h2>
      <p id={`${id}-desc`}>It can no longer connect; its key is deleted.</p>
      <div className="actions">
        <button type="button" disabled={props.busy} onClick={props.onRevoke}>
          Revoke {props.device.name}
        </button>
        <button type="button" className="secondary" ref={keepRef} onClick={props.onKeep}>
          Keep it
        </button>
      </div>
    </ModalDialog>
  );
}
