import { describe, expect, it } from 'vitest';
import { AppError } from './errors';
import { ServerOperations } from './server-operations';

/** A promise and its resolve, to hold an operation open while another tries to start. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

const refusal = async (p: Promise<unknown>): Promise<AppError> => {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(e instanceof AppError)) throw new Error(`expected an AppError, got ${String(e)}`);
  return e;
};

describe('ServerOperations: one install, update or restore per server', () => {
  it('refuses a second operation on the same server, saying what runs, with the caller’s code; another server is free', async () => {
    const ops = new ServerOperations();
    const g = gate();
    const restore = ops.exclusive('home', 'a restore of Nextcloud', 'backups.busy', async () => {
      await g.wait;
      return 'restored';
    });
    expect(ops.running('home')).toBe('a restore of Nextcloud');
    let ran = false;
    const e = await refusal(
      ops.exclusive('home', 'an install', 'stack.busy', async () => {
        ran = true;
      }),
    );
    expect(ran).toBe(false);
    expect(e.code).toBe('stack.busy');
    expect(e.userMessage).toBe('A restore of Nextcloud is running on this server, so an install cannot start now.');
    expect(e.hint).toBe('Wait until a restore of Nextcloud has finished, then try again.');
    expect(await ops.exclusive('cabin', 'an install', 'stack.busy', async () => 'other server')).toBe('other server');
    g.open();
    expect(await restore).toBe('restored');
    expect(ops.running('home')).toBeNull();
  });

  it('lets an operation’s own step through (an update installs), and nothing from outside meanwhile', async () => {
    const ops = new ServerOperations();
    const g = gate();
    const install = (): Promise<string> => ops.exclusive('home', 'an install', 'stack.busy', async () => 'installed');
    const update = ops.exclusive('home', 'an update of jellyfin', 'updates.busy', async () => {
      await g.wait;
      return install();
    });
    const e = await refusal(install());
    expect(e.userMessage).toBe('An update of jellyfin is running on this server, so an install cannot start now.');
    const r = await refusal(ops.exclusive('home', 'putting Nextcloud’s data back', 'backups.busy', async () => undefined));
    expect(r.code).toBe('backups.busy');
    g.open();
    expect(await update).toBe('installed');
  });

  it('frees the server when the operation fails, and a late continuation of a finished one is not let through a new one', async () => {
    const ops = new ServerOperations();
    await expect(ops.exclusive('home', 'an install', 'stack.busy', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(ops.running('home')).toBeNull();

    // Something an install left running (a refresh it did not await) tries an install after the install ended,
    // while a restore holds the server: the async context it inherited is stale, so it is refused.
    const late = gate();
    let lateTry: Promise<unknown> | undefined;
    await ops.exclusive('home', 'an install', 'stack.busy', async () => {
      lateTry = late.wait.then(() => ops.exclusive('home', 'an install', 'stack.busy', async () => 'slipped in'));
    });
    const g = gate();
    const restore = ops.exclusive('home', 'a restore of Nextcloud', 'backups.busy', () => g.wait);
    late.open();
    const e = await refusal(lateTry ?? Promise.resolve());
    expect(e.userMessage).toMatch(/^A restore of Nextcloud is running on this server/);
    g.open();
    await restore;
  });
});
