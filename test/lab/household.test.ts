import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HouseholdResult, HouseholdView } from '../../electron/contract/household';
import { StackSettings } from '../../electron/contract/stack';
import { API_TOKEN_SECRET, CloudflareService, TUNNEL_TOKEN_SECRET } from '../../electron/core/cloudflare/cloudflare-service';
import { CloudflareStore } from '../../electron/core/cloudflare/cloudflare-store';
import { rolePolicyName } from '../../electron/core/cloudflare/household-access';
import { openAuthentik } from '../../electron/core/household/authentik-transport';
import { HouseholdService, accessMembers } from '../../electron/core/household/household-service';
import { HouseholdStore } from '../../electron/core/household/household-store';
import { createDispatcher } from '../../electron/core/ipc/dispatch';
import { createLogger } from '../../electron/core/log';
import { KeyringSecretStore } from '../../electron/core/secrets/keychain';
import { Secret } from '../../electron/core/secrets/secret';
import { createHandlers, type CoreServices } from '../../electron/core/services';
import type { SshConnection } from '../../electron/core/ssh/ssh-connection';
import { configureAuthentik } from '../../electron/core/stack/configure/authentik';
import { appsBlueprint } from '../../electron/core/stack/modules/authentik';
import { imageRef } from '../../electron/core/stack/versions';
import { DEFAULT_ACCOUNT_ID, DEFAULT_TOKENS, DEFAULT_ZONE_ID, startCloudflareStandIn, type CloudflareStandIn } from '../../scripts/lab/cloudflare';
import { ensureDocker, exec } from '../../scripts/lab/docker';
import { ensureStandInImages } from '../../scripts/lab/images';
import { ensureKeychain } from '../../scripts/lab/keychain';
import { ensureSshd } from '../../scripts/lab/sshd';
import { connectToLab } from '../support/ssh';
import { freeSubnets } from '../support/subnets';
import { applied } from './cloudflare-support';

/**
 * The Household page's work against the lab: Authentik's stand-in (server + its Postgres, the pinned images) in a
 * Compose project of this test's own, reached as the app reaches it (an SSH forward over the lab's sshd, the
 * bootstrap token in a header), and the Cloudflare API stand-in holding the published server's Access. Calls go
 * through the contract dispatcher, as the renderer makes them.
 */
const project = `m2lab-household-${process.pid}`;
const profileId = `hh-${randomBytes(3).toString('hex')}`;
const root = mkdtempSync(path.join(os.tmpdir(), `${project}-`));
const bootstrapToken = randomBytes(32).toString('hex');
const keychain = new KeyringSecretStore();
const lines: string[] = [];
let standIn: CloudflareStandIn;
let conn: SshConnection;
let cloudflare: CloudflareService;
let call: <T>(channel: string, payload: unknown) => Promise<T>;
let authentikUrl: string;

const compose = (args: readonly string[], timeoutMs = 180_000): ReturnType<typeof exec> =>
  exec('docker', ['compose', '--project-name', project, '--file', path.join(root, 'compose.yaml'), ...args], { cwd: root, timeoutMs });

const HOSTS = { jellyfin: 'media.example.com', nextcloud: 'cloud.example.com', authentik: 'auth.example.com' };

/** Whether Cloudflare Access (as the stand-in holds it) lets this address into the application of a host name. */
function accessLetsIn(hostname: string, email: string): boolean {
  const app = [...standIn.state.accessApps.values()].find((a) => a.app.domain === hostname);
  if (!app) throw new Error(`no Access application for ${hostname}`);
  const matches = (rule: Record<string, { email?: string; domain?: string; id?: string }>): boolean => {
    if (rule.email) return rule.email.email === email;
    if (rule.email_domain) return email.endsWith(`@${rule.email_domain.domain}`);
    if (rule.group) {
      const g = standIn.state.accessGroups.get(rule.group.id ?? '');
      return (g?.group.include ?? []).some((r) => matches(r as never));
    }
    return false;
  };
  return app.policyLinks.some((l) => {
    const p = standIn.state.accessPolicies.get(l.id)?.policy;
    return p?.decision === 'allow' && (p.include ?? []).some((r) => matches(r as never));
  });
}

