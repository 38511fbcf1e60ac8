/**
 * Where the log is, and "Export diagnostics": one .tar.gz the admin can send — the app's version and platform, the
 * log (redacted again on the way out, with every value the keychain holds for the known servers), each server's last
 * preflight report, and the Compose state of servers that answer within a few seconds. Nothing is sent anywhere.
 */
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { AppInfo, DiagnosticsExport } from '../../contract/app';
import { AppError } from '../errors';
import type { Logger } from '../log';
import type { Redactor } from './redact';
import { tarGz, type TarEntry } from './tar';

export interface DiagnosticsDeps {
  readonly app: AppInfo;
  readonly log: Logger;
  readonly redactor: Redactor;
  /** The log files, oldest first; missing ones are left out. */
  readonly logFiles: readonly string[];
  /** The current log file (shown in Settings). */
  readonly logPath: string;
  readonly profiles: () => Promise<ReadonlyArray<{ id: string; name: string }>>;
  /** Tell the redactor every secret value kept for these servers. */
  readonly learnSecrets?: (profileIds: readonly string[]) => Promise<void>;
  readonly lastPreflight: (profileId: string) => Promise<unknown>;
  /** The Compose state of a connected server; absent or failing → said in the archive. */
  readonly composeState?: (profileId: string) => Promise<unknown>;
  readonly composeTimeoutMs?: number;
  /** Electron: show the file in the system's file manager. The web host has none. */
  readonly showItemInFolder?: (file: string) => void;
  /** Electron: the save dialog (undefined = cancelled). The web host writes into its data folder. */
  readonly chooseTarget: (suggestedName: string) => Promise<string | undefined>;
  readonly now?: () => Date;
  readonly platformDetails?: () => Record<string, unknown>;
}

export type ExportResult = DiagnosticsExport;

const withTimeout = <T>(p: Promise<T>, ms: number): Promise<T> =>
  new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms);
    p.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e: unknown) => (clearTimeout(t), reject(e instanceof Error ? e : new Error(String(e)))),
    );
  });

const safeName = (s: string): string => s.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 60) || 'server';

export class DiagnosticsService {
  readonly #d: DiagnosticsDeps;

  constructor(deps: DiagnosticsDeps) {
    this.#d = deps;
  }

  logLocation(): { path: string; folder: string } {
    return { path: this.#d.logPath, folder: path.dirname(this.#d.logPath) };
  }

  /** Opens the log's folder with the file selected where the shell can; says whether it did. */
  showLog(): { path: string; shown: boolean } {
    if (!this.#d.showItemInFolder) return { path: this.#d.logPath, shown: false };
    this.#d.showItemInFolder(this.#d.logPath);
    return { path: this.#d.logPath, shown: true };
  }

  /** The archive's entries (every text redacted). */
  async entries(): Promise<TarEntry[]> {
    const now = (this.#d.now ?? (() => new Date()))();
    const profiles = await this.#d.profiles();
    const notes: string[] = [];
    await this.#d.learnSecrets?.(profiles.map((p) => p.id)).catch((err: unknown) => {
      notes.push(`Could not read the keychain to redact by value (patterns still applied): ${err instanceof Error ? err.message : String(err)}`);
    });
    const r = (text: string): string => this.#d.redactor.redact(text);
    const json = (v: unknown): string => r(`${JSON.stringify(v, null, 2)}\n`);
    const entries: TarEntry[] = [];
    for (const file of this.#d.logFiles) {
      const text = await readFile(file, 'utf8').catch(() => undefined);
      if (text !== undefined) entries.push({ name: `log/${path.basename(file)}`, content: r(text), mtime: now });
    }
    if (!entries.length) notes.push(`No log file was found at ${this.#d.logPath}.`);
    const servers: Array<Record<string, unknown>> = [];
    for (const p of profiles) {
      const dir = `servers/${safeName(p.id)}`;
      const preflight = await this.#d.lastPreflight(p.id).catch((err: unknown) => ({ error: err instanceof Error ? err.message : String(err) }));
      entries.push({ name: `${dir}/preflight.json`, content: json(preflight ?? { none: 'No preflight has run for this server.' }), mtime: now });
      let compose: unknown = { none: 'Not asked.' };
      if (this.#d.composeState) {
        compose = await withTimeout(this.#d.composeState(p.id), this.#d.composeTimeoutMs ?? 5_000).catch((err: unknown) => ({
          unavailable: err instanceof Error ? err.message : String(err),
        }));
      }
      entries.push({ name: `${dir}/compose.json`, content: json(compose), mtime: now });
      servers.push({ id: p.id, name: p.name });
    }
    const about = {
      app: this.#d.app,
      exportedAt: now.toISOString(),
      node: process.versions.node,
      electron: process.versions.electron ?? null,
      os: { platform: process.platform, arch: process.arch, ...(this.#d.platformDetails?.() ?? {}) },
      log: this.#d.logPath,
      servers,
      notes,
    };
    entries.unshift({ name: 'about.json', content: json(about), mtime: now });
    return entries;
  }

  async export(): Promise<ExportResult> {
    const now = (this.#d.now ?? (() => new Date()))();
    const suggested = `m2-companion-diagnostics-${now.toISOString().slice(0, 19).replace(/[:T]/g, '-')}.tar.gz`;
    const target = await this.#d.chooseTarget(suggested);
    if (!target) return { saved: false };
    const entries = await this.entries();
    try {
      await mkdir(path.dirname(target), { recursive: true });
      await writeFile(target, tarGz(entries), { mode: 0o600 });
    } catch (err) {
      throw new AppError('diagnostics.write-failed', `The diagnostics file could not be saved to ${target}.`, {
        cause: err,
        hint: 'Choose a folder you can write to (your Documents or Desktop) and export again.',
      });
    }
    this.#d.log.info('diagnostics exported', { path: target, files: entries.map((e) => e.name) });
    return { saved: true, path: target, files: entries.map((e) => e.name) };
  }
}
