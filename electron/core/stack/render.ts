/**
 * Rendering the stack: settings + secrets → compose.yaml, the env files and the content-addressed module files.
 * Pure and deterministic: the same input gives byte-identical files (and the same digest). Only enabled modules
 * render; secrets reach compose.yaml only as `${NAME}` references into the 0600 env files.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { ModuleId, StackSettings } from '../../contract/stack';
import { moduleDeclaration } from '../../contract/stack-modules';
import { AppError } from '../errors';
import type { Secret } from '../secrets/secret';
import { renderEnvFile, toComposeYaml, varRefNames } from './compose-yaml';
import { stackModules } from './modules';
import type { ModuleContext, ModuleFile, ModuleOutput, NetworkName, RenderedFile, RenderedStack, SecretRequest, SecretValues, StackModule } from './types';
import { networkNames } from './types';
import { imageRefFor } from '../updates/image-ref';
import { pinnedImages, type ImageKey } from './versions';

/** The product's subnets: fixed, so trusted-proxy settings (Nextcloud, Authentik) name exactly the edge network. */
export const defaultSubnets: Readonly<Record<NetworkName, string>> = {
  edge: '172.30.80.0/24',
  internal: '172.30.81.0/24',
  media: '172.30.82.0/24',
};

export const defaultProject = 'm2';

export interface RenderOptions {
  /** Absolute `~/m2` on the server, e.g. /home/admin/m2; module files live under `<m2Dir>/files/`. */
  readonly m2Dir: string;
  /** Compose project name (`name:` in compose.yaml); `m2` unless a test needs its own. */
  readonly project?: string;
  /** Override subnets (tests on a shared engine: fixed subnets collide across projects). */
  readonly subnets?: Partial<Record<NetworkName, string>>;
  /**
   * Enabled modules to leave out of this render, e.g. `['cloudflared']` while the tunnel token does not exist yet
   * (it is the one secret the app cannot generate). Their services are simply absent from the release.
   */
  readonly skip?: readonly ModuleId[];
  /**
   * Enabled modules whose published ports are bound to the server's loopback address only, whatever the settings'
   * publishAddress: a service with a first-run wizard stays off the home network until the app has configured it.
   */
  readonly loopbackOnly?: readonly ModuleId[];
}

/** A service's published ports, each bound to 127.0.0.1 (the app reaches it there, or at its container address). */
function onLoopback(svc: Record<string, unknown>): Record<string, unknown> {
  if (!Array.isArray(svc.ports)) return svc;
  return { ...svc, ports: svc.ports.map((p: unknown) => (typeof p === 'object' && p !== null ? { ...p, host_ip: '127.0.0.1' } : p)) };
}

/** The modules that render for these settings, in the stable module order. */
export function activeModules(settings: StackSettings, skip: readonly ModuleId[] = []): StackModule[] {
  return stackModules.filter((m) => m.enabled(settings) && !skip.includes(m.id));
}

/**
 * Every secret the active modules need, each once, in module order. The stack service creates the missing ones
 * whose `generated` is true; a missing one with `generated: false` (the tunnel token) must be set by its step,
 * or the module skipped (`skip`).
 */
export function requiredSecrets(settings: StackSettings, opts: { skip?: readonly ModuleId[] } = {}): SecretRequest[] {
  const out = new Map<string, SecretRequest>();
  for (const m of activeModules(settings, opts.skip)) for (const r of m.secrets(settings)) if (!out.has(r.name)) out.set(r.name, r);
  return [...out.values()];
}

/** The content-addressed server path of a module file: `<m2Dir>/files/<first 16 hex of sha256(content)>/<name>`. */
export function moduleFilePath(m2Dir: string, file: ModuleFile): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(file.name)) throw new Error(`invalid module file name ${file.name}`);
  const hash = createHash('sha256').update(file.content, 'utf8').digest('hex').slice(0, 16);
  return path.posix.join(m2Dir, 'files', hash, file.name);
}

