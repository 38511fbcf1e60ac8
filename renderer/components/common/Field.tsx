import type { ReactNode } from 'react';

export interface FieldAria {
  id: string;
  'aria-invalid': true | undefined;
  'aria-describedby': string | undefined;
}

/** One labelled control with its hint and its errors, tied together with aria-describedby. */
export function Field(props: { id: string; label: string; hint?: ReactNode; errors: readonly string[] | undefined; children: (aria: FieldAria) => ReactNode }) {
  const errors = props.errors ?? [];
  const hintId = props.hint ? `${props.id}-hint` : undefined;
  const errorId = errors.length > 0 ? `${props.id}-error` : undefined;
  const describedBy = [errorId, hintId].filter(Boolean).join(' ') || undefined;
  return (
    <div className="field">
      <label htmlFor={props.id}>{props.label}</label>
      {props.children({ id: props.id, 'aria-invalid': errors.length > 0 ? true : undefined, 'aria-describedby': describedBy })}
      {errorId ? (
        <p id={errorId} className="field-error">
          {errors.join(' ')}
        </p>
      ) : null}
      {hintId ? (
        <p id={hintId} className="hint">
          {props.hint}
        </p>
      ) : null}
    </div>
  );
}
