import type { KitStep, RecoveryKit } from '../../../electron/contract/recovery';

const when = (iso: string): string => {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : `${d.toLocaleString(undefined, { dateStyle: 'long', timeStyle: 'short' })} (${iso.replace(/\.\d{3}Z$/, 'Z')})`;
};

/** A keychain account without the server's prefix, which the sheet says once (the full name where it has another). */
const shortAccount = (account: string, prefix: string): string => (account.startsWith(prefix) && account.length > prefix.length ? account.slice(prefix.length) : account);

/**
 * The keychain entries as rows: a device's private key and its preshared key (`….key`, `….psk`, kept side by side)
 * share one row, which names both accounts, so four devices add four rows to the page rather than eight.
 */
export function secretRows(entries: ReadonlyArray<{ name: string; what: string; keychain: { account: string } }>, prefix: string): Array<{ key: string; name: string; code: string }> {
  const byName = new Map(entries.map((e) => [e.name, e]));
  const rows: Array<{ key: string; name: string; code: string }> = [];
  for (const e of entries) {
    const stem = /^(.+)\.(key|psk)$/.exec(e.name)?.[1];
    const key = stem ? byName.get(`${stem}.key`) : undefined;
    const psk = stem ? byName.get(`${stem}.psk`) : undefined;
    if (key && psk && key.what.includes('private key')) {
      if (e === psk) continue;
      rows.push({ key: e.name, name: key.what.replace('private key', 'private and preshared keys'), code: `${shortAccount(key.keychain.account, prefix)} · .psk` });
      continue;
    }
    rows.push({ key: e.name, name: e.what, code: shortAccount(e.keychain.account, prefix) });
  }
  return rows;
}

/**
 * Restore steps as printed: consecutive steps on one folder each ("Put back /srv/…") that share their explanation
 * become one step with a command per folder, so each explanation is said once and the kit stays one page.
 */
export function groupSteps(steps: readonly KitStep[]): Array<{ title: string; detail: string | null; commands: string[] }> {
  const out: Array<{ title: string; detail: string | null; commands: string[]; verb: string | null }> = [];
  // "Put back /srv/m2/data/…" → "Put back": the words before a folder.
  const verbOf = (s: KitStep): string | null => (s.command && s.detail !== null ? (/^(\S.*?) \/\S*$/.exec(s.title)?.[1] ?? null) : null);
  for (const s of steps) {
    const verb = verbOf(s);
    const last = out[out.length - 1];
    if (last && verb !== null && last.verb === verb && last.detail === s.detail && s.command) {
      last.title = `${verb} each folder`;
      last.commands.push(s.command);
      continue;
    }
    out.push({ title: s.title, detail: s.detail, commands: s.command ? [s.command] : [], verb });
  }
  return out.map(({ title, detail, commands }) => ({ title, detail, commands }));
}