function digestOf(files: readonly RenderedFile[]): string {
  const h = createHash('sha256');
  for (const f of [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    h.update(`${f.path}\n${f.mode.toString(8)}\n${Buffer.byteLength(f.content, 'utf8')}\n`);
    h.update(f.content, 'utf8');
    h.update('\n');
  }
  return h.digest('hex');
}

const isImageKey = (key: string): key is ImageKey => Object.prototype.hasOwnProperty.call(pinnedImages, key);

function imageFor(settings: StackSettings, key: string): string {
  if (!isImageKey(key)) throw new Error(`no pinned image ${key}`);
  return imageRefFor(settings, key);
}

const cidr = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

function checkOptions(opts: RenderOptions): { project: string; subnets: Record<NetworkName, string> } {
  if (!path.posix.isAbsolute(opts.m2Dir) || /[\p{Cc}]/u.test(opts.m2Dir)) throw new Error(`m2Dir must be an absolute path: ${opts.m2Dir}`);
  const project = opts.project ?? defaultProject;
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(project)) throw new Error(`invalid compose project name ${project}`);
  const subnets = { ...defaultSubnets, ...opts.subnets };
  for (const n of networkNames) {
    const m = cidr.exec(subnets[n]);
    if (!m || m.slice(1, 5).some((o) => Number(o) > 255) || Number(m[5]) > 30) throw new Error(`invalid subnet for ${n}: ${subnets[n]}`);
  }
  return { project, subnets };
}

/**
 * Two services publishing the same port number cannot be told apart by the admin's router and firewall rules
 * (and with the same protocol cannot both start): each published port number is used once.
 */
function checkPorts(outputs: readonly ModuleOutput[]): ModuleOutput['ports'] {
  const all = outputs.flatMap((o) => o.ports);
  const seen = new Map<number, (typeof all)[number]>();
  for (const p of all) {
    const other = seen.get(p.port);
    if (other) {
      throw new AppError('stack.invalid-settings', `Port ${p.port} is used by both ${other.service} and ${p.service}: choose another port for one of them.`, { field: p.field });
    }
    seen.set(p.port, p);
  }
  return all;
}

/**
 * Render the stack. Throws AppError `stack.secret-missing` naming the first missing secret, and
 * `stack.invalid-settings` (with `field`) for settings that cannot render.
 */
