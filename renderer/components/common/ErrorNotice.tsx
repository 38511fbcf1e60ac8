import type { ErrorShape } from '../../../electron/contract/errors';

export function ErrorNotice({ error }: { error: ErrorShape }) {
  return (
    <div role="alert" className="notice notice-error">
      <strong>{error.userMessage}</strong>
      {error.hint ? <p>{error.hint}</p> : null}
    </div>
  );
}