/** A two-column table of the kit: a name per row and its value as code (keychain accounts, tunnel addresses). */
function CodeTable({ label, head, rows }: { label: string; head: readonly [string, string]; rows: ReadonlyArray<{ key: string; name: string; code: string }> }) {
  return (
    <table aria-label={label} className="kit-table">
      <thead>
        <tr>
          <th scope="col">{head[0]}</th>
          <th scope="col">{head[1]}</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.key}>
            <th scope="row">{r.name}</th>
            <td>
              <code>{r.code}</code>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/**
 * The household recovery kit as one printable sheet. Everything in it is text from the kit (React escapes it, so a
 * server or device name with markup prints as those characters); links are only the kit's own service addresses.
 * It never holds a secret value: the kit carries none.
 */
export function RecoveryKitSheet({ kit }: { kit: RecoveryKit }) {
  const { server } = kit;
  const prefix = `${kit.profileId}/`;
  return (
    <article className="kit-sheet" aria-label="Household recovery kit">
      <header className="kit-header">
        <h2>Household recovery kit: {server.name}</h2>
        <p className="muted">
          Made {when(kit.madeAt)} by {kit.app.name} {kit.app.version}. Keep it on paper, somewhere safe: it holds no passwords, only where they are kept.
        </p>
      </header>

      <section aria-labelledby="kit-server">
        <h3 id="kit-server">The server</h3>
        <dl className="facts">
          <dt>Address</dt>
          <dd>
            <code>{server.host}</code>, SSH port <code>{server.port}</code>
          </dd>
          <dt>SSH user</dt>
          <dd>
            <code>{server.username}</code>
          </dd>
          <dt>Sign in</dt>
          <dd>
            <code>{server.sshCommand}</code>
          </dd>
          <dt>Host key</dt>
          <dd>
            {server.hostKeys.length === 0 ? (
              <span>No host key is on record yet: connect once in M2 Companion and confirm it, then make the kit again.</span>
            ) : (
              <ul className="plain" aria-label="Host key fingerprints">
                {server.hostKeys.map((k) => (
                  <li key={k.fingerprint}>
                    {k.keyType} <code className="kit-fingerprint">{k.fingerprint}</code>
                  </li>
                ))}
              </ul>
            )}
            {server.hostKeys.length > 0 ? <span className="muted">Signing in from another computer, ssh shows this fingerprint the first time: it must match.</span> : null}
          </dd>
        </dl>
      </section>

      <section aria-labelledby="kit-services">
        <h3 id="kit-services">The services</h3>
        {!kit.stackSaved ? <p className="muted">The stack settings are not saved yet: these are the planned addresses.</p> : null}
        {kit.services.length === 0 ? <p>No web services are part of this stack.</p> : null}
        <ul className="plain" aria-label="Service addresses">
          {kit.services.map((s) => (
            <li key={s.service}>
              <strong>{s.title}</strong>:{' '}
              {s.url ? (
                <a href={s.url} target="_blank" rel="noreferrer">
                  {s.url}
                </a>
              ) : (
                <>
                  <code>https://{s.hostname}/</code> <span className="muted">(not published yet)</span>
                </>
              )}
              {s.home ? (
                <>
                  {' '}
                  · at home{' '}
                  <a href={s.home} target="_blank" rel="noreferrer">
                    {s.home}
                  </a>
                </>
              ) : null}
            </li>
          ))}
        </ul>
      </section>

      {kit.signIn.length > 0 ? (
        <section aria-labelledby="kit-sign-in">
          <h3 id="kit-sign-in">Signing in</h3>
          {/* One paragraph per service across the column (a <dl> grid squeezed each text into its label column). */}
          <ul className="plain" aria-label="How each service signs in">
            {kit.signIn.map((g) => (
              <li key={g.service}>
                <strong>{g.title}</strong>: {g.how}
              </li>
            ))}
          </ul>
        </section>
      ) : null}

      <section aria-labelledby="kit-accounts">
        <h3 id="kit-accounts">Accounts</h3>
        {kit.accounts.length === 0 ? (
          <p className="muted">No accounts to list.</p>
        ) : (
          <table aria-label="Kit accounts" className="kit-table">
            <thead>
              <tr>
                <th scope="col">Service</th>
                <th scope="col">User name</th>
                <th scope="col" className="kit-screen-only">
                  Password: keychain account
                </th>
              </tr>
            </thead>
            <tbody>
              {kit.accounts.map((a) => (
                <tr key={a.id}>
                  <th scope="row">
                    {a.title} ({a.role})
                  </th>
                  <td>
                    <code>{a.username}</code>
                  </td>
                  {/* On paper the keychain entries below name each password once. */}
                  <td className="kit-screen-only">
                    <code>{shortAccount(a.keychain.account, prefix)}</code>
                    {a.passwordSet ? null : <span className="muted"> (not generated yet)</span>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      <section aria-labelledby="kit-secrets">
        <h3 id="kit-secrets">Secrets and where they are kept</h3>
        {kit.secrets.kind === 'unavailable' ? (
          <p>
            The keychain could not be read, so its entries are not listed: {kit.secrets.reason} Every secret is kept in the keychain under the service{' '}
            <code>{kit.secrets.keychainService}</code>.
          </p>
        ) : (
          <>
            <p className="muted">
              In this computer&apos;s keychain (macOS Keychain, Windows Credential Manager, GNOME Keyring or KWallet), service <code>{kit.secrets.keychainService}</code>;
              each account is <code>{prefix}</code> followed by the name below (the accounts above too).
            </p>
            {kit.secrets.entries.length === 0 ? (
              <p>No secrets are kept for this server yet.</p>
            ) : (
              <CodeTable
                label="Keychain entries"
                head={['What', 'Keychain account']}
                rows={secretRows(kit.secrets.entries, prefix)}
              />
            )}
          </>
        )}
      </section>

      <section aria-labelledby="kit-restore">
        <h3 id="kit-restore">Restore from the backup</h3>
        {kit.backup.kind === 'off' ? (
          <p>Backups are off for this stack: there is nothing to restore from. Turn the backup on in Services.</p>
        ) : (
          <>
            <p>
              restic keeps the backup in <code>{kit.backup.repository}</code> on the server, every day at {kit.backup.time} ({kit.backup.timezone}), keeping{' '}
              {kit.backup.keep.daily} daily, {kit.backup.keep.weekly} weekly and {kit.backup.keep.monthly} monthly snapshots (host{' '}
              <code>{kit.backup.snapshotHost}</code>). Its password is the keychain&apos;s <code>{shortAccount(kit.backup.password.account, prefix)}</code>. Sign
              in to the server (above), then:
            </p>
            <ol className="kit-steps" aria-label="Restore steps">
              {groupSteps(kit.backup.steps).map((s, i) => (
                <li key={i}>
                  <strong>{s.title}</strong>
                  {s.detail ? <span> {s.detail}</span> : null}
                  {s.commands.length > 0 ? (
                    <pre>
                      {s.commands.map((c, j) => (
                        <code key={j}>{c}</code>
                      ))}
                    </pre>
                  ) : null}
                </li>
              ))}
            </ol>
          </>
        )}
      </section>

      <section aria-labelledby="kit-outage">
        <h3 id="kit-outage">When Cloudflare is down</h3>
        {kit.fallback.kind === 'off' ? (
          <p>{kit.fallback.reason}</p>
        ) : (
          <>
            <dl className="facts">
              <dt>Home endpoint</dt>
              <dd>
                <code>{kit.fallback.endpoint ?? 'not known yet'}</code>, UDP port <code>{kit.fallback.port}</code>
              </dd>
              <dt>Server in the tunnel</dt>
              <dd>
                <code>{kit.fallback.serverAddress}</code>
              </dd>
            </dl>
            <ol className="kit-steps" aria-label="Outage steps">
              {kit.fallback.steps.map((s, i) => (
                <li key={i}>{s}</li>
              ))}
            </ol>
            <CodeTable
              label="Tunnel addresses"
              head={['Service', 'Address in the tunnel']}
              rows={kit.fallback.services.map((s) => ({ key: s.service, name: s.service, code: s.url }))}
            />
            {kit.fallback.devices.length > 0 ? (
              <CodeTable
                label="Devices"
                head={['Device', 'Address in the tunnel']}
                rows={kit.fallback.devices.map((d) => ({ key: d.address, name: d.name, code: d.address }))}
              />
            ) : (
              <p className="muted">No household devices are added yet.</p>
            )}
          </>
        )}
      </section>
    </article>
  );
}
