import { createClient, type ClientTransport } from '../../contract/client';
import type { Result } from '../../contract/errors';
import type { EventName } from '../../contract/contract';
import { linkAllowed, type LinkRules } from '../../contract/links';

// Runs in the page before the app: provides window.m2 over the web host's loopback socket.
const WS_PATH = '/__m2/ws';
const TOKEN_KEY = 'm2.webhost.token';

const params = new URLSearchParams(location.search);
const fromUrl = params.get('token');
if (fromUrl) {
  sessionStorage.setItem(TOKEN_KEY, fromUrl);
  params.delete('token');
  const rest = params.toString();
  history.replaceState(null, '', `${location.pathname}${rest ? `?${rest}` : ''}${location.hash}`);
}
const token = sessionStorage.getItem(TOKEN_KEY) ?? '';

type Pending = { resolve: (r: Result<unknown>) => void };
const pending = new Map<number, Pending>();
const listeners = new Map<EventName, Set<(p: unknown) => void>>();
const queue: string[] = [];
let nextId = 1;
let socket: WebSocket | undefined;
let retry = 0;

const disconnected: Result<never> = {
  ok: false,
  error: { code: 'ipc.disconnected', userMessage: 'Lost the connection to M2 Companion.', hint: 'Reload the page.' },
};

function connect(): void {
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${WS_PATH}?token=${encodeURIComponent(token)}`);
  socket = ws;
  ws.onopen = () => {
    retry = 0;
    for (const frame of queue.splice(0)) ws.send(frame);
  };
  ws.onmessage = (ev: MessageEvent<string>) => {
    const msg = JSON.parse(ev.data) as { t: 'result'; id: number; result: Result<unknown> } | { t: 'event'; event: EventName; payload: unknown };
    if (msg.t === 'result') {
      pending.get(msg.id)?.resolve(msg.result);
      pending.delete(msg.id);
    } else {
      for (const l of listeners.get(msg.event) ?? []) l(msg.payload);
    }
  };
  ws.onclose = () => {
    for (const p of pending.values()) p.resolve(disconnected);
    pending.clear();
    socket = undefined;
    retry = Math.min(retry + 1, 6);
    setTimeout(connect, 250 * 2 ** retry);
  };
}

const transport: ClientTransport = {
  invoke: (channel, payload) =>
    new Promise((resolve) => {
      const id = nextId++;
      pending.set(id, { resolve });
      const frame = JSON.stringify({ t: 'call', id, channel, payload });
      if (socket?.readyState === WebSocket.OPEN) socket.send(frame);
      else queue.push(frame);
    }),
  on: (event, listener) => {
    const set = listeners.get(event) ?? new Set();
    set.add(listener);
    listeners.set(event, set);
    return () => void set.delete(listener);
  },
};

connect();
const m2 = createClient(transport);
Object.defineProperty(window, 'm2', { value: m2, writable: false, configurable: false, enumerable: true });

// Outside links, the desktop app's rule in the browser: a link leaves the app only when the core's policy allows it
// (app:links), in a new tab without a referrer or an opener; anything else is refused and said in the console.
const isOutside = (url: URL): boolean => url.origin !== location.origin || (url.protocol !== 'http:' && url.protocol !== 'https:');
const openOutside = async (href: string): Promise<void> => {
  const r = await m2.invoke('app:links');
  const rules: LinkRules = r.ok ? r.value : { links: [], origins: [] };
  if (linkAllowed(href, rules)) nativeOpen.call(window, href, '_blank', 'noopener,noreferrer');
  // eslint-disable-next-line no-console -- the page has nowhere else to say it refused (the desktop app just does nothing)
  else console.warn(`M2 Companion refused to open ${href}: it is not one of the app's links or your services' addresses.`);
};
const nativeOpen = window.open;
window.open = (url?: string | URL, target?: string, features?: string): Window | null => {
  const u = new URL(String(url ?? ''), location.href);
  if (!isOutside(u)) return nativeOpen.call(window, u.href, target, features);
  void openOutside(u.href);
  return null;
};
const onLinkClick = (ev: MouseEvent): void => {
  const a = ev.target instanceof Element ? ev.target.closest('a[href]') : null;
  if (!(a instanceof HTMLAnchorElement)) return;
  const u = new URL(a.href, location.href);
  // In-app pages (#/setup) and files the page makes for download (a device's config) stay with the browser.
  if (!isOutside(u) || (a.hasAttribute('download') && (u.protocol === 'data:' || u.protocol === 'blob:'))) return;
  ev.preventDefault();
  void openOutside(u.href);
};
document.addEventListener('click', onLinkClick, true);
document.addEventListener('auxclick', onLinkClick, true);
