import { describe, expect, it } from 'vitest';
import { ESLint } from 'eslint';

// The boundary rules live in eslint.config.js; these tests prove they fire on violating files.
const eslint = new ESLint({ cwd: process.cwd() });

const ruleIds = async (filePath: string, code: string): Promise<string[]> => {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).map((m) => m.ruleId ?? m.message);
};

describe('process boundaries', () => {
  it.each([
    ["import fs from 'node:fs';", 'renderer/pages/Bad.tsx'],
    ["import { readFileSync } from 'fs';", 'renderer/Bad.ts'],
    ["import { ipcRenderer } from 'electron';", 'renderer/Bad.ts'],
    ["import { ProfileStore } from '../electron/core/profiles/profile-store';", 'renderer/Bad.ts'],
    ["import { ProfileStore } from '../../electron/core/profiles/profile-store';", 'renderer/pages/Bad.tsx'],
    ["import { startWebHost } from '../webhost/server';", 'electron/contract/bad.ts'],
    ["import path from 'node:path';", 'electron/contract/bad.ts'],
    ["import { app } from 'electron';", 'electron/core/bad.ts'],
    ["import { app } from 'electron';", 'electron/core/stack/bad.ts'],
    ["import { createMainWindow } from '../main/window';", 'electron/core/bad.ts'],
  ])('refuses %s in %s', async (code, filePath) => {
    expect(await ruleIds(filePath, `${code}\nexport const x = 1;\n`)).toContain('no-restricted-imports');
  });

  it.each([
    ["import { call } from '../m2';", 'renderer/pages/Ok.tsx'],
    ["import { calls } from '../electron/contract/contract';", 'renderer/Ok.ts'],
    ["import path from 'node:path';", 'electron/core/ok.ts'],
    ["import { app } from 'electron';", 'electron/main/ok.ts'],
  ])('allows %s in %s', async (code, filePath) => {
    expect(await ruleIds(filePath, `${code}\nexport const x = 1;\n`)).not.toContain('no-restricted-imports');
  });
});
