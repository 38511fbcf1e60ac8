import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (scripts/lab/ is two levels down). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Everything the lab creates lives under one git-ignored folder, so a rerun can start clean. */
export const labDir = process.env.M2_LAB_DIR ?? path.join(repoRoot, '.lab');

export const labPath = (...parts: string[]): string => path.join(labDir, ...parts);
