import { describe, expect, it, vi } from 'vitest';
import { createDispatcher, createEmitter, registerContract, type Handlers, type Router } from './dispatch';
import { AppError } from '../errors';
import { callNames } from '../../contract/channels';
import type { LogLine } from '../log';
import { createLogger } from '../log';
import { Secret } from '../secrets/secret';
import { checkExit } from '../ssh/remote-command';

const trusted = { url: 'app://m2/index.html' };

function setup(overrides: Partial<Handlers> = {}) {
  const lines: LogLine[] = [];
  const log = createLogger((l) => lines.push(JSON.parse(l) as LogLine));
  // Channels a test does not exercise answer with a throw, so a wrong route cannot pass silently.
  const unused = Object.fromEntries(
    callNames.map((c) => [
      c,
      vi.fn(() => {
        throw new Error(`${c} is not used here`);
      }),
    ]),
  ) as unknown as Handlers;
  const handlers = {
    ...unused,
    'app:info': vi.fn(() => ({ name: 'M2 Companion', version: '1.0.0', platform: 'linux', arch: 'x64', host: 'web' }) as const),
    'profiles:list': vi.fn(() => []),
    'profiles:save': vi.fn((input) => ({ ...input, id: 'home', createdAt: 'now', updatedAt: 'now' })),
    'profiles:remove': vi.fn(() => ({ removed: true }) as const),
    ...overrides,
  } satisfies Handlers;
  const dispatch = createDispatcher(handlers, { isTrustedSender: (s) => s.url.startsWith('app://m2/'), log });
  return { dispatch, handlers, lines };
}

describe('the contract dispatcher', () => {
  it('refuses a bad payload with ipc.invalid naming the field, and the handler never runs', async () => {
    const { dispatch, handlers } = setup();
    const result = await dispatch(trusted, 'profiles:save', { name: 'Home', host: 'not a host', port: 22, username: 'admin' });
    expect(result).toMatchObject({ ok: false, error: { code: 'ipc.invalid', field: 'host' } });
    expect(result.ok ? '' : result.error.userMessage).toMatch(/^Host:/);
    expect(handlers['profiles:save']).not.toHaveBeenCalled();
  });

  it('refuses a payload of the wrong type before any handler runs', async () => {
    const { dispatch, handlers } = setup();
    for (const payload of [null, 42, 'x', [], { name: 'Home', host: 'h', port: '22', username: 'admin' }]) {
      const result = await dispatch(trusted, 'profiles:save', payload);
      expect(result).toMatchObject({ ok: false, error: { code: 'ipc.invalid' } });
    }
    expect(await dispatch(trusted, 'app:info', { unexpected: true })).toMatchObject({ ok: false, error: { code: 'ipc.invalid' } });
    expect(handlers['profiles:save']).not.toHaveBeenCalled();
    expect(handlers['app:info']).not.toHaveBeenCalled();
  });

  it('logs the command, status and stderr behind a failed remote command, masked, while the page gets only the admin’s words', async () => {
    const secret = new Secret('s3cret-value');
    const { dispatch, lines } = setup({
      'profiles:list': vi.fn(() =>
        checkExit(['docker', 'login', '--password', secret.reveal()], { code: 1, stdout: '', stderr: `denied for ${secret.reveal()}` }, { code: 'stack.remote-failed', message: (said) => `Signing in failed on the server: ${said}`, hint: 'Try again.' }, { secrets: [secret] }) as never,
      ),
    });
    const result = await dispatch(trusted, 'profiles:list', undefined);
    expect(result).toEqual({ ok: false, error: { code: 'stack.remote-failed', userMessage: 'Signing in failed on the server: denied for ••••••••', hint: 'Try again.' } });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'warn', message: 'a call failed on the server', fields: { channel: 'profiles:list', code: 'stack.remote-failed', command: 'docker login --password ••••••••', status: 'exit 1', stderr: 'denied for ••••••••' } });
    expect(JSON.stringify(lines)).not.toContain('s3cret');
  });

  it('refuses an unknown channel', async () => {
    const { dispatch } = setup();
    for (const channel of ['shell:exec', '__proto__', 'constructor', 42, undefined]) {
      expect(await dispatch(trusted, channel, undefined)).toMatchObject({ ok: false, error: { code: 'ipc.unknown-channel' } });
    }
  });

  it('refuses a call from an untrusted sender and logs it', async () => {
    const { dispatch, handlers, lines } = setup();
    const result = await dispatch({ url: 'https://evil.example/' }, 'app:info', undefined);
    expect(result).toMatchObject({ ok: false, error: { code: 'ipc.forbidden-sender' } });
    expect(handlers['app:info']).not.toHaveBeenCalled();
    expect(lines.some((l) => l.level === 'warn')).toBe(true);
  });

  it('delivers a thrown AppError with its code, message and hint', async () => {
    const { dispatch } = setup({
      'profiles:remove': () => {
        throw new AppError('profile.not-found', 'There is no server profile "x".', { hint: 'Refresh the list.', field: 'id' });
      },
    });
    expect(await dispatch(trusted, 'profiles:remove', { id: 'x' })).toEqual({
      ok: false,
      error: { code: 'profile.not-found', userMessage: 'There is no server profile "x".', hint: 'Refresh the list.', field: 'id' },
    });
  });

  it('hides the internals of an unexpected error from the renderer but logs them', async () => {
    const { dispatch, lines } = setup({
      'profiles:list': () => {
        throw new Error('EACCES /home/admin/.config/secret-path');
      },
    });
    const result = await dispatch(trusted, 'profiles:list', undefined);
    expect(result).toMatchObject({ ok: false, error: { code: 'internal' } });
    expect(JSON.stringify(result)).not.toContain('secret-path');
    expect(JSON.stringify(lines)).toContain('secret-path');
  });

  it('strips undeclared fields from a handler output so nothing undeclared leaves main', async () => {
    const { dispatch } = setup({
      'app:info': () => ({ name: 'M2 Companion', version: '1', platform: 'linux', arch: 'x64', host: 'web', token: 'hunter2' }) as never,
    });
    const result = await dispatch(trusted, 'app:info', undefined);
    expect(result.ok && result.value).toEqual({ name: 'M2 Companion', version: '1', platform: 'linux', arch: 'x64', host: 'web' });
  });

  it('passes validated input with defaults applied to the handler', async () => {
    const { dispatch, handlers } = setup();
    await dispatch(trusted, 'profiles:save', { name: ' Home ', host: 'HomeServer.Local', username: 'admin' });
    expect(handlers['profiles:save']).toHaveBeenCalledWith(
      { name: 'Home', host: 'homeserver.local', port: 22, username: 'admin', auth: { kind: 'agent' } },
      { sender: trusted },
    );
  });

  it('registers every contract call on a router, and the emitter validates payloads', async () => {
    const registered = new Map<string, (s: { url: string }, p: unknown) => Promise<unknown>>();
    const emitted: unknown[] = [];
    const router: Router = { handle: (c, fn) => void registered.set(c, fn), emit: (e, p) => void emitted.push([e, p]) };
    const { handlers } = setup();
    registerContract(router, handlers, { isTrustedSender: () => true, log: createLogger(() => {}) });
    expect([...registered.keys()].sort()).toEqual([...callNames].sort());
    await expect(registered.get('app:info')?.(trusted, undefined)).resolves.toMatchObject({ ok: true });

    const emit = createEmitter(router, createLogger(() => {}));
    emit('profiles:changed', []);
    emit('profiles:changed', [{ bogus: true }] as never);
    expect(emitted).toEqual([['profiles:changed', []]]);
  });
});
