import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createDispatcher } from '../ipc/dispatch';
import { createLogger } from '../log';
import { AppError, SEE_LOG, toErrorShape } from '../errors';

const electronDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return /\.tsx?$/.test(e.name) && !/\.test\.tsx?$/.test(e.name) ? [p] : [];
  });
}

describe('hints that send the admin to the log', () => {
  it('all say where the log is (Settings → Diagnostics), in core and the contract', () => {
    const offenders: string[] = [];
    for (const file of [...sources(path.join(electronDir, 'core')), ...sources(path.join(electronDir, 'contract'))]) {
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          // A string the admin reads (not a comment) that mentions the log without the shared wording.
          if (!/^\s*(\/\/|\/\*|\*)/.test(line) && /['"`][^'"`]*\b(see the log|the log has|in the log|check the log)\b/i.test(line) && !line.includes('SEE_LOG') && !line.includes('export const SEE_LOG'))
            offenders.push(`${path.relative(electronDir, file)}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(offenders).toEqual([]);
    expect(toErrorShape(new Error('boom')).hint).toContain('Settings → Diagnostics');
  });

  it('are true: the failed call and its cause are written to the log', async () => {
    const lines: string[] = [];
    const dispatch = createDispatcher(
      {
        'app:info': () => {
          throw new AppError('fallback.switch-failed', 'The server gave an answer M2 Companion does not understand.', { hint: `Try again; ${SEE_LOG}.`, cause: new Error('the state script printed "sideways"') });
        },
      } as never,
      { isTrustedSender: () => true, log: createLogger((l) => lines.push(l)) },
    );
    const result = await dispatch({ url: 'app://m2' } as never, 'app:info', undefined);
    expect(result).toMatchObject({ ok: false, error: { code: 'fallback.switch-failed' } });
    expect(lines.join('\n')).toContain('the state script printed \\"sideways\\"');
  });
});
