import { describe, expect, it } from 'vitest';
import { Secret } from '../secrets/secret';
import { ClipboardGuard } from './clipboard-guard';

/** Async like Electron's clipboard. */
class FakeClipboard {
  text = 'before';
  cleared = 0;
  async writeText(t: string): Promise<void> {
    this.text = t;
  }
  async readText(): Promise<string> {
    return this.text;
  }
  clear(): void {
    this.text = '';
    this.cleared++;
  }
}

/** A clipboard and a clock the test moves by hand. */
function rig() {
  const board = new FakeClipboard();
  let now = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  let next = 1;
  const guard = new ClipboardGuard(board, {
    setTimer: (fn, ms) => {
      timers.set(next, { at: now + ms, fn });
      return next++;
    },
    clearTimer: (h) => void timers.delete(h as number),
  });
  /** Moves the clock and lets the wipes that fell due finish (they read and clear the clipboard asynchronously). */
  const advance = async (ms: number): Promise<void> => {
    now += ms;
    for (const [id, t] of [...timers]) {
      if (t.at > now) continue;
      timers.delete(id);
      t.fn();
    }
    await new Promise((r) => setImmediate(r));
  };
  return { board, guard, advance, timers };
}

describe('the clipboard guard', () => {
  it('puts the value on the clipboard and takes it off after 30 s', async () => {
    const { board, guard, advance } = rig();
    await guard.copy(new Secret('s3cret-value'));
    expect(board.text).toBe('s3cret-value');
    await advance(29_999);
    expect(board.text).toBe('s3cret-value');
    await advance(1);
    expect(board.text).toBe('');
    expect(guard.clearAfterSeconds).toBe(30);
  });

  it('leaves alone whatever the admin copied since', async () => {
    const { board, guard, advance } = rig();
    await guard.copy(new Secret('s3cret-value'));
    await board.writeText('a note of my own');
    await advance(30_000);
    expect(board.text).toBe('a note of my own');
    expect(board.cleared).toBe(0);
  });

  it('a second copy restarts the wait and is the one cleared', async () => {
    const { board, guard, advance, timers } = rig();
    await guard.copy(new Secret('first'));
    await advance(20_000);
    await guard.copy(new Secret('second'));
    expect(timers.size).toBe(1);
    await advance(20_000);
    expect(board.text).toBe('second');
    await advance(10_000);
    expect(board.text).toBe('');
  });

  it('wipes at once when the app quits, and only its own value', async () => {
    const { board, guard, timers } = rig();
    await guard.copy(new Secret('s3cret-value'));
    await guard.dispose();
    expect(board.text).toBe('');
    expect(timers.size).toBe(0);
    await board.writeText('mine');
    await guard.dispose();
    expect(board.text).toBe('mine');
  });
});