const cfWrites = (): number => standIn.requests.all().filter((e) => e.method !== 'GET' && e.status !== null && (e.status ?? 0) < 300).length;

interface CoreDirectory {
  users: Array<{ pk: number; username: string; name: string; email: string; groups_obj: Array<{ name: string }> }>;
  groups: Array<{ name: string; is_superuser: boolean; users: number[] }>;
  applications: Array<{ pk: string; slug: string; policy_engine_mode: string }>;
  bindings: Array<{ target: string; group_obj: { name: string } | null; user_obj: { username: string } | null; enabled: boolean; negate: boolean }>;
}
const directory = async (body?: unknown): Promise<CoreDirectory> => {
  const res = await fetch(`${authentikUrl}/__lab/core`, body === undefined ? {} : { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  return (await res.json()) as CoreDirectory;
};
const userOf = async (email: string): Promise<CoreDirectory['users'][number] | undefined> => (await directory()).users.find((u) => u.username === email);

/** Whether Authentik's policy bindings let this user use the application (its own check, as sign-in and LDAP bind ask). */
const authentikLetsIn = async (slug: string, username: string): Promise<boolean> => {
  const pk = (await directory()).users.find((u) => u.username === username)?.pk;
  const res = await fetch(`${authentikUrl}/api/v3/core/applications/${slug}/check_access/?for_user=${pk}`, { headers: { authorization: `Bearer ${bootstrapToken}` } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { passing: boolean }).passing;
};
/** Who each application is bound to, by group or user name. */
const boundTo = async (): Promise<Record<string, string[]>> => {
  const d = await directory();
  return Object.fromEntries(
    d.applications.map((a) => [
      a.slug,
      d.bindings
        .filter((b) => b.target === a.pk && b.enabled && !b.negate)
        .map((b) => b.group_obj?.name ?? b.user_obj?.username ?? '?')
        .sort(),
    ]),
  );
};
/** The install's Authentik step, as configure-stack runs it (the blueprint's applications, no LDAP outpost token here). */
const configure = (): ReturnType<typeof configureAuthentik> =>
  configureAuthentik(
    { conn, dockerAccess: 'group', project },
    {
      secrets: { profileId, get: async (n: string) => (n === 'authentik.bootstrap-token' ? new Secret(bootstrapToken) : undefined), ensureOne: async () => undefined, set: async () => undefined } as never,
      applications: ['nextcloud', 'jellyfin'],
      timeoutMs: 60_000,
    },
  );

beforeAll(async () => {
  const sshd = await ensureSshd();
  await ensureDocker();
  await ensureStandInImages();
  Object.assign(process.env, (await ensureKeychain()).env);
  const subnet = (await freeSubnets('172.28', 40 + (process.pid % 150))).edge;
  mkdirSync(path.join(root, 'blueprints'), { recursive: true });
  // The M2 blueprint as the authentik module renders it: Nextcloud's and Jellyfin's applications.
  const blueprint = appsBlueprint(StackSettings.parse({ hostnames: HOSTS }));
  if (!blueprint) throw new Error('no blueprint rendered');
  writeFileSync(path.join(root, 'blueprints', blueprint.name), blueprint.content);
  // Authentik's server and its database as the stack runs them, health checked every second so `--wait` is quick.
  writeFileSync(
    path.join(root, 'compose.yaml'),
    [
      'services:',
      '  authentik-db:',
      `    image: ${imageRef('postgres')}`,
      '    environment: { POSTGRES_PASSWORD: lab-db-password, POSTGRES_USER: authentik, POSTGRES_DB: authentik }',
      '    healthcheck: { test: ["CMD", "pg_isready"], interval: 1s, timeout: 5s, retries: 60 }',
      '  authentik-server:',
      `    image: ${imageRef('authentik')}`,
      '    command: server',
      '    environment:',
      '      AUTHENTIK_SECRET_KEY: lab-secret-key',
      '      AUTHENTIK_POSTGRESQL__HOST: authentik-db',
      '      AUTHENTIK_POSTGRESQL__USER: authentik',
      '      AUTHENTIK_POSTGRESQL__NAME: authentik',
      '      AUTHENTIK_POSTGRESQL__PASSWORD: lab-db-password',
      `      AUTHENTIK_BOOTSTRAP_TOKEN: ${bootstrapToken}`,
      '      AUTHENTIK_BOOTSTRAP_EMAIL: admin@example.com',
      '    volumes: [ak-data:/data]',
      '    healthcheck: { test: ["CMD", "ak", "healthcheck"], interval: 1s, timeout: 5s, retries: 60 }',
      '    depends_on: [authentik-db]',
      // The worker applies the blueprint and records it in the data both share.
      '  authentik-worker:',
      `    image: ${imageRef('authentik')}`,
      '    command: worker',
      '    environment:',
      '      AUTHENTIK_SECRET_KEY: lab-secret-key',
      '      AUTHENTIK_POSTGRESQL__HOST: authentik-db',
      '      AUTHENTIK_POSTGRESQL__USER: authentik',
      '      AUTHENTIK_POSTGRESQL__NAME: authentik',
      '      AUTHENTIK_POSTGRESQL__PASSWORD: lab-db-password',
      `      AUTHENTIK_BOOTSTRAP_TOKEN: ${bootstrapToken}`,
      '      AUTHENTIK_BOOTSTRAP_EMAIL: admin@example.com',
      '      M2_STANDIN_BLUEPRINT_INTERVAL_MS: 500',
      '    volumes: [ak-data:/data, ./blueprints:/blueprints/custom:ro]',
      '    healthcheck: { test: ["CMD", "ak", "healthcheck"], interval: 1s, timeout: 5s, retries: 60 }',
      '    depends_on: [authentik-db]',
      'volumes:',
      '  ak-data: {}',
      'networks:',
      '  default:',
      `    ipam: { config: [{ subnet: ${subnet} }] }`,
      '',
    ].join('\n'),
  );
  const up = await compose(['up', '--detach', '--wait', '--wait-timeout', '120'], 180_000);
  if (up.code !== 0) throw new Error(`authentik stand-in did not come up (${up.code}): ${up.stderr}\n${(await compose(['logs', '--no-color', '--tail', '20'])).stdout}`);
  const id = (await exec('docker', ['ps', '--quiet', '--filter', `label=com.docker.compose.project=${project}`, '--filter', 'label=com.docker.compose.service=authentik-server'])).stdout.trim();
  const ip = (await exec('docker', ['inspect', '--format', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', id])).stdout.trim();
  authentikUrl = `http://${ip}:9000`;
  conn = await connectToLab(sshd, sshd.admin);

  standIn = await startCloudflareStandIn();
  const dataDir = path.join(root, 'data');
  const stack = StackSettings.parse({ hostnames: HOSTS });
  const cfStore = new CloudflareStore(path.join(dataDir, 'cloudflare'));
  const householdStore = new HouseholdStore(path.join(dataDir, 'household'));
  const log = createLogger((l) => lines.push(l));
  cloudflare = new CloudflareService({
    store: cfStore,
    secrets: keychain,
    stackSettings: async () => stack,
    redeploy: async () => applied(),
    log,
    onProgress: () => undefined,
    client: { baseURL: standIn.url, timeoutMs: 5_000 },
    retry: { maxAttempts: 3, baseDelayMs: 50, maxDelayMs: 200, budgetMs: 30_000 },
    random: () => 1,
    household: async (p) => accessMembers((await householdStore.read(p)).members),
  });
  const household = new HouseholdService({
    store: householdStore,
    stackSettings: async () => stack,
    authentik: () => openAuthentik({ conn, dockerAccess: 'group', project }, new Secret(bootstrapToken)),
    cloudflare: {
      syncHousehold: (p) => cloudflare.syncHousehold(p),
      access: async (p) => {
        const f = await cfStore.read(p);
        return { ready: true, emails: f.settings?.access.emails ?? [], domain: f.settings?.access.emailDomain ?? null };
      },
    },
    log,
  });
  const handlers = createHandlers({ cloudflare, household, emit: () => undefined } as unknown as CoreServices);
  const dispatch = createDispatcher(handlers, { isTrustedSender: () => true, log });
  call = async <T,>(channel: string, payload: unknown): Promise<T> => {
    const r = await dispatch({ url: 'test' }, channel, payload);
    if (!r.ok) throw Object.assign(new Error(r.error.userMessage), r.error);
    return r.value as T;
  };

  // The server is published first, as it is once setup is done: the household policy lets the admin in everywhere.
  await call('cloudflare:set-token', { profileId, token: DEFAULT_TOKENS.all });
  await call('cloudflare:save-settings', {
    profileId,
    settings: { accountId: DEFAULT_ACCOUNT_ID, zoneId: DEFAULT_ZONE_ID, zoneName: 'example.com', access: { emails: ['admin@example.com'], emailDomain: null, sessionDuration: '24h' } },
  });
  const published = await cloudflare.publish(profileId);
  expect(published.ok, JSON.stringify(published.steps.filter((s) => s.status === 'failed'))).toBe(true);
  expect(published.steps.map((s) => s.id)).not.toContain('household-groups');
}, 300_000);

afterAll(async () => {
  await conn?.close();
  await standIn?.close();
  for (const n of [API_TOKEN_SECRET, TUNNEL_TOKEN_SECRET]) await keychain.delete(profileId, n).catch(() => undefined);
  const down = await compose(['down', '--volumes', '--remove-orphans', '--timeout', '5']);
  expect(down.code, down.stderr).toBe(0);
  rmSync(root, { recursive: true, force: true });
}, 120_000);

describe('household members with roles', () => {
  const amy = { name: 'Amy Pond', email: 'amy@example.com', role: 'media' as const };

  it('the install binds each application to the roles that reach it and to Authentik’s admins, before anyone is added; again, it writes nothing', async () => {
    const step = await configure();
    expect(step.message).toMatch(/let authentik Admins, m2-power-users, m2-admins, akadmin into Nextcloud/);
    expect(await boundTo()).toEqual({
      nextcloud: ['akadmin', 'authentik Admins', 'm2-admins', 'm2-power-users'],
      jellyfin: ['akadmin', 'authentik Admins', 'm2-admins', 'm2-media', 'm2-power-users'],
    });
    expect((await directory()).applications.map((a) => a.policy_engine_mode)).toEqual(['any', 'any']);
    // The admin the install made is never locked out.
    expect([await authentikLetsIn('nextcloud', 'akadmin'), await authentikLetsIn('jellyfin', 'akadmin')]).toEqual([true, true]);
    const before = await directory();
    const again = await configure();
    expect(again.changed).toBe(false);
    expect(await directory()).toEqual(before);
  }, 120_000);

  it('adds a media-only person: an Authentik user in m2-media, and Access lets them into Jellyfin but not Nextcloud', async () => {
    const r = await call<HouseholdResult>('household:add', { profileId, member: amy });
    expect(r.ok, JSON.stringify(r.steps.filter((s) => s.status === 'failed'))).toBe(true);
    expect(r.member).toMatchObject({ email: amy.email, role: 'media', state: 'active', authentik: 'created' });
    // A fresh Authentik has no recovery flow: no link, and the admin is told what to do instead.
    expect(r.invite).toMatchObject({ kind: 'none', reason: expect.stringContaining('(No recovery flow set)') });

    const user = await userOf(amy.email);
    expect(user).toMatchObject({ name: 'Amy Pond', email: amy.email });
    expect(user?.groups_obj.map((g) => g.name)).toEqual(['m2-media']);
    const groups = (await directory()).groups;
    expect(groups.find((g) => g.name === 'm2-admins')?.is_superuser).toBe(true);
    expect(groups.find((g) => g.name === 'm2-media')?.is_superuser).toBe(false);

    expect(accessLetsIn(HOSTS.jellyfin, amy.email)).toBe(true);
    expect(accessLetsIn(HOSTS.nextcloud, amy.email)).toBe(false);
    expect(accessLetsIn(HOSTS.authentik, amy.email)).toBe(true);
    // Authentik itself holds the same line (the WireGuard fallback and the home network bypass Cloudflare).
    expect(await authentikLetsIn('nextcloud', amy.email)).toBe(false);
    expect(await authentikLetsIn('jellyfin', amy.email)).toBe(true);
    expect(accessLetsIn(HOSTS.nextcloud, 'admin@example.com')).toBe(true);
    // Groups, not people, in the policies: Jellyfin's policy by role names the media group; Nextcloud has none.
    const policies = [...standIn.state.accessPolicies.values()].map((p) => p.policy);
    const jellyfinByRole = policies.find((p) => p.name === rolePolicyName('jellyfin', profileId));
    expect(JSON.stringify(jellyfinByRole?.include)).not.toContain(amy.email);
    expect(jellyfinByRole?.include).toEqual([{ group: { id: [...standIn.state.accessGroups.values()][0]?.group.id } }]);
    expect(policies.find((p) => p.name === rolePolicyName('nextcloud', profileId))).toBeUndefined();
    expect(standIn.state.accessGroups.size).toBe(1);
  }, 120_000);

  it('adding the same person again changes nothing anywhere and makes no duplicates', async () => {
    const before = await directory();
    const writes = cfWrites();
    const r = await call<HouseholdResult>('household:add', { profileId, member: amy });
    expect(r.ok).toBe(true);
    expect(r.steps.filter((s) => s.status !== 'unchanged').map((s) => [s.id, s.status, s.detail])).toEqual([]);
    expect(r.invite).toBeNull();
    expect(cfWrites()).toBe(writes);
    expect(await directory()).toEqual(before);
    expect(standIn.state.accessGroups.size).toBe(1);

    // Publishing again keeps the policies by role linked (it would otherwise put back only the household policy).
    const republished = await cloudflare.publish(profileId);
    expect(republished.ok).toBe(true);
    expect(Object.fromEntries(republished.steps.filter((s) => s.id.startsWith('household') || s.id.startsWith('access:')).map((s) => [s.id, s.status]))).toEqual({
      'household-groups': 'unchanged',
      'household-policies': 'unchanged',
      ...Object.fromEntries(Object.values(HOSTS).map((h) => [`access:${h}`, 'unchanged'])),
      'household-cleanup': 'unchanged',
    });
    expect(cfWrites()).toBe(writes);
    expect(accessLetsIn(HOSTS.jellyfin, amy.email)).toBe(true);
    expect(accessLetsIn(HOSTS.nextcloud, amy.email)).toBe(false);
  }, 120_000);

  it('gives a power user Jellyfin and Nextcloud with a one-time invite link, and an admin everything', async () => {
    await directory({ recoveryFlow: true });
    const bob = await call<HouseholdResult>('household:add', { profileId, member: { name: 'Bob', email: 'bob@example.com', role: 'power' } });
    expect(bob.ok).toBe(true);
    expect(bob.invite).toMatchObject({ kind: 'link', link: expect.stringMatching(/\/if\/flow\/[a-z-]+\/\?flow_token=[\w-]{20,}$/) });
    const pat = await call<HouseholdResult>('household:add', { profileId, member: { name: 'Pat', email: 'pat@example.com', role: 'admin' } });
    expect(pat.ok).toBe(true);
    expect([HOSTS.jellyfin, HOSTS.nextcloud].map((h) => accessLetsIn(h, 'bob@example.com'))).toEqual([true, true]);
    expect([await authentikLetsIn('jellyfin', 'bob@example.com'), await authentikLetsIn('nextcloud', 'bob@example.com')]).toEqual([true, true]);
    expect([await authentikLetsIn('jellyfin', 'pat@example.com'), await authentikLetsIn('nextcloud', 'pat@example.com')]).toEqual([true, true]);
    expect(Object.values(HOSTS).map((h) => accessLetsIn(h, 'pat@example.com'))).toEqual([true, true, true]);
    expect(accessLetsIn(HOSTS.nextcloud, amy.email)).toBe(false);
    expect(standIn.state.accessGroups.size).toBe(3);
    // The link is shown once, never kept: not in the log, not in the household's file.
    const link = bob.invite?.kind === 'link' ? bob.invite.link : '';
    expect(lines.join('\n')).not.toContain(link.split('flow_token=')[1]);
    expect(JSON.stringify(await call<HouseholdView>('household:view', { profileId }))).not.toContain('flow_token');
  }, 120_000);

  it('refuses a hostile name or address naming the field, and changes nothing', async () => {
    const writes = cfWrites();
    const before = await directory();
    for (const [member, field] of [
      [{ name: '$(reboot)', email: 'eve@example.com', role: 'media' }, 'member.name'],
      [{ name: 'Eve', email: 'eve@example.com\nx', role: 'media' }, 'member.email'],
      [{ name: 'Eve', email: "e'; rm -rf /@example.com", role: 'media' }, 'member.email'],
      [{ name: 'Eve', email: 'admin@example.com', role: 'media' }, 'member.email'],
    ] as const) {
      const err = await call('household:add', { profileId, member }).catch((e: unknown) => e);
      expect(err, JSON.stringify(member)).toMatchObject({ field, userMessage: expect.stringMatching(field === 'member.name' ? /^Name: / : /^Email: /) });
    }
    expect(cfWrites()).toBe(writes);
    expect(await directory()).toEqual(before);
  }, 60_000);

  it('removes a person: Access lets them in nowhere, their Authentik user is gone, and a role left empty loses its group', async () => {
    const r = await call<HouseholdResult>('household:remove', { profileId, email: amy.email });
    expect(r.ok, JSON.stringify(r.steps.filter((s) => s.status === 'failed'))).toBe(true);
    expect(r.member).toBeNull();
    expect(Object.values(HOSTS).map((h) => accessLetsIn(h, amy.email))).toEqual([false, false, false]);
    expect(await userOf(amy.email)).toBeUndefined();
    expect([...standIn.state.accessGroups.values()].map((g) => g.group.name).sort()).toEqual([`M2 Admin (${profileId})`, `M2 Power user (${profileId})`]);
    expect(accessLetsIn(HOSTS.jellyfin, 'bob@example.com')).toBe(true);
    const view = await call<HouseholdView>('household:view', { profileId });
    expect(view.members.map((m) => m.email).sort()).toEqual(['bob@example.com', 'pat@example.com']);
  }, 120_000);

  it('removing everyone leaves no household group or policy at Cloudflare and no member in Authentik', async () => {
    for (const email of ['bob@example.com', 'pat@example.com']) expect((await call<HouseholdResult>('household:remove', { profileId, email })).ok).toBe(true);
    expect(standIn.state.accessGroups.size).toBe(0);
    expect([...standIn.state.accessPolicies.values()].filter((p) => p.policy.name?.includes('by role'))).toEqual([]);
    const d = await directory();
    expect(d.users.map((u) => u.username)).toEqual(['akadmin']);
    expect(accessLetsIn(HOSTS.jellyfin, 'admin@example.com')).toBe(true);
    const again = await call<HouseholdResult>('household:remove', { profileId, email: 'bob@example.com' }).catch((e: unknown) => e);
    expect(again).toMatchObject({ code: 'household.not-found' });
  }, 120_000);

  it('without the Groups permission an add stays unfinished naming the permission, publishing keeps every site up, and adding again finishes it', async () => {
    const permission = 'Access: Organizations, Identity Providers, and Groups Write';
    const fault = standIn.faults.add({ kind: 'forbidden', method: 'POST', path: '/accounts/*/access/groups', permission, times: 'always' });
    const eve = { name: 'Eve', email: 'eve@example.com', role: 'power' as const };
    const r = await call<HouseholdResult>('household:add', { profileId, member: eve });
    expect(r.ok).toBe(false);
    expect(r.member?.state).toBe('adding');
    expect(r.steps.find((s) => s.id === 'cloudflare:household-groups')).toMatchObject({ status: 'failed', detail: expect.stringContaining(permission) });
    expect(accessLetsIn(HOSTS.nextcloud, eve.email)).toBe(false);

    const published = await cloudflare.publish(profileId);
    expect(published.steps.find((s) => s.id === 'household-groups')?.status).toBe('failed');
    expect(published.steps.filter((s) => s.id.startsWith('dns:') || s.id.startsWith('access:')).map((s) => s.status)).toEqual(Array(6).fill('unchanged'));
    expect(accessLetsIn(HOSTS.jellyfin, 'admin@example.com')).toBe(true);

    standIn.faults.remove(fault.id);
    const finished = await call<HouseholdResult>('household:add', { profileId, member: eve });
    expect(finished.ok).toBe(true);
    expect(finished.member?.state).toBe('active');
    expect(finished.invite).toBeNull();
    expect([HOSTS.jellyfin, HOSTS.nextcloud].map((h) => accessLetsIn(h, eve.email))).toEqual([true, true]);
    expect((await call<HouseholdResult>('household:remove', { profileId, email: eve.email })).ok).toBe(true);
    expect(standIn.state.accessGroups.size).toBe(0);
  }, 120_000);
});
