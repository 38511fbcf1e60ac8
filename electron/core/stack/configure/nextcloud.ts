/**
 * Nextcloud after install (stack-facts §6): the tunnel's host name among the trusted domains, and background jobs
 * run by the cron container. Through `occ` as www-data with `docker exec` (argv only: host names are validated
 * and each is one argument), reading first so a second run changes nothing.
 */
import { isIPv4 } from 'node:net';
import { isDnsName } from '../../../contract/validation';
import type { Argv } from '../../ssh/argv';
import type { ExecResult } from '../../ssh/runner';
import { checkConfigureCommand, configureFailed, dockerArgv, findContainer, pollUntil, type ConfigureStep, type ConfigureTarget } from './common';
import { ensureOidc, type NextcloudOidc } from './nextcloud-oidc';

export interface NextcloudConfigureOptions {
  /** Host names Nextcloud must answer to (the tunnel's public name). */
  readonly hostnames: readonly string[];
  /** The Compose service name (default `nextcloud`). */
  readonly composeService?: string;
  /** How long to wait for Nextcloud's first-start install to finish. */
  readonly installTimeoutMs?: number;
  /** Sign-in through Authentik (while the authentik module is on): user_oidc and its provider. */
  readonly oidc?: NextcloudOidc;
}

/** `php occ …` as www-data in the container (the owner of config.php, as occ demands). */
export const occArgv = (container: string, args: readonly string[]): Argv => ['docker', 'exec', '--user', 'www-data', container, 'php', 'occ', '--no-interaction', ...args];

export const occ = {
  status: (): Argv => ['status', '--output=json'],
  getTrustedDomains: (): Argv => ['config:system:get', 'trusted_domains', '--output=json'],
  setTrustedDomain: (index: number, host: string): Argv => {
    if (!isTrustableHost(host)) throw new TypeError(`not a host name: ${JSON.stringify(host)}`);
    return ['config:system:set', 'trusted_domains', String(index), `--value=${host}`];
  },
  getBackgroundMode: (): Argv => ['config:app:get', 'core', 'backgroundjobs_mode'],
  backgroundCron: (): Argv => ['background:cron'],
};

/** A host name, or an IPv4 address (the fallback's tunnel address): nothing else becomes a trusted domain. */
export const isTrustableHost = (host: string): boolean => isDnsName(host) || isIPv4(host);

/**
 * trusted_domains as index → host. PHP keeps the array's keys: after a deletion they have gaps and occ prints an
 * object instead of a list, so both shapes are read.
 */
export function parseTrustedDomains(stdout: string): Map<number, string> {
  const out = new Map<number, string>();
  let v: unknown;
  try {
    v = JSON.parse(stdout.trim());
  } catch {
    return out;
  }
  const entries: Array<[string, unknown]> = Array.isArray(v) ? v.map((x, i) => [String(i), x]) : typeof v === 'object' && v !== null ? Object.entries(v) : [];
  for (const [k, x] of entries) if (/^\d+$/.test(k) && typeof x === 'string') out.set(Number(k), x);
  return out;
}

/** The `config:system:set` calls that add what is missing, at the indexes after the highest one in use. */
export function missingTrustedDomains(current: ReadonlyMap<number, string>, wanted: readonly string[]): Array<{ index: number; host: string }> {
  const have = new Set([...current.values()].map((h) => h.toLowerCase()));
  let next = current.size === 0 ? 0 : Math.max(...current.keys()) + 1;
  const out: Array<{ index: number; host: string }> = [];
  for (const raw of wanted) {
    const host = raw.trim().toLowerCase();
    if (have.has(host)) continue;
    have.add(host);
    out.push({ index: next++, host });
  }
  return out;
}

type Run = (args: readonly string[]) => Promise<ExecResult>;

/** Read trusted_domains, add what is missing (a second run adds nothing); the hosts it added. */
async function addTrusted(run: Run, must: (args: readonly string[], what: string) => Promise<ExecResult>, hosts: readonly string[]): Promise<string[]> {
  const got = await run(occ.getTrustedDomains());
  // occ exits 1 when the key is not set at all.
  const current = got.code === 0 ? parseTrustedDomains(got.stdout) : new Map<number, string>();
  const add = missingTrustedDomains(current, hosts);
  for (const { index, host } of add) await must(occ.setTrustedDomain(index, host), `Adding ${host} to the trusted domains`);
  return add.map((a) => a.host);
}

