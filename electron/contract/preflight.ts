import { z } from 'zod';

/**
 * Preflight: what the app checks on the home server before it installs anything, and what the admin
 * sees for each check (what was found, in words, and how to fix it). Pure zod; no Node.
 */

/** Longest data path we accept; far below PATH_MAX, long enough for any real mount point. */
export const MAX_DATA_PATH_LENGTH = 1024;
export const MAX_DATA_PATHS = 16;

/**
 * An absolute POSIX path on the server, refused with messages that start with `label` (the field's name as the
 * admin sees it). Any other character is allowed (spaces, quotes, `$()`, unicode): paths reach the server only as
 * command arguments, never as script text. Invisible and direction-changing characters (zero-width space,
 * right-to-left override: \p{Cf}) are not, except the zero-width joiner inside emoji: pasted by accident, they name
 * a folder that looks like another one.
 */
export const dataPathField = (label: string) =>
  z
    .string({ error: `${label}: enter a folder on the server, for example /srv/m2.` })
    .min(1, `${label}: enter a folder on the server, for example /srv/m2.`)
    .max(MAX_DATA_PATH_LENGTH, `${label}: keep each path under ${MAX_DATA_PATH_LENGTH} characters.`)
    .refine((p) => p.startsWith('/'), `${label}: use a full path that starts with /, for example /srv/m2.`)
    .refine((p) => !/\p{Cc}/u.test(p), `${label}: a path must not contain line breaks, tabs or NUL characters.`)
    .refine((p) => !/(?!\u200d)\p{Cf}/u.test(p), `${label}: remove the invisible or right-to-left characters (often pasted by accident); the folder would not be the one you see.`)
    .refine((p) => !p.split('/').includes('..'), `${label}: write the path without ".." (use the folder's real location).`);

/** Preflight's data folders (and any path without a field of its own). */
export const DataPath = dataPathField('Data folders');
export type DataPath = z.infer<typeof DataPath>;

export const PreflightRequest = z.object({
  dataPaths: z
    .array(DataPath)
    .min(1, 'Data folders: choose at least one folder where the server keeps its data.')
    .max(MAX_DATA_PATHS, `Data folders: choose at most ${MAX_DATA_PATHS} folders.`),
});
export type PreflightRequest = z.infer<typeof PreflightRequest>;

export const PreflightStatus = z.enum(['pass', 'warn', 'fail']);
export type PreflightStatus = z.infer<typeof PreflightStatus>;

export const fixedCheckIds = ['os', 'docker-engine', 'compose', 'docker-access', 'gpu', 'clock', 'cloudflare-egress'] as const;

/** Stable ids the renderer and later steps key on; one `disk:<path>` per data path. */
export const PreflightCheckId = z.union([z.enum(fixedCheckIds), z.templateLiteral(['disk:/', z.string()])]);
export type PreflightCheckId = z.infer<typeof PreflightCheckId>;

/** How to fix a failed or warned check: a command to run on the server, or a page to read. */
export const PreflightFix = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('command'),
    /** One shell command line, to be run on the server (arguments already quoted). */
    command: z.string().min(1),
    explain: z.string().min(1),
  }),
  z.object({
    kind: z.literal('link'),
    url: z.url({ protocol: /^https$/ }),
    label: z.string().min(1),
  }),
]);
export type PreflightFix = z.infer<typeof PreflightFix>;

export const PreflightCheck = z.object({
  id: PreflightCheckId,
  title: z.string().min(1),
  status: PreflightStatus,
  /** What was found, in words a person reads (with the raw output quoted when it was not understood). */
  found: z.string(),
  fix: PreflightFix.optional(),
});
export type PreflightCheck = z.infer<typeof PreflightCheck>;

/** How the app's user reaches Docker on the server; later steps prefix `sudo -n` for 'sudo'. */
export const DockerAccess = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('group') }),
  z.object({ kind: z.literal('sudo') }),
  z.object({ kind: z.literal('none') }),
]);
export type DockerAccess = z.infer<typeof DockerAccess>;

const RenderGpu = {
  /** Device to pass to the container, e.g. /dev/dri/renderD128. */
  renderNode: z.string().startsWith('/dev/dri/'),
  /** PCI vendor id as the kernel prints it, e.g. 0x8086. */
  vendorId: z.string(),
  /** Host gid owning the render node (for `group_add`); null when it could not be read. */
  renderGid: z.number().int().nonnegative().nullable(),
};

/** The GPU Jellyfin can transcode with; 'none' means software transcoding. */
export const GpuDetection = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('nvidia'),
    driver: z.string(),
    name: z.string(),
    /** Docker has the `nvidia` runtime (NVIDIA Container Toolkit configured). */
    runtime: z.boolean(),
    /** `none`: a GPU known to have no video encoder (it decodes only); `unknown`: not known to lack one. */
    encoder: z.enum(['none', 'unknown']).default('unknown'),
  }),
  z.object({ kind: z.literal('intel'), ...RenderGpu }),
  z.object({ kind: z.literal('amd'), ...RenderGpu }),
  z.object({ kind: z.literal('none') }),
]);
export type GpuDetection = z.infer<typeof GpuDetection>;

export const PreflightReport = z.object({
  checks: z.array(PreflightCheck),
  dockerAccess: DockerAccess,
  gpu: GpuDetection,
  startedAt: z.iso.datetime(),
  durationMs: z.number().int().nonnegative(),
});
export type PreflightReport = z.infer<typeof PreflightReport>;

/** The worst status among checks: what a summary banner shows. */
export const overallStatus = (checks: readonly PreflightCheck[]): PreflightStatus =>
  checks.some((c) => c.status === 'fail') ? 'fail' : checks.some((c) => c.status === 'warn') ? 'warn' : 'pass';
