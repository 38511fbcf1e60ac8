import { z } from 'zod';
import { ProfileId } from './profiles';
import { ApplyResult, ModuleId } from './stack';

/**
 * Updates of the stack's images: which newer tags each pinned image has in the registry the server pulls from
 * (filtered by the image's own policy, declared with the image in stack-modules/), and applying some of them as
 * one install (a backup first, the changed services only, rolled back when unhealthy). The per-server versions
 * table records what runs; the pinned tags in the module declarations are what the app was tested with.
 */

export const UpdatePolicy = z.enum(['patch', 'minor', 'major']);
export const UpdateLevel = z.enum(['patch', 'minor', 'major']);
export type UpdateLevel = z.infer<typeof UpdateLevel>;

const ImageKeyName = z.string().regex(/^[a-z0-9-]{1,32}$/, 'Image: choose one of the stack’s images.');
const Tag = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, 'Image tag: letters, digits, dots, dashes and underscores only (at most 128).');

export const TagCandidate = z.object({ tag: z.string(), level: UpdateLevel });

export const ImageUpdate = z.object({
  key: z.string(),
  module: ModuleId,
  /** The repository as the server pulls it (with the image registry when one is set). */
  repository: z.string(),
  /** The registry as the admin reads it: Docker Hub, ghcr.io, 127.0.0.1:5055. */
  registry: z.string(),
  policy: UpdatePolicy,
  /** The tag the server runs (the versions table's, else the pinned one). */
  current: z.string(),
  /** Newer tags the policy offers, newest first (at most 10). */
  candidates: z.array(TagCandidate),
  /** The services that run this image now. */
  services: z.array(z.string()),
  releaseNotes: z.string(),
  /** A major version: said before it is offered. */
  warning: z.string().nullable(),
  /** This image's registry could not be asked (naming it); null when it answered. */
  error: z.string().nullable(),
});
export type ImageUpdate = z.infer<typeof ImageUpdate>;

export const UpdateCheck = z.object({
  profileId: ProfileId,
  checkedAt: z.string(),
  images: z.array(ImageUpdate),
  /** How many images have at least one newer tag. */
  available: z.number().int(),
});
export type UpdateCheck = z.infer<typeof UpdateCheck>;

export const UpdateChange = z.object({ key: z.string(), from: z.string(), to: z.string(), level: UpdateLevel });
export type UpdateChange = z.infer<typeof UpdateChange>;

export const UpdatesRequest = z.object({ profileId: ProfileId });
export const UpdateApplyRequest = z.object({
  profileId: ProfileId,
  updates: z.array(z.object({ key: ImageKeyName, tag: Tag })).min(1, 'Updates: choose at least one image to update.').max(32),
});
export type UpdateApplyRequest = z.infer<typeof UpdateApplyRequest>;

/** One row of the per-server versions table: what runs, since when, from which tag. */
export const VersionRow = z.object({ key: z.string(), tag: z.string(), digest: z.string().nullable(), since: z.string(), from: z.string().nullable() });
export type VersionRow = z.infer<typeof VersionRow>;

export const UpdateRecord = z.object({
  /** One id per update, kept by its retries: a retry replaces its record, never adds one. */
  id: z.string(),
  at: z.string(),
  changes: z.array(UpdateChange),
  outcome: z.enum(['updated', 'rolled-back', 'failed']),
  message: z.string(),
  backupSnapshot: z.string().nullable(),
  releaseId: z.string().nullable(),
  attempts: z.number().int(),
});
export type UpdateRecord = z.infer<typeof UpdateRecord>;

export const UpdateApplyResult = z.object({
  outcome: z.enum(['updated', 'rolled-back']),
  record: UpdateRecord,
  /** The backup taken first ('reused' when a retry found its own from the attempt before), or why there was none. */
  backup: z.object({ snapshotId: z.string().nullable(), reused: z.boolean(), note: z.string().nullable() }),
  apply: ApplyResult,
});
export type UpdateApplyResult = z.infer<typeof UpdateApplyResult>;

export const UpdatesView = z.object({
  versions: z.array(VersionRow),
  history: z.array(UpdateRecord),
  lastCheck: UpdateCheck.nullable(),
});
export type UpdatesView = z.infer<typeof UpdatesView>;

/** Pushed while an update runs, besides the install's own `stack:progress` (pull bars, health per service). */
export const UpdateProgress = z.object({ profileId: ProfileId, step: z.enum(['check', 'backup', 'install', 'record']), text: z.string() });
export type UpdateProgress = z.infer<typeof UpdateProgress>;
