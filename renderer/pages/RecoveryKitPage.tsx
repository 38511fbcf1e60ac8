import { useState } from 'react';
import type { ErrorShape } from '../../electron/contract/errors';
import type { SavedKitPdf } from '../../electron/contract/recovery';
import { ErrorNotice } from '../components/common/ErrorNotice';
import { ProfilePicker } from '../components/common/ProfilePicker';
import { RecoveryKitSheet } from '../components/recovery/RecoveryKitSheet';
import { useChosenServer } from '../hooks/chosen-server';
import { asShape, useCall } from '../hooks/use-call';
import { call } from '../m2';

/**
 * Settings → Household recovery kit: the page the admin prints. In the browser host, Print opens the browser's print
 * dialog; in the desktop app, Save as PDF asks main to print this page to a PDF and save it where the admin chooses.
 * The controls and the app's navigation are left out of the printout (print styles in styles.css).
 */
export function RecoveryKitPage() {
  // The app's chosen server, as on every per-server page.
  const { profiles, list, profile, choose } = useChosenServer();
  const info = useCall('app:info');
  const kit = useCall('recovery:kit', profile ? { profileId: profile.id } : null);
  const [saving, setSaving] = useState(false);
  const [saved, setSaved] = useState<SavedKitPdf | ErrorShape | undefined>();

  const electron = info.state.kind === 'ready' && info.state.value.host === 'electron';

  const savePdf = async (): Promise<void> => {
    if (!profile) return;
    setSaving(true);
    setSaved(undefined);
    try {
      setSaved(await call('recovery:save-pdf', { profileId: profile.id }));
    } catch (err) {
      setSaved(asShape(err));
    } finally {
      setSaving(false);
    }
  };

  return (
    <>
      <div className="no-print">
        <h1>Household recovery kit</h1>
        <p className="muted">
          One page to print and keep with your papers: how to find and recognise the server, where each service answers, where every secret is kept (never the
          secret itself), how to restore from the backup and how the household gets in while Cloudflare is down. Make it again after you change the setup.
        </p>
        <p>
          <a href="#/settings">Back to Settings</a>
        </p>
        {profiles.kind === 'loading' ? <p className="muted">Loading saved servers…</p> : null}
        {profiles.kind === 'failed' ? <ErrorNotice error={profiles.error} /> : null}
        {profiles.kind === 'ready' && list.length === 0 ? (
          <p className="muted">
            No servers saved yet: add your home server in <a href="#/setup">Setup</a>.
          </p>
        ) : null}
        {profile ? <ProfilePicker profiles={list} value={profile.id} onChange={choose} /> : null}
        {kit.state.kind === 'ready' ? (
          <div className="actions">
            <button type="button" onClick={() => window.print()}>
              Print
            </button>
            {electron ? (
              <button type="button" className="secondary" disabled={saving} onClick={() => void savePdf()}>
                {saving ? 'Saving…' : 'Save as PDF'}
              </button>
            ) : null}
          </div>
        ) : null}
        {saved && 'kind' in saved ? (
          <p role="status">{saved.kind === 'saved' ? `Saved the kit as ${saved.path}.` : 'Not saved: the save was cancelled.'}</p>
        ) : null}
        {saved && 'userMessage' in saved ? <ErrorNotice error={saved} /> : null}
      </div>
      {profile && kit.state.kind === 'loading' ? <p className="muted no-print">Making the kit…</p> : null}
      {kit.state.kind === 'failed' ? <ErrorNotice error={kit.state.error} /> : null}
      {kit.state.kind === 'ready' ? <RecoveryKitSheet kit={kit.state.value} /> : null}
    </>
  );
}
