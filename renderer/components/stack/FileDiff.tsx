import { useId, useState } from 'react';
import type { FileChange } from '../../../electron/contract/stack';

const STATUS: Record<FileChange['status'], { text: string; tone: 'pass' | 'warn' | 'fail' | 'info' }> = {
  added: { text: 'New', tone: 'pass' },
  changed: { text: 'Changed', tone: 'warn' },
  removed: { text: 'Removed', tone: 'fail' },
  unchanged: { text: 'Unchanged', tone: 'info' },
};

const lineClass = (line: string): string | undefined => {
  if (line.startsWith('+++') || line.startsWith('---')) return 'diff-file';
  if (line.startsWith('@@')) return 'diff-hunk';
  if (line.startsWith('+')) return 'diff-add';
  if (line.startsWith('-')) return 'diff-del';
  return undefined;
};

/** One file of the release: its status, and on demand its unified diff and its content (secrets already masked by main). */
export function FileDiff({ file }: { file: FileChange }) {
  const [open, setOpen] = useState(false);
  const panelId = useId();
  const status = STATUS[file.status];
  return (
    <li className="file">
      <div className="file-head">
        <button type="button" className="disclosure" aria-expanded={open} aria-controls={panelId} aria-label={`${file.path}: ${status.text}`} onClick={() => setOpen(!open)}>
          <span aria-hidden="true">{open ? '▾' : '▸'}</span> <code>{file.path}</code>
        </button>
        <span className={`badge badge-${status.tone}`}>{status.text}</span>
        {file.secret ? <span className="badge badge-info">Secrets masked</span> : null}
        <span className="muted">mode {file.mode}</span>
      </div>
      {open ? (
        <div id={panelId} className="file-body">
          {file.diff ? (
            <>
              <h4>Changes against the server</h4>
              <pre className="code" tabIndex={0} aria-label={`Changes to ${file.path}`}>
                {file.diff.split('\n').map((line, i) => (
                  <span key={i} className={lineClass(line)}>
                    {line}
                    {'\n'}
                  </span>
                ))}
              </pre>
            </>
          ) : null}
          {file.status !== 'removed' ? (
            <>
              <h4>{file.status === 'added' ? 'Content' : 'New content'}</h4>
              <pre className="code" tabIndex={0} aria-label={`Content of ${file.path}`}>
                {file.preview}
              </pre>
            </>
          ) : (
            <p className="muted">This file will be removed from the release.</p>
          )}
        </div>
      ) : null}
    </li>
  );
}
