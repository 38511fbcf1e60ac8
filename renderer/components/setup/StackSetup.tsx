import { useState } from 'react';
import type { ServerProfile } from '../../../electron/contract/profiles';
import type { ApplyResult, StackPlan, StackSettings } from '../../../electron/contract/stack';
import { AccountsList } from '../accounts/AccountsList';
import { CloudflareStep } from '../cloudflare/CloudflareStep';
import { ErrorNotice } from '../common/ErrorNotice';
import { InstallStep } from '../stack/InstallStep';
import { ReviewStep } from '../stack/ReviewStep';
import { SecretsList } from '../stack/SecretsList';
import { ServiceAddresses } from '../stack/ServiceAddresses';
import { StackSettingsForm } from '../stack/StackSettingsForm';
import { NextSteps } from './NextSteps';
import { stepHeading } from './setup-step-heading';
import { useCall } from '../../hooks/use-call';
import { useLastApply } from '../../hooks/use-last-apply';

/** Where the household reaches each service once the stack runs. */
function DoneStep({ profile, settings, profileId }: { profile: ServerProfile; settings: StackSettings; profileId: string }) {
  const secrets = useCall('stack:secrets', { profileId });
  const cloudflare = useCall('cloudflare:view', { profileId });
  const published = cloudflare.state.kind === 'ready' ? cloudflare.state.value.managed.filter((m) => m.kind === 'dns-record').map((m) => m.name) : [];
  return (
    <>
      <ServiceAddresses profile={profile} />
      <p className="muted">
        The https addresses answer once the Cloudflare tunnel publishes them. Watch everything on the <a href="#/dashboard">Dashboard</a>, change modules
        on the <a href="#/services">Services</a> page. The passwords below were generated for you and stay in this computer’s keychain.
      </p>
      <h3>What next</h3>
      <NextSteps settings={settings} published={published} />
      <SecretsList state={secrets.state} />
    </>
  );
}

/** Services & storage → Review → Install → Done for one connected server. */
export function StackSetup({ profile }: { profile: ServerProfile }) {
  const settings = useCall('stack:settings', { profileId: profile.id });
  const [plan, setPlan] = useState<StackPlan | undefined>();
  const [reviewKey, setReviewKey] = useState(0);
  const [installing, setInstalling] = useState(false);
  const [result, setResult] = useState<ApplyResult | undefined>();
  const lastApply = useLastApply(profile.id);
  // An install that is running, or did not end well, keeps the Install step on the page (after a reload too) until the next one.
  const lastApplyToSay = lastApply && !(lastApply.kind === 'finished' && lastApply.result.kind === 'applied') ? lastApply : undefined;

  const view = settings.state.kind === 'ready' ? settings.state.value : undefined;
  // Installed: by the install on this page, or (after a reload or a restart) by the last one main kept.
  const installed = !installing && (result ? result.kind === 'applied' : lastApply?.kind === 'finished' && lastApply.result.kind === 'applied');

  return (
    <>
      <section aria-labelledby="cloudflare-step">
        <h2 id="cloudflare-step">{stepHeading('cloudflare')}</h2>
        <p className="muted">
          How the household reaches {profile.name} from outside: a Cloudflare Tunnel behind Cloudflare Access, set up with an API token kept in
          this computer’s keychain. You can do it now or after the install; cloudflared joins the stack once the tunnel exists.
        </p>
        <details className="card">
          <summary>Set up the Cloudflare token, zone and host names</summary>
          <CloudflareStep profileId={profile.id} />
        </details>
      </section>
      <section aria-labelledby="stack-settings-step">
        <h2 id="stack-settings-step">{stepHeading('services')}</h2>
        <p className="muted">
          Which modules run on {profile.name}, where their data lives, and how Jellyfin uses the GPU. Saving changes nothing on the server: the next
          step shows exactly what an install would do.
        </p>
        {settings.state.kind === 'loading' ? <p className="muted">Loading settings…</p> : null}
        {settings.state.kind === 'failed' ? <ErrorNotice error={settings.state.error} /> : null}
        {view ? (
          <div className="card">
            <StackSettingsForm
              profileId={profile.id}
              view={view}
              onSaved={(v) => {
                settings.replace(v);
                // A plan of the old settings is stale: the admin reviews again before installing.
                setPlan(undefined);
                setResult(undefined);
                setReviewKey((k) => k + 1);
              }}
            />
          </div>
        ) : null}
      </section>
      {view?.saved ? (
        <section aria-labelledby="stack-accounts-step">
          <h2 id="stack-accounts-step">{stepHeading('accounts')}</h2>
          <p className="muted">
            The accounts the stack creates, with passwords the app generates and keeps in this computer’s keychain. Reveal or copy one when you sign
            in; Settings → Secrets lists them again later.
          </p>
          {/* Passwords are generated by Review and by the install: the list is read again after each. */}
          <AccountsList key={`${reviewKey}:${plan ? 'planned' : ''}:${result?.kind ?? ''}`} profileId={profile.id} />
        </section>
      ) : null}
      {view?.saved ? (
        <section aria-labelledby="stack-review-step">
          <h2 id="stack-review-step">{stepHeading('review')}</h2>
          <p className="muted">The exact files that will be written and the services that will change, compared with what runs on the server now.</p>
          <ReviewStep key={reviewKey} profileId={profile.id} onPlanned={setPlan} />
        </section>
      ) : null}
      {view?.saved ? (
        <section aria-labelledby="stack-install-step">
          <h2 id="stack-install-step">{stepHeading('install')}</h2>
          <p className="muted">
            Uploads a new release, pulls the images, starts the services and waits until each is healthy. If one is not, the previous release is
            brought back by itself.
          </p>
          {/* The step is always on the page, so the numbers run on; it acts on a reviewed plan only. */}
          {plan || result || lastApplyToSay ? (
            <InstallStep
              profileId={profile.id}
              kept={lastApply}
              onStart={() => {
                setInstalling(true);
                setResult(undefined);
              }}
              onError={() => setInstalling(false)}
              onDone={(r) => {
                setInstalling(false);
                setResult(r);
                if (r.kind === 'applied') {
                  setPlan(undefined);
                  setReviewKey((k) => k + 1);
                }
              }}
            />
          ) : (
            <p>
              {installed
                ? 'Installed: the stack runs on this server. After a change in Services & storage, review it above and install again here.'
                : 'Review the plan above first: Install runs exactly what you reviewed.'}
            </p>
          )}
        </section>
      ) : null}
      {view && installed ? (
        <section aria-labelledby="stack-done-step">
          <h2 id="stack-done-step">{stepHeading('done')}</h2>
          <DoneStep profile={profile} settings={view.settings} profileId={profile.id} />
        </section>
      ) : null}
    </>
  );
}
