import { useRef } from 'react';
import { ModalDialog } from '../common/ModalDialog';
import type { ServiceAction } from '../../../electron/contract/logs';

const what: Record<ServiceAction, { title: string; body: string; button: string }> = {
  restart: { title: 'Restart', body: 'Its container stops (up to 10 s for it to finish its work) and starts again. Whoever uses it now is cut off for that time.', button: 'Restart' },
  stop: { title: 'Stop', body: 'It stays stopped until you start it again here or install the stack again. Whoever uses it loses it until then.', button: 'Stop' },
  start: { title: 'Start', body: 'Its existing container starts again, with the settings of the live release.', button: 'Start' },
};

/** Nothing changes on the server until the admin says so here; Escape or Cancel changes nothing. */
export function ConfirmActionDialog(props: { service: string; action: ServiceAction; onConfirm: () => void; onCancel: () => void }) {
  const cancelRef = useRef<HTMLButtonElement>(null);
  const w = what[props.action];
  return (
    <ModalDialog
      labelledBy="svc-action-title"
      describedBy="svc-action-desc"
      className={props.action === 'start' ? 'dialog' : 'dialog dialog-danger'}
      onCancel={props.onCancel}
      initialFocus={cancelRef}
    >
      <h2 id="svc-action-title">
        {w.title} {props.service}?
      </h2>
      <p id="svc-action-desc">{w.body}</p>
      <div className="actions">
        <button type="button" onClick={props.onConfirm}>
          {w.button} {props.service}
        </button>
        <button type="button" className="secondary" ref={cancelRef} onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </ModalDialog>
  );
}
