/**
 * Rotating the secrets the app generated (issue #13 §3, DESIGN.md §5): a new value, applied on the server where
 * the service can take it safely, proven, and only then the only value the keychain holds.
 *
 * What a rotation does depends on where the service keeps the value:
 * - read from the environment at every start (Redis's requirepass and Nextcloud's copy of it): a new release with
 *   the new env file, which recreates exactly the services that read it;
 * - kept by the service itself (a Postgres role's password, a Nextcloud user's password): changed there first with
 *   the service's own command, then the same new release (the env file must agree for the next install).
 * Secrets whose rotation would break something the app cannot repair (data encrypted with it, sessions, a backup
 * repository's key) are listed with the reason and not offered.
 *
 * Order, so that a failure at any point leaves a way back and a retry never rotates twice:
 *  1. the new value is generated once and kept as `<name>.rotating`; a retry uses it again;
 *  2. the old value is kept as `<name>.previous` before anything changes;
 *  3. the service's own change (idempotent: setting the same value again changes nothing);
 *  4. the keychain's value becomes the new one, and the stack is installed again as the keychain holds it (the
 *     apply engine: the 0600 env file uploaded with the new release and switched atomically, the services that
 *     read it recreated and health-checked, the previous release brought back when they fail);
 *  5. proof that the new value works (and, where the service can say so, that the old one no longer does);
 *  6. `.previous` and then `.rotating` are removed (each retried while the keychain is briefly locked; one that still
 *     fails after a proven rotation is a note in the result, not a failed rotation: see `classify` for why every
 *     state it leaves is finished by "Finish the rotation").
 * On a failure in 3–5 the keychain's value goes back to the old one and the service's own change is undone with it;
 * `.rotating` stays, so rotating again finishes with the same value. `.previous` goes only when the undo was complete:
 * while it is kept the server may want a value the keychain does not hold, and every other install is refused
 * (`assertInstallAllowed`) — it would write the keychain's value back and could leave, say, Authentik unable to reach
 * its database — until the rotation is finished.
 */
import YAML from 'yaml';
import type { RotationPlan, RotationResult } from '../../contract/accounts';
import type { ApplyResult, StackSettings } from '../../contract/stack';
import { AppError } from '../errors';
import type { Logger } from '../log';
import type { ServerOperations } from '../server-operations';
import { runChecked, type FailureWords } from '../ssh/remote-command';
import { Secret } from '../secrets/secret';
import { JELLYFIN_ADMIN_PASSWORD, JELLYFIN_API_KEY } from '../stack/configure/jellyfin';
import { containerAddresses, dockerArgv, findContainer, httpRequest, openEndpoint, pollUntil, type ConfigureTarget } from '../stack/configure/common';
import { renderStack, requiredSecrets } from '../stack/render';
import { generateSecretValue, type RandomBytes } from '../stack/secrets';
import type { SecretRequest } from '../stack/types';
import { alterRoleSql, occResetPasswordArgv, psqlArgv, redisPingArgv, stdinLine } from './rotation-commands';

/** Keychain names beside a secret while it is being rotated. */
export const rotatingName = (name: string): string => `${name}.rotating`;
export const previousName = (name: string): string => `${name}.previous`;

export interface RotationSecrets {
  get(profileId: string, name: string): Promise<Secret | undefined>;
  set(profileId: string, name: string, value: Secret): Promise<void>;
  delete(profileId: string, name: string): Promise<boolean>;
}

/** What a rotation does on the running services; the real commands by default, scripted in unit tests. */
export interface ServiceOps {
  /** Set a Postgres role's password inside its database container (psql over the local socket, SQL on stdin). */
  setRolePassword(target: ConfigureTarget, db: { service: string; role: string; name: string }, value: Secret): Promise<void>;
  /** Set a Nextcloud user's password (`occ user:resetpassword --password-from-env`, OC_PASS from stdin). */
  setNextcloudPassword(target: ConfigureTarget, user: string, value: Secret): Promise<void>;
  /** Whether Nextcloud signs this user in with this password (HTTP Basic at its OCS API, through an SSH forward). */
  nextcloudAccepts(target: ConfigureTarget, user: string, value: Secret): Promise<boolean>;
  /** Whether Redis takes this password (`redis-cli ping` in its container, REDISCLI_AUTH from stdin). */
  redisAccepts(target: ConfigureTarget, service: string, value: Secret): Promise<boolean>;
  /** Whether Authentik is ready, which includes its database accepting its login. */
  authentikReady(target: ConfigureTarget): Promise<boolean>;
}