export function renderStack(settings: StackSettings, secrets: SecretValues, opts: RenderOptions): RenderedStack {
  const { project, subnets } = checkOptions(opts);
  const modules = activeModules(settings, opts.skip);
  for (const r of requiredSecrets(settings, { skip: opts.skip })) {
    if (!secrets.has(r.name) && r.optional !== true) {
      throw new AppError('stack.secret-missing', `The secret ${r.name} is not set yet.`, {
        hint: r.generated ? 'Create the stack\'s secrets, then render again.' : 'Finish the step that provides it (for the tunnel token: the Cloudflare step), or leave that module out for now.',
      });
    }
  }

  const ctx: ModuleContext = {
    settings,
    secrets,
    image: (key) => imageFor(settings, key),
    fileRef: (file) => moduleFilePath(opts.m2Dir, file),
    subnets,
  };
  const outputs = modules.map((m) => {
    const out = m.render(ctx);
    if (out.module !== m.id) throw new Error(`module ${m.id} rendered as ${out.module}`);
    return out;
  });

  const services: Record<string, Record<string, unknown>> = {};
  const serviceModules: Record<string, ModuleId> = {};
  const serviceImages: Record<string, string> = {};
  const volumes: Record<string, Record<string, unknown>> = {};
  for (const out of outputs) {
    for (const [name, svc] of Object.entries(out.services)) {
      if (name in services) throw new Error(`service ${name} is rendered by both ${serviceModules[name] ?? '?'} and ${out.module}`);
      if (!Object.hasOwn(moduleDeclaration(out.module).services, name)) throw new Error(`service ${name} is not declared by module ${out.module}`);
      services[name] = opts.loopbackOnly?.includes(out.module) ? onLoopback(svc) : svc;
      serviceModules[name] = out.module;
      serviceImages[name] = String(svc.image);
    }
    for (const [name, v] of Object.entries(out.volumes ?? {})) {
      if (name in volumes) throw new Error(`volume ${name} is declared twice`);
      volumes[name] = v;
    }
  }
  const ports = checkPorts(outputs);

  const usedNetworks = new Set<string>();
  for (const svc of Object.values(services)) {
    // A list of names, or a map of name → per-network options (a fixed address).
    if (Array.isArray(svc.networks)) for (const n of svc.networks) usedNetworks.add(String(n));
    else if (svc.networks && typeof svc.networks === 'object') for (const n of Object.keys(svc.networks)) usedNetworks.add(n);
  }
  const networks: Record<string, Record<string, unknown>> = {};
  for (const n of networkNames) {
    if (!usedNetworks.has(n)) continue;
    networks[n] = { driver: 'bridge', ...(n === 'internal' ? { internal: true } : {}), ipam: { config: [{ subnet: subnets[n] }] } };
  }
  for (const n of usedNetworks) if (!(networkNames as readonly string[]).includes(n)) throw new Error(`unknown network ${n}`);

  const doc: Record<string, unknown> = {
    name: project,
    services,
    ...(Object.keys(networks).length > 0 ? { networks } : {}),
    ...(Object.keys(volumes).length > 0 ? { volumes } : {}),
  };
  const composeYaml = toComposeYaml(doc);

  const envFiles: RenderedFile[] = [];
  const envKeys = new Set<string>();
  const secretValues = new Map<string, Secret>();
  for (const out of outputs) {
    for (const ef of out.envFiles) {
      for (const [key, value] of ef.entries) {
        if (envKeys.has(key)) throw new Error(`env variable ${key} is declared by two env files`);
        envKeys.add(key);
        if (typeof value !== 'string') secretValues.set(value.reveal(), value);
      }
      const text = renderEnvFile(ef.entries);
      const rel = `env/${ef.name}.env`;
      if (envFiles.some((f) => f.path === rel)) throw new Error(`env file ${rel} rendered twice`);
      envFiles.push({ path: rel, content: text.content, masked: text.masked, mode: 0o600, secret: text.secret });
    }
  }
  for (const name of varRefNames(doc)) if (!envKeys.has(name)) throw new Error(`compose.yaml references \${${name}}, which no env file defines`);

  const moduleFiles = new Map<string, RenderedFile>();
  for (const out of outputs) {
    for (const f of out.files) {
      const p = moduleFilePath(opts.m2Dir, f);
      moduleFiles.set(p, { path: p, content: f.content, masked: f.content, mode: f.mode, secret: false });
    }
  }

  // Defence in depth: no secret value may appear in a file that is not a 0600 env file.
  for (const value of secretValues.keys()) {
    if (value.length < 8) continue;
    if (composeYaml.includes(value)) throw new Error('a secret value appears in compose.yaml');
    for (const f of moduleFiles.values()) if (f.content.includes(value)) throw new Error(`a secret value appears in module file ${f.path}`);
  }

  const releaseFiles: RenderedFile[] = [{ path: 'compose.yaml', content: composeYaml, masked: composeYaml, mode: 0o644, secret: false }, ...envFiles];
  const sortedModuleFiles = [...moduleFiles.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const hostDirs = [...new Set(outputs.flatMap((o) => o.hostDirs))].sort();

  return {
    releaseFiles,
    moduleFiles: sortedModuleFiles,
    envFiles: envFiles.map((f) => f.path),
    serviceModules,
    serviceImages,
    hostDirs,
    ports,
    secretValues: [...secretValues.values()],
    digest: digestOf([...releaseFiles, ...sortedModuleFiles]),
  };
}
