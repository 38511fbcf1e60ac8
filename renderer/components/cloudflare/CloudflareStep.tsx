import { rendererLinks } from '../../../electron/contract/links';
import { useCallback, useEffect, useId, useState } from 'react';
import type {
  CloudflareProgress,
  CloudflareRetrying,
  CloudflareRunReport,
  CloudflareStep as Step,
  CloudflareView,
  CloudflareZone,
  PublishReport,
  RemovalPlan,
  TokenCheck,
} from '../../../electron/contract/cloudflare';
import { retryingInWords, sessionDurations } from '../../../electron/contract/cloudflare';
import type { ErrorShape } from '../../../electron/contract/errors';
import { asShape, useCall } from '../../hooks/use-call';
import { useEvent } from '../../hooks/use-event';
import { call } from '../../m2';
import { ErrorNotice } from '../common/ErrorNotice';
import { RemovalDialog } from './RemovalDialog';

const STATUS_LABEL: Record<Step['status'], string> = {
  done: 'Done',
  unchanged: 'Unchanged',
  failed: 'Failed',
  'needs-confirmation': 'Needs your yes',
  skipped: 'Skipped',
};

/** The step's typed fields, by the path main's validation names (the error's `field`). */
type CloudflareField = 'token' | 'account' | 'zone' | 'emails' | 'domain';
const fieldOf = (field: string | undefined): CloudflareField | undefined => {
  if (field === undefined) return undefined;
  if (field === 'token') return 'token';
  if (field === 'accountId' || field === 'settings.accountId') return 'account';
  if (field === 'settings.zoneId' || field === 'settings.zoneName') return 'zone';
  if (field === 'settings.access.emails' || field.startsWith('settings.access.emails.')) return 'emails';
  if (field === 'settings.access.emailDomain') return 'domain';
  return undefined;
};

/** Which typed address was refused, so a list of several says which one: "Address 3 (“rm”) is not one." */
const whichEmail = (field: string | undefined, typed: readonly string[]): string => {
  const n = /^settings\.access\.emails\.(\d+)$/.exec(field ?? '');
  const value = n ? typed[Number(n[1])] : undefined;
  return n && value !== undefined ? ` Address ${Number(n[1]) + 1} (“${value.length > 60 ? `${value.slice(0, 60)}…` : value}”) is not one.` : '';
};

/** Splits the Allowed emails field as it is sent: commas, semicolons and spaces separate addresses. */
const splitEmails = (typed: string): string[] => typed.split(/[\s,;]+/).filter((e) => e !== '');

/** The wait before a retry, counting down to the next attempt: "Cloudflare is rate-limiting; retrying in 8 s — attempt 3 of 10". */
function RetryWait({ wait }: { wait: CloudflareRetrying }) {
  const [now, setNow] = useState(() => Date.now());
  // Keyed by the wait, so a new wait starts a new countdown.
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  const secondsLeft = (Date.parse(wait.retryAt) - now) / 1000;
  return (
    <div role="status" aria-label="Waiting to retry" className="notice notice-warn">
      <p>{retryingInWords(wait, secondsLeft)}</p>
      <p className="muted">
        During: {wait.operation}. The app tries {wait.maxAttempts} times in all{wait.retryAfterMs !== null ? `, and never sooner than Cloudflare asks` : ''}.
      </p>
    </div>
  );
}

/** The per-step report of a publish, removal or rotation; live while it runs. */
export function CloudflareSteps({ steps, label }: { steps: readonly Step[]; label: string }) {
  return (
    <ol aria-label={label} className="checklist">
      {steps.map((s) => (
        <li key={s.id} className={`check check-${s.status}`}>
          <strong>{s.title}</strong> — <span>{STATUS_LABEL[s.status]}</span>
          <p className="muted">{s.detail}</p>
          {s.error?.hint ? <p className="muted">{s.error.hint}</p> : null}
        </li>
      ))}
    </ol>
  );
}

function TokenReport({ check }: { check: TokenCheck }) {
  return (
    <ul aria-label="What the token may do" className="checklist">
      {check.features.map((f) => (
        <li key={f.feature} className={`check check-${f.state}`}>
          <strong>{f.label}</strong> — {f.state === 'ok' ? 'allowed' : f.state === 'missing' ? `missing ${f.missing.join(', ')}` : 'not checked yet'}
          <p className="muted">{f.detail}</p>
        </li>
      ))}
    </ul>
  );
}