export interface RotationDeps {
  readonly settings: (profileId: string) => Promise<StackSettings>;
  readonly secrets: RotationSecrets;
  /** The connection to the server, how it reaches Docker, and the Compose project. */
  readonly target: (profileId: string) => Promise<ConfigureTarget>;
  /**
   * Install the stack as the keychain holds it now (StackService.apply), as this rotation's own install of `secret`:
   * the one install `assertInstallAllowed` lets through while the rotation runs.
   */
  readonly redeploy: (profileId: string, secret: string) => Promise<ApplyResult>;
  /** Whether a release of the stack runs on the server. */
  readonly installed: (profileId: string) => Promise<boolean>;
  readonly log: Logger;
  readonly random?: RandomBytes;
  readonly ops?: ServiceOps;
  /** Pause between tries of a keychain delete in the clean-up (the keychain may be locked for a moment); default 500 ms. */
  readonly keychainRetryMs?: number;
  /** The server's one operation at a time: a rotation is refused while a restore or an update runs (its own install passes). */
  readonly operations?: ServerOperations;
}

/**
 * What the keychain's three entries of one secret (`<name>`, `.rotating`, `.previous`) say about its rotation, and so
 * what "Finish the rotation" (or "Rotate now") does. The rotation writes them only in this order: `.rotating` (the
 * new value), `.previous` (the old one, never equal to the new one), `<name>` := new, then deletes `.previous`, then
 * `.rotating`; its undo writes `<name>` := old, then deletes `.previous` when the server is set back. So:
 * - `fresh`: nothing under way. A new value is generated; the old one is `<name>` (or, when only `.previous` is left
 *   of it, that).
 * - `resume`: a rotation stopped with a new value made: it is finished with that value (`next`), never a second
 *   one; `old` is `.previous`, or `<name>` when nothing was kept aside yet (a clean undo, or a stop after step 1).
 *   `.previous` present but `<name>` already new: the stop came after step 4, or the clean-up could not delete
 *   `.previous` — rotating again with the same value is harmless either way. `.rotating` gone but `<name>` differing
 *   from `.previous`: `<name>` is the new value.
 * - `done`: the rotation had finished and been proven; only its copies are left (`<name>` equals `.rotating` with no
 *   different `.previous`: only the clean-up writes that). Finishing removes them; nothing on the server changes.
 * - `missing`: the keychain holds no value to rotate from.
 * A `.previous` equal to `.rotating` holds nothing to go back to and is ignored (rewritten when the old value is kept).
 */
export type RotationState =
  | { readonly kind: 'fresh'; readonly old: Secret; readonly keepOld: boolean }
  | { readonly kind: 'resume'; readonly next: Secret; readonly old: Secret; readonly keepOld: boolean; readonly keepNext: boolean }
  | { readonly kind: 'done' }
  | { readonly kind: 'missing' };

/**
 * Whether an install must wait: a `.previous` that holds an old value the server may still expect (not when the
 * rotation had finished, `done`, nor when it only repeats `.rotating`: then there is nothing to go back to).
 */
export function blocksInstall(state: RotationState, rotating: Secret | undefined, previous: Secret | undefined): boolean {
  if (!previous || state.kind === 'done') return false;
  return rotating === undefined || rotating.reveal() !== previous.reveal();
}

export function classify(current: Secret | undefined, rotating: Secret | undefined, previous: Secret | undefined): RotationState {
  const same = (a: Secret | undefined, b: Secret | undefined): boolean => a !== undefined && b !== undefined && a.reveal() === b.reveal();
  const prev = previous && !same(previous, rotating) ? previous : undefined;
  if (rotating) {
    if (same(current, rotating) && !prev) return { kind: 'done' };
    if (prev) return { kind: 'resume', next: rotating, old: prev, keepOld: false, keepNext: false };
    if (current) return { kind: 'resume', next: rotating, old: current, keepOld: true, keepNext: false };
    return { kind: 'missing' };
  }
  if (prev) {
    if (!current) return { kind: 'fresh', old: prev, keepOld: false };
    if (same(current, prev)) return { kind: 'done' };
    return { kind: 'resume', next: current, old: prev, keepOld: false, keepNext: true };
  }
  return current ? { kind: 'fresh', old: current, keepOld: true } : { kind: 'missing' };
}

