import { describe, expect, it } from 'vitest';
import type { LogStreamEvent } from '../../contract/logs';
import { LogsOpenRequest } from '../../contract/logs';
import { secretMask } from '../../contract/stack';
import { AppError } from '../errors';
import { silentLogger } from '../log';
import { RedactingSecretStore } from '../diagnostics/app-log';
import { Redactor } from '../diagnostics/redact';
import { MemorySecretStore } from '../secrets/keychain';
import { Secret } from '../secrets/secret';
import type { Argv } from '../ssh/argv';
import type { ExecOptions, ExecResult } from '../ssh/runner';
import { LogsService, type LogsTarget } from './logs-service';
import { ServerOperations } from '../server-operations';

const SECRET = 'Zq8vN3kL0pRt7YwB2mXc9HfJ';

/** A server whose `compose logs` prints `chunks` (then waits for a cancel when following). */
function fakeServer(chunks: string[], opts: { code?: number; stderr?: string } = {}) {
  const ran: Argv[] = [];
  const signals: AbortSignal[] = [];
  const conn = {
    async exec(argv: Argv, o: ExecOptions = {}): Promise<ExecResult> {
      ran.push(argv);
      if (!argv.includes('logs')) return { code: opts.code ?? 0, stdout: '', stderr: opts.stderr ?? '' };
      if (o.signal) signals.push(o.signal);
      for (const c of chunks) o.onStdout?.(Buffer.from(c));
      if (argv.includes('--follow')) {
        await new Promise<void>((resolve) => o.signal?.addEventListener('abort', () => resolve()));
        throw new AppError('ssh.cancelled', 'Cancelled: docker.');
      }
      return { code: opts.code ?? 0, stdout: chunks.join(''), stderr: opts.stderr ?? '' };
    },
  };
  const target: LogsTarget = {
    conn,
    access: 'group',
    files: { project: 'm2', projectDir: '/m2', dir: '/m2/releases/r', envFiles: [] },
    releaseId: 'r',
    services: ['jellyfin', 'nextcloud'],
    secrets: [new Secret(SECRET)],
  };
  return { ran, signals, target };
}

function service(target: LogsTarget, maxStreams?: number) {
  const events: LogStreamEvent[] = [];
  const svc = new LogsService({ target: async () => target, emit: (e) => events.push(e), log: silentLogger, ...(maxStreams ? { maxStreams } : {}) });
  return { svc, events };
}
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 0));
const open = (over: Record<string, unknown>) => LogsOpenRequest.parse({ profileId: 'home', streamId: 'view-0001', service: 'nextcloud', ...over });

