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
    const release = (): void => subscriptions.release(wc);
    wc.once('destroyed', release);
    wc.on('render-process-gone', release);
    wc.on('did-start-navigation', (details) => {
      if (details.isMainFrame && !details.isSameDocument) release();
    });
  };
  return {
    handle: (channel, dispatch) => {
      ipcMain.handle(channel, async (event, payload: unknown) => {
        const result = await dispatch({ url: event.senderFrame?.url ?? '' }, payload);
        watch(event.sender);
        subscriptions.observe(event.sender, channel, payload, result.ok);
        return result;
      });
    },
    emit: (event, payload) => {
      for (const win of BrowserWindow.getAllWindows()) if (!win.isDestroyed()) win.webContents.send(event, payload);
    },
  };
};