interface Spec {
  readonly title: string;
  readonly accountId?: string;
  /** Compose services that read it (found in the rendered stack, so the plan cannot drift from the modules). */
  readonly live?: {
    /** The plan's line for the service's own change. */
    readonly describe: (s: StackSettings) => string;
    readonly change: (ops: ServiceOps, t: ConfigureTarget, s: StackSettings, value: Secret) => Promise<void>;
  };
  /** The plan's line for the proof, and the proof: throws with what did not work. */
  readonly proveLine: string;
  readonly prove: (ops: ServiceOps, t: ConfigureTarget, s: StackSettings, next: Secret, old: Secret) => Promise<void>;
}

const AUTHENTIK_DB = { service: 'authentik-db', role: 'authentik', name: 'authentik' } as const;

/** The secrets a household admin can rotate here, and how. */
const SPECS: Readonly<Record<string, Spec>> = {
  'nextcloud.admin-password': {
    title: 'Nextcloud admin password',
    accountId: 'nextcloud-admin',
    live: {
      describe: (s) => `Set the new password for ${s.modules.nextcloud.adminUser} in Nextcloud (occ user:resetpassword, the password on standard input).`,
      change: (ops, t, s, v) => ops.setNextcloudPassword(t, s.modules.nextcloud.adminUser, v),
    },
    proveLine: 'Sign in to Nextcloud with the new password, and check that the old one is refused.',
    prove: async (ops, t, s, next, old) => {
      const user = s.modules.nextcloud.adminUser;
      if (!(await ops.nextcloudAccepts(t, user, next))) throw new Error(`Nextcloud did not sign ${user} in with the new password`);
      if (await ops.nextcloudAccepts(t, user, old)) throw new Error(`Nextcloud still signs ${user} in with the old password`);
    },
  },
  'nextcloud.redis-password': {
    title: 'Nextcloud’s Redis password',
    proveLine: 'Check that Redis takes the new password and refuses the old one.',
    prove: async (ops, t, _s, next, old) => {
      if (!(await ops.redisAccepts(t, 'nextcloud-redis', next))) throw new Error('Redis did not take the new password');
      if (await ops.redisAccepts(t, 'nextcloud-redis', old)) throw new Error('Redis still takes the old password');
    },
  },
  'authentik.db-password': {
    title: 'Authentik’s database password',
    live: {
      describe: () => `Set the new password for the database role ${AUTHENTIK_DB.role} in ${AUTHENTIK_DB.service} (ALTER ROLE through psql, on standard input).`,
      change: (ops, t, _s, v) => ops.setRolePassword(t, AUTHENTIK_DB, v),
    },
    proveLine: 'Check that Authentik is ready again (it signs in to its database with the new password).',
    prove: async (ops, t) => {
      if (!(await ops.authentikReady(t))) throw new Error('Authentik is not ready with the new database password');
    },
  },
};

/** Why the others are not offered: said in the list, beside each. */
const NOT_ROTATABLE: Readonly<Record<string, { title: string; reason: string; accountId?: string }>> = {
  'nextcloud.db-password': {
    title: 'Nextcloud’s database password',
    reason: 'Nextcloud keeps this password in its own config.php as well, and occ cannot change it there while the database refuses the old one; rotating it safely needs maintenance mode and is not offered yet.',
  },
  'nextcloud.oidc-secret': {
    title: 'Single sign-on client secret (Nextcloud ↔ Authentik)',
    reason: 'Authentik and Nextcloud hold it separately; sign-in through Authentik would fail between the two changes. Not offered yet.',
  },
  'authentik.bootstrap-password': {
    title: 'Authentik admin password (akadmin)',
    accountId: 'authentik-admin',
    reason: 'Authentik reads it only on its first start; a new one must be set through Authentik’s own API, which this version does not do yet. Change it in Authentik (Admin → Directory → Users) and keep it yourself.',
  },
  'authentik.ldap-bind-password': {
    title: 'Jellyfin’s LDAP account in Authentik (m2-ldap-bind)',
    reason: 'Authentik (through its blueprint) and Jellyfin’s LDAP plugin hold it separately; Jellyfin sign-ins through Authentik would fail between the two changes. Not offered yet.',
  },
  'authentik.bootstrap-token': {
    title: 'Authentik API token',
    reason: 'Authentik creates this token only on its first start; the app configures Authentik with it.',
  },
  'authentik.secret-key': {
    title: 'Authentik secret key',
    reason: 'Authentik signs sessions and tokens with it: changing it signs everyone out and can break what it signed.',
  },
  'backup.restic-password': {
    title: 'Backup repository password',
    reason: 'It is the key of the backup repository: a new one needs restic to add a key and remove the old one, which is not done yet. Changing it alone would lock you out of your backups.',
  },
  [JELLYFIN_ADMIN_PASSWORD.name]: {
    title: 'Jellyfin admin password',
    accountId: 'jellyfin-admin',
    reason: 'Jellyfin keeps it in its own user database; changing it through Jellyfin’s API is not done yet. Change it in Jellyfin (Dashboard → Users).',
  },
  [JELLYFIN_API_KEY.name]: {
    title: 'Jellyfin API key',
    reason: 'The app made it through Jellyfin’s API and configures Jellyfin with it.',
  },
};

