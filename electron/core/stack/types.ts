/**
 * The shapes shared by the stack's modules, renderer, planner and apply engine. A module is a pure function
 * from settings (and the secrets it asked for) to compose services, networks, volumes, env files and files.
 */
import type { ModuleId, StackSettings } from '../../contract/stack';
import type { Secret } from '../secrets/secret';

/**
 * A reference to a variable of the release's env files, rendered as `${NAME}` in compose.yaml. It is the only
 * way a `$` reaches compose.yaml unescaped: every plain string is written with `$` doubled, so a media path
 * like `/srv/$(x)` stays literal. Secrets reach containers this way, interpolated by `docker compose` from the
 * 0600 env files given with `--env-file` (not the service-level `env_file:`, whose path would enter Compose's
 * config hash and recreate every container on every release).
 */
export class VarRef {
  constructor(readonly name: string) {
    if (!/^[A-Z][A-Z0-9_]*$/.test(name)) throw new Error(`invalid env variable name ${name}`);
  }
}
export const varRef = (name: string): VarRef => new VarRef(name);

/** A compose service as a plain object (the Compose Specification's shape); strings, numbers, booleans, arrays, objects and VarRefs. */
export type ComposeService = Record<string, unknown>;

/** The stack's networks (DESIGN.md §4): web apps and cloudflared; databases without egress; downloaders. */
export const networkNames = ['edge', 'internal', 'media'] as const;
export type NetworkName = (typeof networkNames)[number];

/**
 * An env file's entries. A `Secret` value is written in full to the server (0600) and masked in every preview.
 * Files are rendered with keys in the order given (modules keep it stable).
 */
export type EnvEntries = ReadonlyArray<readonly [key: string, value: string | Secret]>;

/**
 * A module's env file, uploaded as `env/<name>.env` inside the release, mode 0600, passed to every compose
 * command with `--env-file`. Keys are unique across modules (prefixed with the module, e.g. `NEXTCLOUD_DB_PASSWORD`).
 */
export interface EnvFile {
  readonly name: string;
  readonly entries: EnvEntries;
}

/**
 * A module file that containers mount (a blueprint, a script). Kept outside releases, content-addressed at
 * `~/m2/files/<sha256-16>/<name>`, so an unchanged file keeps its path (and its container keeps running)
 * across releases, and a changed one gets a new path (and recreates exactly the services that mount it).
 */
export interface ModuleFile {
  /** Base name on the server, e.g. `m2-apps.yaml`. */
  readonly name: string;
  readonly content: string;
  /** 0o644 for configs and scripts; secrets never go into module files (they go through env files). */
  readonly mode: number;
}

/** The secret names a module needs; the stack service creates missing ones (CSPRNG) in the keychain. */
export interface SecretRequest {
  /** Keychain name, `<module>.<what>`, e.g. `nextcloud.db-password`. */
  readonly name: string;
  /** 'token' = 32 random bytes as base64url (43 chars, no `$`, quotes or `=`); 'password' = 24 chars of [A-Za-z0-9]. */
  readonly kind: 'token' | 'password' | 'hex32';
  /** False for secrets the app cannot generate (e.g. the Cloudflare tunnel token): rendering waits until one is set. */
  readonly generated: boolean;
  /**
   * True for a secret the stack renders without: the module leaves out what needs it until it is set (Authentik's
   * LDAP outpost token, which Authentik makes after its first start). Never generated.
   */
  readonly optional?: boolean;
}

export type SecretValues = ReadonlyMap<string, Secret>;

/** Everything one module contributes. */
export interface ModuleOutput {
  readonly module: ModuleId;
  readonly services: Readonly<Record<string, ComposeService>>;
  /** Named volumes (Compose project-scoped, e.g. `m2_nextcloud-html`). */
  readonly volumes?: Readonly<Record<string, Record<string, unknown>>>;
  readonly envFiles: readonly EnvFile[];
  readonly files: readonly ModuleFile[];
  /** Host folders the apply step creates (owned by the admin) before starting anything. */
  readonly hostDirs: readonly string[];
  /** Host ports published on the server: checked free before apply. */
  readonly ports: ReadonlyArray<{ readonly port: number; readonly protocol: 'tcp' | 'udp'; readonly service: string; readonly field: string }>;
}

export interface ModuleContext {
  readonly settings: StackSettings;
  readonly secrets: SecretValues;
  /** Image reference for a pinned key, honouring the settings' overrides. */
  readonly image: (key: string) => string;
  /** The absolute server path a module file will have (content-addressed); call with the file you return. */
  readonly fileRef: (file: ModuleFile) => string;
  /** Fixed subnets of the stack's networks (CIDR), so trusted-proxy settings name exactly the edge network. */
  readonly subnets: Readonly<Record<NetworkName, string>>;
}

export interface StackModule {
  readonly id: ModuleId;
  readonly enabled: (settings: StackSettings) => boolean;
  readonly secrets: (settings: StackSettings) => readonly SecretRequest[];
  readonly render: (ctx: ModuleContext) => ModuleOutput;
}

/** A file of a release, with its real content (for upload) and a masked one (for plans and logs). */
export interface RenderedFile {
  /** Relative to the release folder (`compose.yaml`, `env/nextcloud.env`, `release.json`) or absolute for module files. */
  readonly path: string;
  readonly content: string;
  readonly masked: string;
  readonly mode: number;
  readonly secret: boolean;
}

/** The output of rendering: byte-identical for identical settings and secrets. */
export interface RenderedStack {
  /** compose.yaml, env files (relative to the release folder). */
  readonly releaseFiles: readonly RenderedFile[];
  /** Content-addressed module files (absolute paths under `<m2Dir>/files/`). */
  readonly moduleFiles: readonly RenderedFile[];
  /** Env file names relative to the release, in the order passed to `--env-file`. */
  readonly envFiles: readonly string[];
  /** service name → module. */
  readonly serviceModules: Readonly<Record<string, ModuleId>>;
  /** service name → image reference. */
  readonly serviceImages: Readonly<Record<string, string>>;
  readonly hostDirs: readonly string[];
  readonly ports: ModuleOutput['ports'];
  /** Every secret value used, for masking text (logs, compose errors) before it leaves core. */
  readonly secretValues: readonly Secret[];
  /** sha256 over every file: equal digests mean nothing to upload. */
  readonly digest: string;
}
