import { useEffect, useLayoutEffect, useRef, type KeyboardEvent, type ReactNode, type RefObject } from 'react';

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), summary, [tabindex]:not([tabindex="-1"])';

/**
 * A modal dialog on the native <dialog>, opened with showModal(): the page behind it is inert (no pointer, no focus,
 * hidden from screen readers), Tab and Shift+Tab go round inside it, Escape answers the safe action (`onCancel`), and
 * the safe action has focus when it opens (`initialFocus`), so a stray Enter changes nothing. When it goes, the
 * browser gives focus back to what had it before.
 */
export function ModalDialog(props: {
  readonly labelledBy: string;
  readonly describedBy?: string;
  /** 'alertdialog' for a warning that interrupts (a refused connection), 'dialog' for a question. */
  readonly role?: 'dialog' | 'alertdialog';
  readonly className?: string;
  /** The safe action, also what Escape does. */
  readonly onCancel: () => void;
  /** The control that has focus first: the safe action. */
  readonly initialFocus: RefObject<HTMLElement | null>;
  readonly children: ReactNode;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const onCancel = useRef(props.onCancel);
  /** Set while the page takes the dialog down: its own close() is no answer. */
  const leaving = useRef(false);
  useEffect(() => {
    onCancel.current = props.onCancel;
  });
  const { initialFocus } = props;
  // Layout effect: its clean-up runs while the element is still in the document, so close() hands focus back.
  useLayoutEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    leaving.current = false;
    if (!dialog.open) dialog.showModal();
    initialFocus.current?.focus();
    return () => {
      leaving.current = true;
      if (dialog.open) dialog.close();
    };
  }, [initialFocus]);

  const keepFocusInside = (e: KeyboardEvent<HTMLDialogElement>): void => {
    if (e.key !== 'Tab' || !ref.current) return;
    const items = [...ref.current.querySelectorAll<HTMLElement>(FOCUSABLE)].filter((el) => el.getClientRects().length > 0);
    const first = items[0];
    const last = items[items.length - 1];
    if (!first || !last) return;
    const active = document.activeElement;
    const inside = active instanceof Node && ref.current.contains(active) && active !== ref.current;
    if (e.shiftKey && (active === first || !inside)) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && (active === last || !inside)) {
      e.preventDefault();
      first.focus();
    }
  };

  return (
    <dialog
      ref={ref}
      role={props.role === 'alertdialog' ? 'alertdialog' : undefined}
      aria-labelledby={props.labelledBy}
      aria-describedby={props.describedBy}
      className={props.className ?? 'dialog'}
      onKeyDown={keepFocusInside}
      // Escape: the page decides (it unmounts the dialog), so the browser does not close it behind React's back.
      onCancel={(e) => {
        e.preventDefault();
        onCancel.current();
      }}
      // Closed some other way (a browser that skips 'cancel' after repeated Escapes): the same safe answer. Not a close
      // event queued before the dialog was shown again (StrictMode's second mount in development), nor our own close.
      onClose={() => {
        if (!leaving.current && !ref.current?.open) onCancel.current();
      }}
    >
      {props.children}
    </dialog>
  );
}