const rotationFailed = (message: string, hint: string, cause?: unknown): AppError => new AppError('accounts.rotation-failed', message, { hint, ...(cause === undefined ? {} : { cause }) });

/** The Compose services that read `secret`, from the stack as these settings render it (placeholder values). */
export function servicesReading(settings: StackSettings, secret: string): string[] {
  const requests = requiredSecrets(settings, { skip: ['cloudflared'] });
  const values = new Map(requests.map((r, i) => [r.name, new Secret(`M2ROTATIONPLACEHOLDER${String(i).padStart(4, '0')}x`)] as const));
  const mine = values.get(secret);
  if (!mine) return [];
  const rendered = renderStack(settings, values, { m2Dir: '/m2', skip: ['cloudflared'] });
  const vars = new Set<string>();
  for (const f of rendered.releaseFiles) {
    if (!f.secret) continue;
    for (const line of f.content.split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0 && line.slice(eq + 1).includes(mine.reveal())) vars.add(line.slice(0, eq));
    }
  }
  const compose = rendered.releaseFiles.find((f) => f.path === 'compose.yaml');
  const doc = compose ? (YAML.parse(compose.content) as { services?: Record<string, unknown> }) : {};
  const out: string[] = [];
  for (const [name, svc] of Object.entries(doc.services ?? {})) {
    const text = JSON.stringify(svc);
    if ([...vars].some((v) => text.includes(`\${${v}}`))) out.push(name);
  }
  return out.sort();
}

export class SecretRotation {
  readonly #deps: RotationDeps;
  readonly #ops: ServiceOps;
  /** profile → the secret being rotated there. */
  readonly #running = new Map<string, string>();

  constructor(deps: RotationDeps) {
    this.#deps = deps;
    this.#ops = deps.ops ?? realOps;
  }