/**
 * The Domain & Cloudflare step: the API token (sent once, kept in the keychain, shown masked), account and zone,
 * who may sign in through Access, then publish with a per-step report and a yes for anything the app did not make.
 */
export function CloudflareStep({ profileId, onPublished }: { profileId: string; onPublished?: (r: PublishReport) => void }) {
  const id = useId();
  const [view, setView] = useState<CloudflareView | undefined>();
  const [error, setError] = useState<ErrorShape | undefined>();
  const [busy, setBusy] = useState(false);
  const [token, setToken] = useState('');
  const [check, setCheck] = useState<TokenCheck | undefined>();
  const [zones, setZones] = useState<CloudflareZone[]>([]);
  const [accountId, setAccountId] = useState('');
  const [zoneId, setZoneId] = useState('');
  const [emails, setEmails] = useState('');
  const [emailDomain, setEmailDomain] = useState('');
  const [session, setSession] = useState<(typeof sessionDurations)[number]>('24h');
  const [live, setLive] = useState<Step[]>([]);
  const [retrying, setRetrying] = useState<CloudflareRetrying | undefined>();
  const [publishing, setPublishing] = useState(false);
  const [stopping, setStopping] = useState(false);
  const [report, setReport] = useState<PublishReport | undefined>();
  const [yes, setYes] = useState<Set<string>>(new Set());

  const adopt = useCallback((v: CloudflareView) => {
    setView(v);
    setAccountId(v.settings.accountId ?? '');
    setZoneId(v.settings.zoneId ?? '');
    setEmails(v.settings.access.emails.join(', '));
    setEmailDomain(v.settings.access.emailDomain ?? '');
    setSession(v.settings.access.sessionDuration);
  }, []);

  useEffect(() => {
    call('cloudflare:view', { profileId }).then(adopt, (e: unknown) => setError(asShape(e)));
  }, [profileId, adopt]);

  useEffect(() => {
    if (!accountId || !view?.token.stored) return;
    call('cloudflare:zones', { profileId, accountId }).then(setZones, (e: unknown) => setError(asShape(e)));
  }, [profileId, accountId, view?.token.stored]);

  useEvent(
    'cloudflare:progress',
    useCallback(
      (p: CloudflareProgress) => {
        if (p.profileId !== profileId) return;
        if (p.kind === 'retrying') setRetrying(p);
        else {
          setRetrying(undefined);
          setLive((l) => [...l, p.step]);
        }
      },
      [profileId],
    ),
  );

  const run = async (fn: () => Promise<void>): Promise<void> => {
    setBusy(true);
    setError(undefined);
    try {
      await fn();
    } catch (e) {
      setError(asShape(e));
    } finally {
      setBusy(false);
    }
  };

  const saveToken = () =>
    run(async () => {
      const c = await call('cloudflare:set-token', { profileId, token });
      setToken('');
      setCheck(c);
      const v = await call('cloudflare:view', { profileId });
      adopt(v);
      if (!v.settings.accountId && c.accounts.length === 1) setAccountId(c.accounts[0]?.id ?? '');
    });

  const saveSettings = () =>
    run(async () => {
      const zone = zones.find((z) => z.id === zoneId);
      const v = await call('cloudflare:save-settings', {
        profileId,
        settings: {
          accountId: accountId || null,
          zoneId: zone?.id ?? null,
          zoneName: zone?.name ?? null,
          access: {
            emails: splitEmails(emails),
            emailDomain: emailDomain.trim() === '' ? null : emailDomain.trim(),
            sessionDuration: session,
          },
        },
      });
      adopt(v);
    });

  const publish = () =>
    run(async () => {
      setLive([]);
      setReport(undefined);
      setPublishing(true);
      try {
        const r = await call('cloudflare:publish', { profileId, confirm: [...yes] });
        setReport(r);
        setLive(r.steps);
        setView(await call('cloudflare:view', { profileId }));
        onPublished?.(r);
      } finally {
        setPublishing(false);
        setStopping(false);
        setRetrying(undefined);
      }
    });

  const stop = async (): Promise<void> => {
    setStopping(true);
    try {
      await call('cloudflare:cancel-publish', { profileId });
    } catch (e) {
      setError(asShape(e));
      setStopping(false);
    }
  };

  const accounts = check?.accounts ?? (view?.settings.accountId ? [{ id: view.settings.accountId, name: view.settings.accountId }] : []);
  // A refused value is named beside its field (tied with aria-describedby); other errors show below the step.
  const at = fieldOf(error?.field);
  const errorId = (f: CloudflareField) => `${id}-${f}-error`;
  const aria = (f: CloudflareField) => (at === f ? { 'aria-invalid': true as const, 'aria-describedby': errorId(f) } : {});
  const beside = (f: CloudflareField) =>
    at === f && error ? (
      <p id={errorId(f)} className="field-error" role="alert">
        {error.userMessage}
        {f === 'emails' ? whichEmail(error.field, splitEmails(emails)) : ''}
        {error.hint ? ` ${error.hint}` : ''}
      </p>
    ) : null;

  return (
    <div className="stack">
      <section className="card" aria-labelledby={`${id}-token`}>
        <h2 id={`${id}-token`}>Cloudflare API token</h2>
        <p className="muted">
          {view?.token.stored ? `A ${view.token.kind}-owned token is kept in this computer’s keychain (${view.token.masked ?? ''}).` : 'No token yet.'} Create one in the{' '}
          <a href={rendererLinks.cloudflareApiTokens.url} target="_blank" rel="noreferrer">
            Cloudflare dashboard
          </a>{' '}
          with Cloudflare Tunnel Write, DNS Write, Zone Read and Access: Apps and Policies Write (and, for the household’s roles, Access: Organizations,
          Identity Providers, and Groups Write).
        </p>
        <div className="form inline-form">
          <label htmlFor={`${id}-token-input`}>{view?.token.stored ? 'Replace API token' : 'API token'}</label>
          <input id={`${id}-token-input`} type="password" autoComplete="off" value={token} onChange={(e) => setToken(e.target.value)} {...aria('token')} />
          <button type="button" disabled={busy || token.trim() === ''} onClick={() => void saveToken()}>
            Verify and keep token
          </button>
        </div>
        {beside('token')}
        {check ? <TokenReport check={check} /> : null}
      </section>

      {view?.token.stored ? (
        <section className="card" aria-labelledby={`${id}-domain`}>
          <h2 id={`${id}-domain`}>Domain and who may sign in</h2>
          <div className="form">
            <label htmlFor={`${id}-account`}>Account</label>
            <select id={`${id}-account`} value={accountId} onChange={(e) => setAccountId(e.target.value)} {...aria('account')}>
              <option value="">Choose an account</option>
              {accounts.map((a) => (
                <option key={a.id} value={a.id}>
                  {a.name}
                </option>
              ))}
            </select>
            {beside('account')}
            <label htmlFor={`${id}-zone`}>Zone</label>
            <select id={`${id}-zone`} value={zoneId} onChange={(e) => setZoneId(e.target.value)} {...aria('zone')}>
              <option value="">Choose a zone</option>
              {zones.map((z) => (
                <option key={z.id} value={z.id}>
                  {z.name}
                </option>
              ))}
            </select>
            {beside('zone')}
            <label htmlFor={`${id}-emails`}>Allowed emails</label>
            <input id={`${id}-emails`} value={emails} onChange={(e) => setEmails(e.target.value)} placeholder="alice@example.com, bob@example.com" {...aria('emails')} />
            {beside('emails')}
            <label htmlFor={`${id}-domain-input`}>Allowed email domain</label>
            <input id={`${id}-domain-input`} value={emailDomain} onChange={(e) => setEmailDomain(e.target.value)} placeholder="example.com" {...aria('domain')} />
            {beside('domain')}
            <label htmlFor={`${id}-session`}>Session duration</label>
            <select id={`${id}-session`} value={session} onChange={(e) => setSession(e.target.value as (typeof sessionDurations)[number])}>
              {sessionDurations.map((d) => (
                <option key={d} value={d}>
                  {d}
                </option>
              ))}
            </select>
            <button type="button" disabled={busy} onClick={() => void saveSettings()}>
              Save Cloudflare settings
            </button>
          </div>
          <ul aria-label="Host names to publish">
            {view.hostnames.map((h) => (
              <li key={h.service}>
                {h.hostname} → {h.origin}
                {h.inZone === false ? ' (not inside the zone)' : ''}
              </li>
            ))}
          </ul>
        </section>
      ) : null}

      {view?.saved ? (
        <section className="card" aria-labelledby={`${id}-publish`}>
          <h2 id={`${id}-publish`}>Publish</h2>
          {report?.confirmations.length ? (
            <fieldset>
              <legend>These exist already and were not made by M2 Companion</legend>
              {report.confirmations.map((c) => (
                <label key={c.key} className="checkbox">
                  <input
                    type="checkbox"
                    checked={yes.has(c.key)}
                    onChange={(e) =>
                      setYes((s) => {
                        const n = new Set(s);
                        if (e.target.checked) n.add(c.key);
                        else n.delete(c.key);
                        return n;
                      })
                    }
                  />
                  Overwrite {c.hostname}: {c.existing}. {c.action}
                </label>
              ))}
            </fieldset>
          ) : null}
          <div className="row">
            <button type="button" disabled={busy} onClick={() => void publish()}>
              Publish through Cloudflare
            </button>
            {publishing ? (
              <button type="button" className="secondary" disabled={stopping} onClick={() => void stop()}>
                {stopping ? 'Stopping…' : 'Stop publishing'}
              </button>
            ) : null}
          </div>
          {retrying && publishing ? <RetryWait key={`${retrying.runId}:${retrying.retryAt}`} wait={retrying} /> : null}
          {live.length ? <CloudflareSteps steps={live} label="Publish steps" /> : null}
          {report ? (
            <p role="status">
              {report.cancelled ? 'Stopped as you asked. Publish again to continue where it stopped: nothing is created twice.' : report.ok ? 'Published.' : 'Not finished: see the steps above, then publish again.'}
            </p>
          ) : null}
        </section>
      ) : null}
      {error && !at ? <ErrorNotice error={error} /> : null}
    </div>
  );
}

