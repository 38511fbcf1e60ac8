import { useState } from 'react';
import type { PreflightCheck, PreflightReport } from '../../../electron/contract/preflight';

const LABEL = { pass: 'Pass', warn: 'Warning', fail: 'Fail' } as const;

function Fix({ check }: { check: PreflightCheck }) {
  const [copied, setCopied] = useState(false);
  const fix = check.fix;
  if (!fix) return null;
  switch (fix.kind) {
    case 'command':
      return (
        <div className="fix">
          <p>{fix.explain}</p>
          <pre>
            <code>{fix.command}</code>
          </pre>
          <button
            type="button"
            className="secondary"
            aria-label={`Copy the fix for ${check.title}`}
            onClick={() => void navigator.clipboard?.writeText(fix.command).then(() => setCopied(true), () => setCopied(false))}
          >
            {copied ? 'Copied' : 'Copy'}
          </button>
        </div>
      );
    case 'link':
      return (
        <p className="fix">
          <a href={fix.url} target="_blank" rel="noreferrer">
            {fix.label}
          </a>
        </p>
      );
    default: {
      const never: never = fix;
      return never;
    }
  }
}

export function PreflightChecklist({ report }: { report: PreflightReport }) {
  const order = { fail: 0, warn: 1, pass: 2 } as const;
  const checks = [...report.checks].sort((a, b) => order[a.status] - order[b.status]);
  return (
    <ul className="checks" aria-label="Preflight checks">
      {checks.map((c) => (
        <li key={c.id} className={`card check check-${c.status}`} aria-label={`${c.title}: ${LABEL[c.status]}`}>
          <div className="check-head">
            <span className={`badge badge-${c.status}`}>{LABEL[c.status]}</span>
            <strong>{c.title}</strong>
          </div>
          <p className="muted">{c.found}</p>
          {c.status !== 'pass' ? <Fix check={c} /> : null}
        </li>
      ))}
    </ul>
  );
}
