import type { StackProgress } from '../../../electron/contract/stack';

export type PullState = Omit<Extract<StackProgress, { kind: 'pull' }>, 'kind' | 'profileId' | 'applyId'>;

const STATUS: Record<PullState['status'], string> = {
  waiting: 'Waiting',
  pulling: 'Pulling',
  done: 'Pulled',
  present: 'Already on the server',
  failed: 'Failed',
};

/** The bar's value: full once the image is there, empty while waiting, indeterminate while the size is unknown. */
const valueOf = (p: PullState): number | undefined => {
  switch (p.status) {
    case 'done':
    case 'present':
      return 100;
    case 'waiting':
      return 0;
    case 'pulling':
    case 'failed':
      return p.percent ?? undefined;
    default: {
      const never: never = p.status;
      return never;
    }
  }
};

/** A progress bar per image, named by the image reference, with its status in words beside it. */
export function PullProgress({ pulls }: { pulls: readonly PullState[] }) {
  if (pulls.length === 0) return null;
  return (
    <ul className="pulls" aria-label="Image pulls">
      {pulls.map((p) => {
        const value = valueOf(p);
        const percent = p.status === 'pulling' && p.percent !== null ? ` ${Math.round(p.percent)}%` : '';
        return (
          <li key={p.image} className={`pull pull-${p.status}`}>
            <code className="pull-image">{p.image}</code>
            <progress aria-label={p.image} max={100} value={value} />
            <span className="pull-status">
              {STATUS[p.status]}
              {percent}
              {p.detail && p.status !== 'present' ? ` — ${p.detail}` : ''}
            </span>
          </li>
        );
      })}
    </ul>
  );
}
