import { ipcMain, BrowserWindow } from 'electron';
import type { Router } from '../core/ipc/dispatch';

/** The contract's router over Electron IPC: one ipcMain.handle per channel, events to every window. */
export const createElectronRouter = (): Router => ({
  handle: (channel, dispatch) => {
    ipcMain.handle(channel, (event, payload: unknown) => dispatch({ url: event.senderFrame?.url ?? '' }, payload));
  },
  emit: (event, payload) => {
    for (const win of BrowserWindow.getAllWindows()) if (!win.isDestroyed()) win.webContents.send(event, payload);
  },
});