describe('the logs service', () => {
  it('refuses a service the live release does not declare before any command runs', async () => {
    const { ran, target } = fakeServer([]);
    const { svc } = service(target);
    await expect(svc.open(open({ service: 'postgres' }))).rejects.toMatchObject({ code: 'logs.unknown-service', field: 'service', userMessage: expect.stringMatching(/^Service: /) });
    await expect(svc.action('home', 'redis', 'restart')).rejects.toMatchObject({ code: 'logs.unknown-service' });
    expect(ran).toEqual([]);
  });

  it('pushes whole lines, masked, numbered, with Docker’s time, then says the read finished', async () => {
    const { target } = fakeServer([`2026-12-05T02:00:00.5Z login with ${SECRET.slice(0, 9)}`, `${SECRET.slice(9)} ok\n2026-12-05T02:00:01Z second`]);
    const { svc, events } = service(target);
    await svc.open(open({ follow: false }));
    await settle();
    const lines = events.flatMap((e) => (e.kind === 'lines' ? e.lines : []));
    expect(lines).toEqual([
      { seq: 1, ts: '2026-12-05T02:00:00.5Z', text: `login with ${secretMask} ok`, stream: 'stdout' },
      { seq: 2, ts: '2026-12-05T02:00:01Z', text: 'second', stream: 'stdout' },
    ]);
    expect(events.at(-1)).toEqual({ kind: 'end', profileId: 'home', streamId: 'view-0001', reason: 'finished' });
    expect(JSON.stringify(events)).not.toContain(SECRET);
  });

  it('searches the masked text, so the value of a secret finds nothing', async () => {
    const { target } = fakeServer([`a ${SECRET}\nb Error here\nc error there\n`]);
    const { svc, events } = service(target);
    await svc.open(open({ follow: false, search: SECRET }));
    await svc.open(open({ follow: false, search: 'ERROR', streamId: 'view-0002' }));
    await settle();
    const texts = (id: string) => events.flatMap((e) => (e.kind === 'lines' && e.streamId === id ? e.lines.map((l) => l.text) : []));
    expect(texts('view-0001')).toEqual([]);
    expect(texts('view-0002')).toEqual(['b Error here', 'c error there']);
  });

  it('closing a followed stream cancels its command and says so once', async () => {
    const { target, signals } = fakeServer(['one\n']);
    const { svc, events } = service(target);
    await svc.open(open({ follow: true }));
    await settle();
    expect(svc.close('home', 'view-0001')).toBe(true);
    await settle();
    expect(signals[0]?.aborted).toBe(true);
    expect(events.filter((e) => e.kind === 'end')).toEqual([{ kind: 'end', profileId: 'home', streamId: 'view-0001', reason: 'closed' }]);
    expect(svc.close('home', 'view-0001')).toBe(false);
    expect(svc.openStreams).toBe(0);
  });

  it('keeps at most the set number of streams per server: the oldest is closed for a new one', async () => {
    const { target, signals } = fakeServer([]);
    const { svc, events } = service(target, 2);
    for (const id of ['view-0001', 'view-0002', 'view-0003']) await svc.open(open({ streamId: id }));
    await settle();
    expect(signals.map((s) => s.aborted)).toEqual([true, false, false]);
    expect(events.find((e) => e.kind === 'end')).toMatchObject({ streamId: 'view-0001', reason: 'replaced' });
    svc.closeAll('home');
  });

  it('says why an action failed with the server’s words, masked', async () => {
    const { target } = fakeServer([], { code: 1, stderr: `Error response from daemon: bad password ${SECRET}\n` });
    const { svc } = service(target);
    const err = await svc.action('home', 'jellyfin', 'stop').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'logs.action-failed' });
    expect((err as AppError).userMessage).toBe(`Could not stop jellyfin: Error response from daemon: bad password ${secretMask}`);
  });

  it('refuses a restart, stop or start while the server runs another operation (a restore), running nothing', async () => {
    const { ran, target } = fakeServer([]);
    const operations = new ServerOperations();
    const svc = new LogsService({ target: async () => target, emit: () => undefined, log: silentLogger, operations });
    let release!: () => void;
    const restore = operations.exclusive('home', 'a restore of Nextcloud', 'backups.busy', () => new Promise<void>((r) => (release = r)));
    await expect(svc.action('home', 'nextcloud', 'start')).rejects.toMatchObject({ userMessage: 'A restore of Nextcloud is running on this server, so a start of nextcloud cannot start now.' });
    expect(ran).toEqual([]);
    release();
    await restore;
    await svc.action('home', 'nextcloud', 'start').catch(() => undefined);
    expect(ran.length).toBeGreaterThan(0);
  });

  it('masks a value the keychain gets while a follow stream is open (a rotation’s new password), from then on', async () => {
    const NEW = 'Hk2mPq9vRt4wXz7nBc3dLf6g';
    let print: ((d: Buffer) => void) | undefined;
    const conn = {
      async exec(argv: Argv, o: ExecOptions = {}): Promise<ExecResult> {
        if (!argv.includes('logs')) return { code: 0, stdout: '', stderr: '' };
        print = o.onStdout;
        await new Promise<void>((resolve) => o.signal?.addEventListener('abort', () => resolve()));
        throw new AppError('ssh.cancelled', 'Cancelled: docker.');
      },
    };
    const { target } = fakeServer([]);
    const { svc, events } = service({ ...target, conn });
    await svc.open(open({ follow: true }));
    await settle();
    print?.(Buffer.from(`before ${SECRET}\nALTER ROLE m2 PASSWORD '${NEW.slice(0, 6)}`));
    // Stored while a line that will hold it is half printed; another server's value changes nothing here.
    svc.secretStored('other', new Secret('ValueOfAnotherServer1234'));
    svc.secretStored('home', new Secret(NEW));
    print?.(Buffer.from(`${NEW.slice(6)}'\nlater ${NEW} ValueOfAnotherServer1234\n`));
    const texts = events.flatMap((e) => (e.kind === 'lines' ? e.lines.map((l) => l.text) : []));
    expect(texts).toEqual([`before ${secretMask}`, `ALTER ROLE m2 PASSWORD '${secretMask}'`, `later ${secretMask} ValueOfAnotherServer1234`]);
    // A stream opened after it masks it too, though the keychain read for it might have come just before.
    await svc.open(open({ follow: true, streamId: 'view-0002' }));
    await settle();
    print?.(Buffer.from(`again ${NEW}\n`));
    expect(events.flatMap((e) => (e.kind === 'lines' && e.streamId === 'view-0002' ? e.lines.map((l) => l.text) : []))).toEqual([`again ${secretMask}`]);
    svc.closeAll('home');
  });

  it('hears of a value from the keychain the app uses before the value is stored', async () => {
    const order: string[] = [];
    const inner = new MemorySecretStore();
    const vault = new RedactingSecretStore(
      { get: (p, n) => inner.get(p, n), delete: (p, n) => inner.delete(p, n), names: (p) => inner.names(p), set: async (p, n, v) => void order.push(`stored ${p} ${v.reveal()}`) },
      new Redactor(),
    );
    vault.onStored((profileId, value) => order.push(`heard ${profileId} ${value.reveal()}`));
    await vault.set('home', 'postgres.password.rotating', new Secret('n3wValue-n3wValue'));
    expect(order).toEqual(['heard home n3wValue-n3wValue', 'stored home n3wValue-n3wValue']);
  });
});