  /**
   * Asked before every install of the stack (StackService's `beforeInstall`), and by its review. An install writes
   * the keychain's values to the server; while a rotation runs, or one stopped without setting the server back (the
   * old value still kept aside), the server may want a value the keychain does not hold, and the install would leave
   * the services that read it unable to use it. Refused then, naming the secret and what to do. The rotation's own
   * installs (`finishing`: the secret it is rotating now) go through: they are the ones that finish it.
   */
  async assertInstallAllowed(profileId: string, finishing?: string): Promise<void> {
    const running = this.#running.get(profileId);
    if (running !== undefined) {
      if (finishing === running) return;
      throw new AppError('accounts.rotation-busy', `Install: ${titleOf(running)} is being rotated on this server right now; an install would get in its way.`, {
        hint: 'Wait until the rotation (Settings → Secrets → Rotation) has finished, then install.',
      });
    }
    const left = await this.#unfinished(profileId);
    if (!left) return;
    const readers = await this.#deps.settings(profileId).then(
      (s) => servicesReading(s, left),
      () => [],
    );
    throw new AppError(
      'accounts.rotation-unfinished',
      `Install: the rotation of ${titleOf(left)} did not finish, and the server may still expect its new value. Installing now would write the old value back${readers.length > 0 ? ` and could stop ${readers.join(', ')}` : ''}.`,
      { hint: 'Finish the rotation in Settings → Secrets → Rotation first (“Finish the rotation” uses the same new value), then install.' },
    );
  }

  /**
   * A secret whose rotation stopped without setting the server back (its old value still kept aside, `blocksInstall`),
   * other than `except`.
   */
  async #unfinished(profileId: string, except?: string): Promise<string | undefined> {
    for (const name of Object.keys(SPECS)) {
      if (name === except || (await this.#deps.secrets.get(profileId, previousName(name))) === undefined) continue;
      if ((await this.#state(profileId, name)).blocksInstall) return name;
    }
    return undefined;
  }

  /** Every secret the app generated for this server, with what rotating it does, or why it is not offered. */
  async plans(profileId: string): Promise<RotationPlan[]> {
    const settings = await this.#deps.settings(profileId);
    const out: RotationPlan[] = [];
    for (const req of generatedSecrets(settings)) {
      const state = await this.#state(profileId, req.name);
      out.push(this.#plan(settings, req.name, state.current !== undefined, state));
    }
    return out;
  }

  async #state(profileId: string, name: string): Promise<RotationState & { current: Secret | undefined; blocksInstall: boolean }> {
    const { secrets } = this.#deps;
    const current = await secrets.get(profileId, name);
    const rotating = await secrets.get(profileId, rotatingName(name));
    const previous = await secrets.get(profileId, previousName(name));
    const state = classify(current, rotating, previous);
    return { ...state, current, blocksInstall: blocksInstall(state, rotating, previous) };
  }

  /**
   * The plan as the keychain's state makes it: `unfinished` (the button reads "Finish the rotation") whenever there is
   * something to finish, and always while Install waits for this rotation, so that a refused Install always has a
   * button that finishes the rotation.
   */
  #plan(settings: StackSettings, name: string, passwordSet: boolean, state: RotationState & { blocksInstall: boolean }): RotationPlan {
    const unfinished = state.kind === 'resume' || state.kind === 'done' || state.blocksInstall;
    const spec = SPECS[name];
    if (!spec) {
      const no = NOT_ROTATABLE[name] ?? { title: name, reason: 'The app does not know how to change it on the running service.' };
      return { secret: name, title: no.title, ...(no.accountId ? { accountId: no.accountId } : {}), passwordSet, rotatable: false, reason: no.reason, steps: [], restarts: [], unfinished };
    }
    if (state.kind === 'done') {
      const steps = ['Nothing changes on the server: the earlier rotation had finished, and the server and the keychain use the new value.', 'Remove the copies the rotation kept beside it in the keychain.'];
      return { secret: name, title: spec.title, ...(spec.accountId ? { accountId: spec.accountId } : {}), passwordSet, rotatable: true, steps, restarts: [], unfinished };
    }
    const restarts = servicesReading(settings, name);
    const steps = [
      state.kind === 'resume' ? 'Use the new value the unfinished rotation made (nothing new is generated).' : 'Generate a new value and keep it in the keychain beside the current one.',
      ...(spec.live ? [spec.live.describe(settings)] : []),
      `Install the stack again with the new value in its env file (0600): this restarts ${restarts.join(', ') || 'nothing'}, and waits until they are healthy; if they are not, the previous release comes back.`,
      spec.proveLine,
      'Keep the new value as the only one in the keychain.',
    ];
    return { secret: name, title: spec.title, ...(spec.accountId ? { accountId: spec.accountId } : {}), passwordSet, rotatable: true, steps, restarts, unfinished };
  }

  async rotate(profileId: string, name: string): Promise<RotationResult> {
    // One at a time per server: each installs the stack as the keychain holds it, so two would install each other's
    // half-done values.
    const running = this.#running.get(profileId);
    if (running !== undefined) {
      throw new AppError('accounts.rotation-busy', running === name ? 'Secret: it is already being rotated.' : `Secret: ${SPECS[running]?.title ?? running} is being rotated on this server; one rotation runs at a time.`, {
        field: 'secret',
        hint: 'Wait for it to finish, then rotate this one.',
      });
    }
    const ops = this.#deps.operations;
    const rotate = async (): Promise<RotationResult> => {
      this.#running.set(profileId, name);
      try {
        return await this.#rotate(profileId, name);
      } finally {
        this.#running.delete(profileId);
      }
    };
    return ops ? ops.exclusive(profileId, `a rotation of ${SPECS[name]?.title ?? name}`, 'accounts.rotation-busy', rotate) : rotate();
  }

  async #rotate(profileId: string, name: string): Promise<RotationResult> {
    const { secrets, log } = this.#deps;
    const settings = await this.#deps.settings(profileId);
    const request = generatedSecrets(settings).find((r) => r.name === name);
    if (!request) {
      throw new AppError('accounts.not-rotatable', `Secret: this server’s stack has no secret “${name}”.`, { field: 'secret', hint: 'Choose a secret from the list.' });
    }
    const spec = SPECS[name];
    const plan = this.#plan(settings, name, true, { kind: 'missing', blocksInstall: false });
    if (!spec) throw new AppError('accounts.not-rotatable', `${plan.title}: it cannot be rotated here.`, { field: 'secret', ...(plan.reason ? { hint: plan.reason } : {}) });
    if (!(await this.#deps.installed(profileId))) {
      throw new AppError('accounts.not-rotatable', `${spec.title}: the stack is not installed on this server yet.`, { field: 'secret', hint: 'Install the stack first; a secret is rotated on the running services.' });
    }
    // This rotation's install writes every secret as the keychain holds it, another unfinished one's old value too.
    const other = await this.#unfinished(profileId, name);
    if (other !== undefined) {
      throw new AppError('accounts.rotation-unfinished', `${spec.title}: the rotation of ${titleOf(other)} did not finish; it comes first.`, {
        field: 'secret',
        hint: `Finish the rotation of ${titleOf(other)} first (“Finish the rotation” beside it), then rotate this one.`,
      });
    }

    const state = await this.#state(profileId, name);
    if (state.kind === 'missing') {
      throw new AppError('accounts.not-generated', `${spec.title}: it has not been generated yet, so there is nothing to rotate.`, { field: 'secret', hint: 'Install the stack first.' });
    }
    if (state.kind === 'done') return this.#removeLeftovers(profileId, name, spec);
    // 1. The new value, made once. 2. The old value, kept before anything changes.
    let next: Secret;
    const old = state.old;
    const resumed = state.kind === 'resume';
    if (state.kind === 'resume') {
      next = state.next;
      if (state.keepNext) await secrets.set(profileId, rotatingName(name), next);
    } else {
      next = generateSecretValue(request.kind, this.#deps.random);
      await secrets.set(profileId, rotatingName(name), next);
    }
    if (state.keepOld) await secrets.set(profileId, previousName(name), old);
    log.info(`rotating ${name}`, { profile: profileId, secret: name, resumed });

    const target = await this.#deps.target(profileId);
    let stage: 'service' | 'install' | 'proof' = 'service';
    let applied: ApplyResult | undefined;
    try {
      // 3. The service's own change.
      if (spec.live) await spec.live.change(this.#ops, target, settings, next);
      // 4. The keychain's value, then the install that writes it to the env file and restarts what reads it.
      stage = 'install';
      await secrets.set(profileId, name, next);
      applied = await this.#deps.redeploy(profileId, name);
      if (applied.kind !== 'applied') {
        const failed = applied.report.failedService ? ` (${applied.report.failedService} did not become healthy)` : '';
        throw new Error(`the services did not start with the new value${failed}; the previous release runs again`);
      }
      // 5. Proof.
      stage = 'proof';
      await spec.prove(this.#ops, target, settings, next, old);
    } catch (err) {
      // A release that was rolled back runs with the old env file already; after an install that went live, or one
      // whose end was not heard (a cut connection), the old value is installed again.
      // An install refused because another one runs (stack.busy) never started.
      const neverStarted = err instanceof AppError && err.code === 'stack.busy';
      const reinstall = stage !== 'service' && applied?.kind !== 'rolled-back' && !neverStarted;
      const { undone, keptAside } = await this.#undo(profileId, name, spec, target, settings, old, reinstall);
      const what = err instanceof AppError ? err.userMessage : err instanceof Error ? err.message : String(err);
      log.warn(`rotating ${name} failed`, { profile: profileId, secret: name, stage, undone, keptAside });
      const back = undone
        ? `The old value is back in place and still works${keptAside ? ' (the keychain also kept its copy beside it, so Install waits until the rotation is finished)' : ''}.`
        : 'The old value is back in the keychain, but the server could not be set back to it.';
      throw rotationFailed(
        `${spec.title}: the rotation stopped (${stageText[stage]}: ${what}). ${back}`,
        undone
          ? 'Rotate again when the cause is fixed: the same new value is used, nothing is generated twice.'
          : 'Rotate again to finish: the same new value is used. Until then the service may want the new value (Reveal shows the old one).',
        err,
      );
    }
    // 6. The new value is the only one. The rotation is proven: a keychain that refuses the clean-up is a note, and
    // what it leaves is finished by "Finish the rotation" (`.previous` kept: the same value again; only `.rotating`
    // kept: `done`, the copies removed). `.rotating` is kept while `.previous` is, so that state stays `resume`.
    log.info(`rotated ${name}`, { profile: profileId, secret: name, releaseId: applied.releaseId, resumed });
    const restarted = applied.services.filter((s) => s.action === 'recreate' || s.action === 'create').map((s) => s.service);
    const shown = restarted.length > 0 ? restarted : plan.restarts;
    let note = '';
    if (!(await this.#deleteRetried(profileId, previousName(name)))) {
      note = ` The keychain did not let the app remove the old value it kept aside, so Install waits: “Finish the rotation” removes it (it checks the new value again; nothing new is generated).`;
    } else if (!(await this.#deleteRetried(profileId, rotatingName(name)))) {
      note = ` The keychain did not let the app remove the copy of the new value it kept while rotating; “Finish the rotation” removes it (nothing on the server changes).`;
    }
    return {
      secret: name,
      releaseId: applied.releaseId,
      restarted: shown,
      resumed,
      message: `${spec.title} rotated: ${shown.join(', ')} restarted with the new value, and it works.${note}`,
    };
  }

  /** "Finish the rotation" after a rotation that had finished: only its copies in the keychain go (`.previous` first). */
  async #removeLeftovers(profileId: string, name: string, spec: Spec): Promise<RotationResult> {
    for (const entry of [previousName(name), rotatingName(name)]) {
      if ((await this.#deps.secrets.get(profileId, entry)) === undefined) continue;
      if (!(await this.#deleteRetried(profileId, entry))) {
        throw new AppError('accounts.rotation-failed', `${spec.title}: the rotation had finished, but the keychain did not let the app remove the copies it kept while rotating.`, {
          hint: 'Unlock your keychain (or wait a moment), then “Finish the rotation” again; nothing on the server changes.',
        });
      }
    }
    this.#deps.log.info(`rotated ${name}`, { profile: profileId, secret: name, leftovers: true });
    return {
      secret: name,
      restarted: [],
      resumed: true,
      message: `${spec.title}: the earlier rotation had finished; the server and the keychain use the new value. The copies kept while rotating are removed.`,
    };
  }

  /** Delete a keychain entry, trying three times (a keychain can be locked for a moment); false when it still fails. */
  async #deleteRetried(profileId: string, entry: string): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#deps.secrets.delete(profileId, entry);
        return true;
      } catch (err) {
        if (attempt >= 3) {
          this.#deps.log.warn('could not remove a rotation’s copy from the keychain', { profile: profileId, entry, error: err instanceof Error ? err.message : String(err) });
          return false;
        }
        await new Promise((r) => setTimeout(r, this.#deps.keychainRetryMs ?? 500));
      }
    }
  }

  /**
   * Back to the old value: the keychain first (it is what the next install writes), then the service's own change,
   * then, when the new release may have gone live, an install with the old value. True when all of it worked; then
   * the server and the keychain agree again, and the old value kept aside goes (installs are allowed again; the new
   * value stays as `.rotating` for the retry). `keptAside`: that removal failed, so Install still waits (safe: the
   * state is `resume`, and "Finish the rotation" completes it).
   */
  async #undo(profileId: string, name: string, spec: Spec, target: ConfigureTarget, settings: StackSettings, old: Secret, reinstall: boolean): Promise<{ undone: boolean; keptAside: boolean }> {
    let ok = true;
    try {
      await this.#deps.secrets.set(profileId, name, old);
    } catch {
      ok = false;
    }
    if (spec.live) {
      try {
        await spec.live.change(this.#ops, target, settings, old);
      } catch {
        ok = false;
      }
    }
    if (reinstall) {
      try {
        ok = (await this.#deps.redeploy(profileId, name)).kind === 'applied' && ok;
      } catch {
        ok = false;
      }
    }
    if (!ok) return { undone: false, keptAside: true };
    return { undone: true, keptAside: !(await this.#deleteRetried(profileId, previousName(name))) };
  }
}

const titleOf = (name: string): string => SPECS[name]?.title ?? name;

const stageText = { service: 'changing it on the service', install: 'installing the stack with it', proof: 'checking that it works' } as const;

/** The secrets the app generated for these settings, in the order the modules ask for them, with Jellyfin's. */
function generatedSecrets(settings: StackSettings): SecretRequest[] {
  const out = requiredSecrets(settings).filter((r) => r.generated);
  if (settings.modules.jellyfin.enabled) out.push(JELLYFIN_ADMIN_PASSWORD, JELLYFIN_API_KEY);
  return out;
}

// ---------------------------------------------------------------------------------------------------
// The real commands

/**
 * What a failed command of a rotation says: `<what> exited N: <its first two lines>` (masked), which the rotation's
 * error quotes as the reason; the command, its status and stderr go to the log as the cause.
 */
const commandWords = (what: string): FailureWords => ({
  code: 'accounts.rotation-failed',
  message: (_said, { output, status, exitCode }) => {
    const lines = output
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .slice(0, 2)
      .join(' ');
    return `${what} ${exitCode !== null ? `exited ${exitCode}` : `ended (${status})`}${lines ? `: ${lines}` : ''}`;
  },
  hint: 'Rotate again when the cause is fixed.',
});

export const realOps: ServiceOps = {
  async setRolePassword(t, db, value) {
    const id = await findContainer(t, 'authentik', db.service);
    await runChecked(t.conn, dockerArgv(t, psqlArgv(id, db.role, db.name)), commandWords(`psql in ${db.service}`), {
      secrets: [value],
      exec: { stdin: alterRoleSql(db.role, value), timeoutMs: 30_000 },
    });
  },
  async setNextcloudPassword(t, user, value) {
    const id = await findContainer(t, 'nextcloud', 'nextcloud');
    await runChecked(t.conn, dockerArgv(t, occResetPasswordArgv(id, user)), commandWords('occ user:resetpassword'), {
      secrets: [value],
      exec: { stdin: stdinLine(value), timeoutMs: 60_000 },
    });
  },
  async nextcloudAccepts(t, user, value) {
    const id = await findContainer(t, 'nextcloud', 'nextcloud');
    const ep = await openEndpoint(t, 'nextcloud', (await containerAddresses(t, id)).map((host) => ({ host, port: 80 })), '/status.php');
    try {
      const auth = Buffer.from(`${user}:${value.reveal()}`, 'utf8').toString('base64');
      // 'nextcloud' is among its trusted domains (the module's NEXTCLOUD_TRUSTED_DOMAINS).
      const res = await httpRequest(ep.port, 'GET', '/ocs/v2.php/cloud/user?format=json', { headers: { host: 'nextcloud', authorization: `Basic ${auth}`, 'ocs-apirequest': 'true' } });
      if (res.status !== 200 && res.status !== 401) throw new Error(`Nextcloud answered ${res.status} at its OCS API`);
      return res.status === 200;
    } finally {
      await ep.close();
    }
  },
  async redisAccepts(t, service, value) {
    const id = await findContainer(t, 'nextcloud', service);
    // redis-cli exits 1 when Redis refuses the password; anything else (Docker's own 125–127, a signal) is not an answer.
    const r = await runChecked(t.conn, dockerArgv(t, redisPingArgv(id)), commandWords(`redis-cli in ${service}`), {
      ok: [0, 1],
      secrets: [value],
      exec: { stdin: stdinLine(value), timeoutMs: 30_000 },
    });
    return r.code === 0 && r.stdout.trim() === 'PONG';
  },
  async authentikReady(t) {
    const ready = await pollUntil(
      async () => {
        const id = await findContainer(t, 'authentik', 'authentik-server');
        const ep = await openEndpoint(t, 'authentik', (await containerAddresses(t, id)).map((host) => ({ host, port: 9000 })), '/-/health/live/');
        try {
          return (await httpRequest(ep.port, 'GET', '/-/health/ready/')).status === 200 ? true : undefined;
        } finally {
          await ep.close();
        }
      },
      { timeoutMs: 60_000, intervalMs: 2_000 },
    );
    return ready === true;
  },
};
