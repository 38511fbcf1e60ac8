import { Menu, Notification, Tray, nativeImage, type NativeImage } from 'electron';
import type { Severity } from '../contract/status';
import type { TrayNotification } from '../core/status/status-tray';
import { severityWord, trayIconPng, type TrayView } from '../core/status/tray';

/** The shell's tray and notifications: draws what core's StatusTray decides (electron/core/status/status-tray.ts). */
export interface ShellTray {
  /** False where the desktop has no tray (some Linux desktops): the app then quits with its last window. */
  readonly present: boolean;
  show(view: TrayView): void;
  notify(n: TrayNotification): void;
  destroy(): void;
}

const clip = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

export function createShellTray(opts: {
  open: () => void;
  quit: () => void;
  /** The outage fallback's switch, per server (core decides; the menu only asks). */
  switchFallback: (profileId: string, on: boolean) => void;
  onError: (err: unknown) => void;
}): ShellTray {
  const icons = new Map<Severity, NativeImage>();
  const icon = (sev: Severity): NativeImage => {
    let img = icons.get(sev);
    if (!img) {
      img = nativeImage.createEmpty();
      img.addRepresentation({ scaleFactor: 1, buffer: trayIconPng(sev, 16) });
      img.addRepresentation({ scaleFactor: 2, buffer: trayIconPng(sev, 32) });
      icons.set(sev, img);
    }
    return img;
  };
  let tray: Tray | undefined;
  try {
    tray = new Tray(icon('unknown'));
    tray.on('click', opts.open);
  } catch (err) {
    opts.onError(err);
  }
  return {
    present: tray !== undefined,
    show(view) {
      if (!tray) return;
      tray.setImage(icon(view.severity));
      tray.setToolTip(clip(view.tooltip, 120));
      tray.setContextMenu(
        Menu.buildFromTemplate([
          ...view.lines.map((l) => ({ label: clip(`${severityWord[l.severity]} — ${l.label}: ${l.reason}`, 90), enabled: false })),
          ...(view.lines.length ? [{ type: 'separator' as const }] : []),
          ...view.lines.flatMap((l) =>
            l.fallback ? [{ label: clip(l.fallback.on ? `Turn the fallback off — ${l.label}` : `Turn the fallback on — ${l.label}`, 90), click: () => opts.switchFallback(l.profileId, !l.fallback?.on) }] : [],
          ),
          ...(view.lines.some((l) => l.fallback) ? [{ type: 'separator' as const }] : []),
          { label: 'Open M2 Companion', click: opts.open },
          { label: 'Quit', click: opts.quit },
        ]),
      );
    },
    notify(n) {
      if (!Notification.isSupported()) return;
      const note = new Notification({ title: n.title, body: n.body, icon: icon(n.severity), urgency: n.severity === 'error' ? 'critical' : 'normal' });
      note.on('click', opts.open);
      note.show();
    },
    destroy() {
      tray?.destroy();
      tray = undefined;
    },
  };
}