/** occ in the running Nextcloud container, and the same with a failure as a clear error. */
async function occRunner(target: ConfigureTarget, composeService: string): Promise<{ run: Run; must: (args: readonly string[], what: string) => Promise<ExecResult> }> {
  const container = await findContainer(target, 'nextcloud', composeService);
  const run: Run = (args) => target.conn.exec(dockerArgv(target, occArgv(container, args)), { timeoutMs: 60_000 });
  const must = async (args: readonly string[], what: string): Promise<ExecResult> =>
    checkConfigureCommand(
      'nextcloud',
      dockerArgv(target, occArgv(container, args)),
      await run(args),
      (_, { output, exitCode }) => {
        const detail = output.trim().split('\n').filter(Boolean).slice(0, 2).join(' ');
        return `${what} failed (occ exit ${String(exitCode)}${detail ? `: ${detail}` : ''}).`;
      },
      'Check Nextcloud’s log on the Services page, then try again.',
    );
  return { run, must };
}

/**
 * Make an installed Nextcloud answer at more addresses (the fallback's tunnel address): added to trusted_domains
 * when missing, nothing else touched. The hosts it added (empty when all were there).
 */
export async function trustNextcloudHosts(target: ConfigureTarget, hosts: readonly string[], composeService = 'nextcloud'): Promise<string[]> {
  for (const h of hosts) if (!isTrustableHost(h)) throw configureFailed('nextcloud', `“${h}” is not a host name or an IPv4 address.`, 'Check the fallback’s tunnel subnet.');
  const { run, must } = await occRunner(target, composeService);
  return addTrusted(run, must, hosts);
}

export async function configureNextcloud(target: ConfigureTarget, opts: NextcloudConfigureOptions): Promise<ConfigureStep> {
  for (const h of opts.hostnames) {
    if (!isDnsName(h.trim().toLowerCase())) {
      throw configureFailed('nextcloud', `“${h}” is not a host name.`, 'Enter a host name such as cloud.example.com in the stack settings.');
    }
  }
  const { run, must } = await occRunner(target, opts.composeService ?? 'nextcloud');

  // The image installs itself on first start; occ has only a few commands until it has.
  const installed = await pollUntil(
    async () => {
      const r = await run(occ.status());
      try {
        return r.code === 0 && (JSON.parse(r.stdout.trim()) as { installed?: unknown }).installed === true ? true : undefined;
      } catch {
        return undefined;
      }
    },
    { timeoutMs: opts.installTimeoutMs ?? 120_000, intervalMs: 2_000 },
  );
  if (!installed) {
    throw configureFailed('nextcloud', 'it has not finished installing itself.', 'Check Nextcloud’s log on the Services page (its database must be reachable), then try again.');
  }

  const done: string[] = [];
  const added = await addTrusted(run, must, opts.hostnames);
  if (added.length > 0) done.push(`trusted ${added.join(', ')}`);

  const mode = await run(occ.getBackgroundMode());
  if (mode.code !== 0 || mode.stdout.trim() !== 'cron') {
    await must(occ.backgroundCron(), 'Switching background jobs to cron');
    done.push('background jobs run by cron');
  }

  if (opts.oidc) {
    done.push(...(await ensureOidc(run, must, opts.oidc, (message, hint) => configureFailed('nextcloud', message, hint, [opts.oidc?.secret]))));
  }

  if (done.length === 0) {
    const sso = opts.oidc ? ', sign-in through Authentik registered' : '';
    return { service: 'nextcloud', changed: false, message: `Already configured: ${[...opts.hostnames].join(', ') || 'no host names'} trusted, background jobs by cron${sso}.` };
  }
  const text = done.join('; ');
  return { service: 'nextcloud', changed: true, message: `${text.charAt(0).toUpperCase()}${text.slice(1)}.` };
}
