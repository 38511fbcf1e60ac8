import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { TranscodingCheck } from '../../../electron/contract/stack';
import { TranscodingNote } from './ServiceHealthList';

const html = (c: TranscodingCheck | undefined): string => renderToStaticMarkup(<TranscodingNote check={c} />);
const text = (c: TranscodingCheck): string => html(c).replace(/<[^>]+>/g, '').replace(/&quot;/g, '"');

describe('the transcoding note on the Done step and the Services page', () => {
  it('shows each verdict in the admin’s words with the reason and FFmpeg’s line', () => {
    const soft = TranscodingCheck.parse({ method: 'nvidia', verdict: 'software', jellyfinType: 'none', hardwareEncoding: false, reason: 'there is no NVIDIA driver inside the Jellyfin container.', detail: 'Cannot load libcuda.so.1' });
    expect(text(soft)).toBe('Jellyfin transcoding: software — there is no NVIDIA driver inside the Jellyfin container. FFmpeg said: Cannot load libcuda.so.1');
    expect(text({ ...soft, verdict: 'decoding-only', jellyfinType: 'nvenc', detail: null })).toMatch(/^Jellyfin transcoding: decoding only — /);
    expect(text({ ...soft, verdict: 'hardware-encoding', jellyfinType: 'nvenc', hardwareEncoding: true, detail: null })).toMatch(/^Jellyfin transcoding: hardware encoding works — /);
  });

  it('renders FFmpeg’s words as text, never markup, and nothing before an install', () => {
    const hostile = TranscodingCheck.parse({ method: 'vaapi', verdict: 'software', jellyfinType: 'none', hardwareEncoding: false, reason: 'r', detail: '<img src=x onerror=alert(1)>' });
    expect(html(hostile)).not.toContain('<img');
    expect(html(hostile)).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html(undefined)).toBe('');
  });
});
