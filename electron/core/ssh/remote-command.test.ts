import { describe, expect, it } from 'vitest';
import { AppError } from '../errors';
import { createLogger } from '../log';
import { Secret } from '../secrets/secret';
import { checkExit, remoteFacts, runChecked, RemoteCommandError, type FailureWords } from './remote-command';
import type { ExecResult } from './runner';

const words: FailureWords = { code: 'stack.remote-failed', message: (said) => `Copying the files failed on the server: ${said}`, hint: 'Check the free space, then try again.' };
const result = (code: number | null, stderr = '', stdout = '', signal?: string): ExecResult => ({ code, stdout, stderr, ...(signal ? { signal } : {}) });

describe('the one check of a remote exit status', () => {
  it('passes an accepted exit status through untouched, 0 unless the caller accepts others', () => {
    const ok = result(0, '', 'fine');
    expect(checkExit(['true'], ok, words)).toBe(ok);
    expect(checkExit(['grep', '-q', 'x', 'f'], result(1), words, { ok: [0, 1] }).code).toBe(1);
    expect(() => checkExit(['grep', '-q', 'x', 'f'], result(2), words, { ok: [0, 1] })).toThrow(AppError);
  });

  it('throws the caller’s code and words with the last lines said, and keeps the command, status and stderr as the cause', () => {
    const err = ((): AppError => {
      try {
        checkExit(['cp', '-a', '--', '/src dir', '/dst'], result(1, 'line 1\nline 2\nline 3\ncp: cannot create: No space left on device\n'), words);
      } catch (e) {
        return e as AppError;
      }
      throw new Error('did not throw');
    })();
    expect(err).toMatchObject({ code: 'stack.remote-failed', userMessage: 'Copying the files failed on the server: line 2\nline 3\ncp: cannot create: No space left on device', hint: 'Check the free space, then try again.' });
    const facts = remoteFacts(err);
    expect(facts).toBeInstanceOf(RemoteCommandError);
    expect(facts).toMatchObject({ command: "cp -a -- '/src dir' /dst", status: 'exit 1', exitCode: 1 });
    expect(facts?.stderr).toContain('No space left on device');
  });

  it('says the status when the command said nothing: its exit code, the signal that killed it, or none at all', () => {
    const said = (r: ExecResult): string => {
      try {
        checkExit(['false'], r, words);
      } catch (e) {
        return (e as AppError).userMessage;
      }
      return 'passed';
    };
    expect(said(result(3))).toBe('Copying the files failed on the server: exit 3');
    expect(said(result(null, '', '', 'TERM'))).toBe('Copying the files failed on the server: signal TERM');
    expect(said(result(null))).toBe('Copying the files failed on the server: no exit status');
    expect(said(result(2, '', 'only stdout\n'))).toBe('Copying the files failed on the server: only stdout');
  });

  it('never lets a secret through the message, the cause or a log line, wherever the command echoes it', async () => {
    const secret = new Secret('hunter2-$(reboot)-"quoted"');
    const lines: string[] = [];
    const log = createLogger((l) => lines.push(l));
    const runner = { exec: async (): Promise<ExecResult> => result(1, `auth failed for password ${secret.reveal()}\n`, `echo ${secret.reveal()}`) };
    const err = await runChecked(runner, ['login', '--password', secret.reveal()], words, { secrets: [secret] }).catch((e: unknown) => e as AppError);
    expect(err).toBeInstanceOf(AppError);
    log.warn('failed', { error: err });
    const everything = [String((err as AppError).userMessage), String(remoteFacts(err)?.message), JSON.stringify(remoteFacts(err)), ...lines].join('\n');
    expect(everything).not.toContain('hunter2');
    expect(lines[0]).toContain('login --password');
    expect(lines[0]).toContain('exit 1');
    expect(lines[0]).toContain('auth failed for password ••••••••');
  });

  it('keeps a caller’s own masking too (e.g. anything shaped like a key), and only the end of a very long stderr', () => {
    const key = 'A'.repeat(43) + '=';
    const long = `${'noise\n'.repeat(2000)}the reason ${key}\n`;
    try {
      checkExit(['wg', 'set'], result(1, long), words, { redact: (t) => t.replace(/[A-Za-z0-9+/]{43}=/g, '[key]') });
    } catch (e) {
      const facts = remoteFacts(e);
      expect(facts?.stderr.length).toBeLessThanOrEqual(4001);
      expect(facts?.stderr).toContain('the reason [key]');
      expect(JSON.stringify(facts)).not.toContain(key);
      return;
    }
    throw new Error('did not throw');
  });
});
