import type { M2Api } from '../../electron/contract/client';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { LabSshd } from '../../scripts/lab/sshd';
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

/** A contract call from the page, through the same bridge the renderer uses; rejects with the user message. */
export const invoke = <T,>(page: Page, channel: string, input?: unknown): Promise<T> =>
  page.evaluate(
    async ([c, i]) => {
      const r = await (globalThis as PageGlobals).m2.invoke(c as never, i as never);
      if (!r.ok) throw new Error(r.error.userMessage);
      return r.value as unknown;
    },
    [channel, input] as const,
  ) as Promise<T>;

/** Fill Setup's "Add a server" form for the lab sshd's admin (key sign-in) and save it, as the admin would. */
export async function addLabServer(page: Page, ssh: LabSshd, name: string): Promise<void> {
  const form = page.getByRole('form', { name: 'Add a server' });
  await form.getByLabel('Name').fill(name);
  await form.getByLabel('Host').fill(ssh.host);
  await form.getByLabel('Port').fill(String(ssh.port));
  await form.getByLabel('User').fill(ssh.admin.name);
  await form.getByLabel('Sign in with').selectOption('key');
  await form.getByLabel('Key file').fill(ssh.admin.keyPath);
  await form.getByRole('button', { name: 'Save server' }).click();
}

/** Add the lab server, connect, trust its host key, wait for preflight; answers the new profile's id. */
export async function connectLabServer(page: Page, ssh: LabSshd, name: string): Promise<string> {
  await addLabServer(page, ssh, name);
  await page.getByRole('button', { name: `Connect to ${name}` }).click();
  await page.getByRole('dialog', { name: 'Confirm the server’s identity' }).getByRole('button', { name: 'Trust and connect' }).click();
  await page.getByRole('region', { name: `Server ${name}` }).getByRole('list', { name: 'Preflight checks' }).waitFor({ timeout: 60_000 });
  const profiles = await invoke<Array<{ id: string; name: string }>>(page, 'profiles:list');
  const id = profiles.find((p) => p.name === name)?.id ?? '';
  if (!id) throw new Error(`no profile named ${name} after saving it`);
  return id;
}
