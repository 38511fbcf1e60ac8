import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';
import { builtinModules } from 'node:module';

/**
 * Process boundaries (DESIGN.md §2), checked on every `npm test`:
 * - the renderer (and the contract it shares) never imports Node built-ins, `electron` or core;
 * - core never imports `electron` (it must run in plain Node: tests, the web host, benchmarks).
 */
const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

export const rendererBoundary = {
  paths: [
    ...nodeBuiltins.map((name) => ({ name, message: 'The renderer has no Node: ask main through window.m2.' })),
    { name: 'electron', message: 'The renderer never imports electron: use window.m2.' },
  ],
  patterns: [
    { regex: '(^|/)electron/(core|main|preload|webhost)(/|$)', message: 'The renderer reaches main only through window.m2 (the contract).' },
    { regex: '^\\.\\.?/(\\.\\./)*(core|main|preload|webhost)(/|$)', message: 'The contract and renderer never import main-side code.' },
  ],
};

export const coreBoundary = {
  paths: [{ name: 'electron', message: 'Core knows nothing of Electron: pass what it needs through a constructor.' }],
  patterns: [{ regex: '(^|/)(main|preload)(/|$)', message: 'Core never imports the Electron shell.' }],
};

export default tseslint.config(
  { ignores: ['out/**', 'dist/**', 'node_modules/**', 'artifacts/**', '.lab/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'no-console': 'error',
    },
  },
  {
    files: ['renderer/**/*.{ts,tsx}', 'electron/contract/**/*.ts', 'electron/webhost/client/**/*.ts'],
    ignores: ['**/*.test.ts', '**/*.test.tsx'],
    languageOptions: { globals: { ...globals.browser } },
    plugins: { 'react-hooks': reactHooks },
    rules: {
      ...reactHooks.configs.recommended.rules,
      'no-restricted-imports': ['error', rendererBoundary],
    },
  },
  {
    files: ['electron/core/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', coreBoundary] },
  },
  {
    files: ['scripts/**/*.ts', 'test/**/*.ts', '*.config.ts'],
    rules: { 'no-console': 'off' },
  },
);
