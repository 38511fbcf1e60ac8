/**
 * Post-install configuration of the enabled services, after a healthy apply. Each step is idempotent and says
 * whether it changed anything; one service failing does not keep the others from being configured, and the
 * error at the end names every service that failed.
 */
import type { StackSettings } from '../../../contract/stack';
import { AppError, SEE_LOG } from '../../errors';
import type { ProfileSecrets } from '../secrets';
import { configureAuthentik } from './authentik';
import { serviceTitle, type ConfigureStep, type ConfigureTarget, type ConfiguredService } from './common';
import { configureJellyfin } from './jellyfin';
import { configureNextcloud } from './nextcloud';
import { jellyfinSso, nextcloudSso } from './sso';

export interface ConfigureStackOptions {
  readonly appVersion?: string;
  /** Authentik: how long to wait for the blueprint (default 120 s). */
  readonly authentikTimeoutMs?: number;
  readonly blueprintName?: string;
}

/** The services configuration touches for these settings, in the order it runs them. */
export function configuredServices(settings: StackSettings): ConfiguredService[] {
  return [
    ...(settings.modules.jellyfin.enabled ? (['jellyfin'] as const) : []),
    ...(settings.modules.nextcloud.enabled ? (['nextcloud'] as const) : []),
    ...(settings.modules.authentik.enabled ? (['authentik'] as const) : []),
  ];
}

export async function configureStack(
  target: ConfigureTarget,
  settings: StackSettings,
  secrets: ProfileSecrets,
  onStep: (step: ConfigureStep) => void = () => undefined,
  opts: ConfigureStackOptions = {},
): Promise<ConfigureStep[]> {
  const run = (service: ConfiguredService): Promise<ConfigureStep> => {
    switch (service) {
      case 'jellyfin':
        return jellyfinSso(settings, secrets).then((ldap) =>
          configureJellyfin(target, { settings: settings.modules.jellyfin, secrets, ...(opts.appVersion ? { appVersion: opts.appVersion } : {}), ...(ldap ? { ldap } : {}) }),
        );
      case 'nextcloud':
        return nextcloudSso(settings, secrets).then((oidc) => configureNextcloud(target, { hostnames: [settings.hostnames.nextcloud], ...(oidc ? { oidc } : {}) }));
      case 'authentik':
        return configureAuthentik(target, {
          secrets,
          applications: [...(settings.modules.nextcloud.enabled ? ['nextcloud'] : []), ...(settings.modules.jellyfin.enabled ? ['jellyfin'] : [])],
          ldapOutpost: settings.modules.jellyfin.enabled,
          ...(opts.blueprintName ? { blueprintName: opts.blueprintName } : {}),
          ...(opts.authentikTimeoutMs ? { timeoutMs: opts.authentikTimeoutMs } : {}),
        });
      default: {
        const never: never = service;
        throw new Error(`unknown service ${String(never)}`);
      }
    }
  };

  const steps: ConfigureStep[] = [];
  const failures: Array<{ service: ConfiguredService; error: AppError }> = [];
  for (const service of configuredServices(settings)) {
    try {
      const step = await run(service);
      steps.push(step);
      onStep(step);
    } catch (err) {
      const error =
        err instanceof AppError
          ? err
          : new AppError('stack.configure-failed', `${serviceTitle[service]}: configuration failed unexpectedly.`, { cause: err, hint: `Try again; if it repeats, ${SEE_LOG}.` });
      failures.push({ service, error });
    }
  }
  const [first, ...rest] = failures;
  if (first) {
    const others = rest.map((f) => f.error.userMessage);
    const done = steps.length ? ` ${steps.map((s) => serviceTitle[s.service]).join(' and ')} ${steps.length > 1 ? 'were' : 'was'} configured.` : '';
    throw new AppError('stack.configure-failed', [first.error.userMessage, ...others].join(' ') + done, {
      cause: first.error,
      hint: first.error.hint ?? 'Fix what is named, then run the configuration again: steps already done are kept.',
    });
  }
  return steps;
}
