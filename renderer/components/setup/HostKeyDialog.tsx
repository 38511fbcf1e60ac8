import { useRef } from 'react';
import { ModalDialog } from '../common/ModalDialog';

/** The file on the server that holds the host key of this type, for the admin to compare fingerprints. */
export const hostKeyFileFor = (keyType: string): string => {
  const kind = keyType === 'ssh-ed25519' ? 'ed25519' : keyType.startsWith('ecdsa-') ? 'ecdsa' : keyType === 'ssh-rsa' || keyType.startsWith('rsa-') ? 'rsa' : 'ed25519';
  return `/etc/ssh/ssh_host_${kind}_key.pub`;
};

/** First contact: the admin compares the fingerprint with the server's own before trusting it. */
export function HostKeyDialog(props: { host: string; port: number; fingerprint: string; keyType: string; onTrust: () => void; onCancel: () => void }) {
  // Cancel has focus first: trusting a key is a decision, not what Enter does by habit.
  const cancelRef = useRef<HTMLButtonElement>(null);
  return (
    <ModalDialog labelledBy="hk-title" describedBy="hk-desc" onCancel={props.onCancel} initialFocus={cancelRef}>
      <h2 id="hk-title">Confirm the server’s identity</h2>
      <p id="hk-desc">
        This is the first time M2 Companion connects to {props.host}:{props.port}. Check that the fingerprint below matches the server’s own — on
        the server run <code>ssh-keygen -lf {hostKeyFileFor(props.keyType)}</code> — then trust it. M2 Companion will refuse to connect if it
        ever changes.
      </p>
      <dl className="facts">
        <dt>Key type</dt>
        <dd>{props.keyType}</dd>
        <dt>Fingerprint</dt>
        <dd>
          <code data-testid="presented-fingerprint">{props.fingerprint}</code>
        </dd>
      </dl>
      <div className="actions">
        <button type="button" onClick={props.onTrust}>
          Trust and connect
        </button>
        <button type="button" className="secondary" ref={cancelRef} onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </ModalDialog>
  );
}

/** A known server presented a different key: refused, with both fingerprints and what to do. */
export function HostKeyChangedDialog(props: { host: string; port: number; fingerprint: string; keyType: string; expected: readonly string[]; onClose: () => void }) {
  const closeRef = useRef<HTMLButtonElement>(null);
  return (
    <ModalDialog role="alertdialog" labelledBy="hkc-title" describedBy="hkc-desc" className="dialog dialog-danger" onCancel={props.onClose} initialFocus={closeRef}>
      <h2 id="hkc-title">The server’s identity has changed — connection refused</h2>
      <p id="hkc-desc">
        {props.host}:{props.port} presented a different host key ({props.keyType}) than the one you confirmed before. This happens when the server was reinstalled,
        but it is also exactly what an attacker in the middle would cause. M2 Companion did not connect and changed nothing.
      </p>
      <dl className="facts">
        <dt>Confirmed before</dt>
        <dd>
          {props.expected.map((f) => (
            <code key={f} data-testid="expected-fingerprint">
              {f}
            </code>
          ))}
        </dd>
        <dt>Presented now</dt>
        <dd>
          <code data-testid="presented-fingerprint">{props.fingerprint}</code>
        </dd>
      </dl>
      <p>
        If you reinstalled the server yourself, check the new fingerprint on the server (<code>ssh-keygen -lf {hostKeyFileFor(props.keyType)}</code>)
        and remove the old entry from M2 Companion’s known hosts before connecting again. Otherwise, do not connect.
      </p>
      <div className="actions">
        <button type="button" ref={closeRef} onClick={props.onClose}>
          Do not connect
        </button>
      </div>
    </ModalDialog>
  );
}
