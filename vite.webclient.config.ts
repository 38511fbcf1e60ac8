import { resolve } from 'node:path';
import { defineConfig } from 'vite';

// The web host's browser client (development and e2e only; never packaged): window.m2 over a loopback socket.
export default defineConfig({
  publicDir: false,
  build: {
    outDir: 'out/webclient',
    emptyOutDir: true,
    lib: {
      entry: resolve('electron/webhost/client/browser-client.ts'),
      formats: ['iife'],
      name: 'M2WebClient',
      fileName: () => 'm2-web-client.js',
    },
  },
});
