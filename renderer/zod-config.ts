import { z } from 'zod';

/**
 * Zod without its JIT: it would probe `new Function('')` while the contract's schemas are built, and under the
 * renderer's CSP (script-src 'self', no 'unsafe-eval') Chromium reports that probe as a securitypolicyviolation even
 * though zod catches the refusal. Imported first by main.tsx, before any schema exists (the probe runs when an object
 * schema is made).
 */
z.config({ jitless: true });
