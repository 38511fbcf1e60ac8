import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { createClient } from '../contract/client';

// The only bridge: a frozen, typed window.m2. ipcRenderer itself never crosses into the page.
const m2 = createClient({
  invoke: (channel, payload) => ipcRenderer.invoke(channel, payload),
  on: (event, listener) => {
    const l = (_e: IpcRendererEvent, payload: unknown): void => listener(payload);
    ipcRenderer.on(event, l);
    return () => void ipcRenderer.off(event, l);
  },
});

contextBridge.exposeInMainWorld('m2', m2);