/** What the app manages in Cloudflare, rotation of the tunnel token, and "Remove from Cloudflare" after a yes. */
export function CloudflareManaged({ profileId }: { profileId: string }) {
  const id = useId();
  // What is managed stays on the page while it is asked again after a rotation or a removal.
  const { value: view, error: viewError, refresh: reload } = useCall('cloudflare:view', { profileId });
  const [plan, setPlan] = useState<RemovalPlan | undefined>();
  const [result, setResult] = useState<CloudflareRunReport | undefined>();
  const [error, setError] = useState<ErrorShape | undefined>();
  const [busy, setBusy] = useState(false);
  const shownError = error ?? viewError;
  const act = async (fn: () => Promise<CloudflareRunReport | void>): Promise<void> => {
    setBusy(true);
    setError(undefined);
    try {
      const r = await fn();
      if (r) setResult(r);
      reload();
    } catch (e) {
      setError(asShape(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="card" aria-labelledby={`${id}-managed`}>
      <h2 id={`${id}-managed`}>Managed in Cloudflare</h2>
      {view && view.managed.length === 0 ? <p className="muted">Nothing yet.</p> : null}
      <ul aria-label="Managed in Cloudflare">
        {view?.managed.map((m) => (
          <li key={`${m.kind}:${m.id}`}>
            {m.kind}: {m.name}
            {m.origin === 'adopted' ? ' (existed before; put back on removal)' : ''}
          </li>
        ))}
      </ul>
      <div className="row">
        <button type="button" className="secondary" disabled={busy || !view?.tunnel} onClick={() => void act(() => call('cloudflare:rotate-tunnel-token', { profileId }))}>
          Rotate tunnel token
        </button>
        <button type="button" className="secondary" disabled={busy || view?.managed.length === 0} onClick={() => void act(async () => setPlan(await call('cloudflare:removal-plan', { profileId })))}>
          Remove from Cloudflare…
        </button>
      </div>
      {plan ? (
        <RemovalDialog
          plan={plan}
          busy={busy}
          onConfirm={() =>
            void act(async () => {
              setPlan(undefined);
              return call('cloudflare:remove', { profileId, confirm: true });
            })
          }
          onCancel={() => setPlan(undefined)}
        />
      ) : null}
      {result ? <CloudflareSteps steps={result.steps} label="Last run" /> : null}
      {shownError ? <ErrorNotice error={shownError} /> : null}
    </section>
  );
}
