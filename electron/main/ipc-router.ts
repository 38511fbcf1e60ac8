import { ipcMain, BrowserWindow, type WebContents } from 'electron';
import type { Router } from '../core/ipc/dispatch';
import { SenderSubscriptions } from '../core/status/subscriptions';

/**
 * The contract's router over Electron IPC: one ipcMain.handle per channel, events to every window. A window that
 * closes, reloads or crashes gives back the live-status subscriptions it still held (`unsubscribe`).
 */
export const createElectronRouter = (unsubscribe: (profileId: string) => void): Router => {
  const subscriptions = new SenderSubscriptions<WebContents>(unsubscribe);
  const watched = new WeakSet<WebContents>();
  const watch = (wc: WebContents): void => {
    if (watched.has(wc)) return;
    watched.add(wc);
    wc.once('destroyed', () => subscriptions.release(wc));
    // The page is replaced (a reload, a crash and reload): what it held goes; the window may subscribe again.
    // 'did-navigate' is a committed navigation: one the security handlers cancel does not release a live page.
    wc.on('render-process-gone', () => subscriptions.release(wc, { final: false }));
    wc.on('did-navigate', () => subscriptions.release(wc, { final: false }));
  };
  return {
    handle: (channel, dispatch) => {
      ipcMain.handle(channel, async (event, payload: unknown) => {
        watch(event.sender);
        if (!subscriptions.admits(event.sender, channel, payload)) return { ok: true, value: { unsubscribed: true } };
        const result = await dispatch({ url: event.senderFrame?.url ?? '' }, payload);
        subscriptions.observe(event.sender, channel, payload, result.ok);
        return result;
      });
    },
    emit: (event, payload) => {
      for (const win of BrowserWindow.getAllWindows()) if (!win.isDestroyed()) win.webContents.send(event, payload);
    },
  };
};
