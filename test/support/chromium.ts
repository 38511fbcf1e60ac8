import type { M2Api } from '../../electron/contract/client';
import { chromium, type Browser } from 'playwright-core';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const CHROMIUM = process.env.M2_CHROMIUM ?? '/usr/bin/chromium';
export const artifactsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'artifacts');

/** Debian's Chromium, headless, with the flags this machine needs (no background network, no sandbox as root). */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is not installed at ${CHROMIUM}: run "apt-get install -y chromium" (bash .ci/run does this).`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}

export const screenshotPath = (...parts: string[]): string => {
  const file = path.join(artifactsDir, ...parts);
  mkdirSync(path.dirname(file), { recursive: true });
  return file;
};

/** What page.evaluate callbacks see as globalThis: the page's window with the contract's bridge. */
export type PageGlobals = typeof globalThis & { readonly m2: M2Api };
