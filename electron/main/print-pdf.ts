import { app, dialog, type BrowserWindow } from 'electron';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { SavedKitPdf } from '../contract/recovery';
import { AppError } from '../core/errors';

/** Letter where it is the paper people buy (the US, Canada, Mexico, the Philippines …), A4 elsewhere. */
const LETTER_COUNTRIES = new Set(['US', 'CA', 'MX', 'PH', 'CL', 'CO', 'VE', 'GT', 'CR', 'PR']);

/**
 * Print the window's page (its print styles apply: no navigation, no buttons) to a PDF and save it where the admin
 * chooses. Main stays thin: the page, its content and the file name come from the contract's `recovery:save-pdf`.
 */
export async function savePagePdf(win: BrowserWindow | undefined, suggestedName: string): Promise<SavedKitPdf> {
  if (!win || win.isDestroyed()) {
    throw new AppError('recovery.pdf-failed', 'There is no window to print the recovery kit from.', { hint: 'Open the kit again in Settings, then choose Save as PDF.' });
  }
  let pdf: Buffer;
  try {
    pdf = await win.webContents.printToPDF({ pageSize: LETTER_COUNTRIES.has(app.getLocaleCountryCode()) ? 'Letter' : 'A4', printBackground: false });
  } catch (err) {
    throw new AppError('recovery.pdf-failed', 'The recovery kit could not be turned into a PDF.', { cause: err, hint: 'Use Print and choose “Save as PDF” as the printer instead.' });
  }
  const choice = await dialog.showSaveDialog(win, {
    title: 'Save the household recovery kit',
    defaultPath: path.join(app.getPath('documents'), suggestedName),
    filters: [{ name: 'PDF', extensions: ['pdf'] }],
  });
  if (choice.canceled || !choice.filePath) return { kind: 'cancelled' };
  try {
    // Only the admin reads it: it says where the secrets are, and the household's addresses.
    await writeFile(choice.filePath, pdf, { mode: 0o600 });
  } catch (err) {
    throw new AppError('recovery.pdf-failed', `The recovery kit could not be saved to ${choice.filePath}.`, { cause: err, hint: 'Choose a folder you can write to, then try again.' });
  }
  return { kind: 'saved', path: choice.filePath, bytes: pdf.length };
}
