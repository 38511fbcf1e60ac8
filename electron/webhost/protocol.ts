import { z } from 'zod';

/** Messages of the web host's WebSocket; the same calls and events as Electron IPC, framed as JSON. */
export const ClientMessage = z.object({
  t: z.literal('call'),
  id: z.number().int().nonnegative(),
  channel: z.string().max(100),
  payload: z.unknown().optional(),
});
export type ClientMessage = z.infer<typeof ClientMessage>;

export type ServerMessage =
  | { readonly t: 'result'; readonly id: number; readonly result: unknown }
  | { readonly t: 'event'; readonly event: string; readonly payload: unknown };

export const WS_PATH = '/__m2/ws';
export const CLIENT_SCRIPT_PATH = '/__m2/client.js';
export const TOKEN_PARAM = 'token';
