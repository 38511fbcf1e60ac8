/**
 * The renderer's Content Security Policy, one definition for the desktop app (app:// and every response of the
 * session) and the web host the e2e tests drive, so what Chromium proves there is what ships.
 *
 * No 'unsafe-inline' for scripts or styles: the built renderer has one module script and stylesheet files; React's
 * `style` props and Recharts' measuring span set styles through the CSSOM (element.style), which style-src does
 * not govern. Only the Vite dev server needs inline scripts (the React refresh preamble) and inline <style> tags
 * (hot-reloaded CSS), and its socket.
 */
export const cspFor = (dev: boolean): string =>
  [
    "default-src 'self'",
    dev ? "script-src 'self' 'unsafe-inline'" : "script-src 'self'",
    dev ? "style-src 'self' 'unsafe-inline'" : "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    dev ? "connect-src 'self' ws:" : "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'none'",
  ].join('; ');
