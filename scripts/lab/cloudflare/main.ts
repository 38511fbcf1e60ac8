// CLI: run the Cloudflare API stand-in as a lab daemon.
//   tsx scripts/lab/cloudflare/main.ts --port 8787 [--host 127.0.0.1] [--seed seed.json] [--info-file .lab/cloudflare.json] [--print-tokens]
// Prints one JSON line with the connection details once it listens. Token values (lab-only, see DEFAULT_TOKENS)
// go to --info-file (mode 0600) and to stdout only with --print-tokens, so the daemon log carries no bearer values.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startCloudflareStandIn } from './server';
import type { StandInSeed } from './types';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
      seed: { type: 'string' },
      'info-file': { type: 'string' },
      'print-tokens': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0..65535, got ${values.port}`);
  const seed = values.seed ? (JSON.parse(readFileSync(values.seed, 'utf8')) as StandInSeed) : undefined;

  const standIn = await startCloudflareStandIn({ port, host: values.host, seed });
  const snap = standIn.state.snapshot();
  const details = {
    service: 'cloudflare-stand-in',
    pid: process.pid,
    url: standIn.url,
    controlUrl: standIn.controlUrl,
    port: standIn.port,
    accounts: snap.accounts.map((a) => ({ id: a.id, name: a.name, teamName: a.teamName })),
    zones: snap.zones.map((z) => ({ id: z.id, name: z.name, accountId: z.account.id })),
    tokens: snap.tokens.map((t) => ({ name: t.name, id: t.id, status: t.status, permissions: t.permissions, ownerAccountId: t.ownerAccountId })),
  };
  const withValues = { ...details, tokenValues: standIn.tokens };
  const infoFile = values['info-file'];
  if (infoFile) {
    mkdirSync(path.dirname(infoFile), { recursive: true });
    const tmp = `${infoFile}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(withValues, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, infoFile);
  }
  process.stdout.write(`${JSON.stringify(values['print-tokens'] ? withValues : details)}\n`);

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`cloudflare stand-in: ${signal}, closing\n`);
    void standIn.close().then(() => process.exit(0));
    setTimeout(() => process.exit(0), 3000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((e: unknown) => {
  process.stderr.write(`cloudflare stand-in failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
