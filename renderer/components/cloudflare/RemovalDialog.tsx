import { useId, useRef } from 'react';
import type { RemovalPlan } from '../../../electron/contract/cloudflare';
import { ModalDialog } from '../common/ModalDialog';

/** "Remove from Cloudflare" asked in a modal dialog listing exactly what goes; it starts on (and Escape is) Cancel. */
export function RemovalDialog(props: { plan: RemovalPlan; busy: boolean; onConfirm: () => void; onCancel: () => void }) {
  const cancelRef = useRef<HTMLButtonElement>(null);
  const id = useId();
  return (
    <ModalDialog labelledBy={`${id}-title`} describedBy={`${id}-desc`} className="dialog dialog-danger" onCancel={props.onCancel} initialFocus={cancelRef}>
      <h2 id={`${id}-title`}>Remove from Cloudflare?</h2>
      <p id={`${id}-desc`}>This deletes (or puts back) exactly these, and nothing else:</p>
      <ul>
        {props.plan.items.map((i) => (
          <li key={`${i.kind}:${i.name}`}>
            {i.action === 'delete' ? 'Delete' : 'Put back'} {i.kind} {i.name}
          </li>
        ))}
      </ul>
      <div className="actions">
        <button type="button" disabled={props.busy} onClick={props.onConfirm}>
          Yes, remove from Cloudflare
        </button>
        <button type="button" className="secondary" ref={cancelRef} onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </ModalDialog>
  );
}
