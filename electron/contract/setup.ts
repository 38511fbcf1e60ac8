import { z } from 'zod';
import { ProfileId } from './profiles';

/**
 * Where the guided setup of one server stands, as the core derives it from what the app kept (host keys, the last
 * preflight, Cloudflare, settings, keychain, the last install): each step done, stale or still to do. Pure zod; no Node.
 */
export const setupStepIds = ['server', 'preflight', 'cloudflare', 'services', 'accounts', 'review', 'install', 'done'] as const;
export const SetupStepId = z.enum(setupStepIds);
export type SetupStepId = z.infer<typeof SetupStepId>;

/** The steps' names as the Setup page shows them, in order. */
export const setupStepTitles: Readonly<Record<SetupStepId, string>> = {
  server: 'Server',
  preflight: 'Preflight',
  cloudflare: 'Domain & Cloudflare',
  services: 'Services & storage',
  accounts: 'Accounts',
  review: 'Review',
  install: 'Install',
  done: 'Done',
};

export const SetupStepStatus = z.enum(['done', 'stale', 'todo']);
export type SetupStepStatus = z.infer<typeof SetupStepStatus>;

export const SetupStep = z.object({
  id: SetupStepId,
  status: SetupStepStatus,
  /** When the step was done (ISO time); null when unknown or not done. */
  at: z.string().nullable(),
  /** One line in the admin's words: what was found or done, why it is stale, or what is left. */
  result: z.string(),
});
export type SetupStep = z.infer<typeof SetupStep>;

export const SetupProgress = z.object({
  profileId: ProfileId,
  steps: z.array(SetupStep),
  /** The step to work on now: the first unfinished one (Done once the stack is installed). */
  current: SetupStepId,
  /** The data folders the last preflight checked: "Run again" checks the same ones. Empty before any preflight. */
  preflightDataPaths: z.array(z.string()),
});
export type SetupProgress = z.infer<typeof SetupProgress>;

export const SetupProgressRequest = z.object({ profileId: ProfileId });

/** Something a step depends on changed for this server: pages showing its progress ask again. */
export const SetupChangedEvent = z.object({ profileId: ProfileId });
export type SetupChangedEvent = z.infer<typeof SetupChangedEvent>;

/** The server every per-server page works on, kept by the app (null when none is chosen or it was removed). */
export const ChosenServer = z.object({ profileId: ProfileId.nullable() });
export type ChosenServer = z.infer<typeof ChosenServer>;

export const ChooseServerRequest = z.object({ profileId: ProfileId });
