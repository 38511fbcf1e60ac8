import { describe, expect, it } from 'vitest';
import { TranscodingCheck } from '../../../contract/stack';
import { toShell } from '../../ssh/argv';
import { OutcomeFile } from '../apply-outcomes';
import { dockerArgv } from './common';
import { plannedEncoding, transcodingSentence } from './jellyfin';
import { JELLYFIN_FFMPEG, classifyProbe, probeArgv, probeFfmpegArgv, transcodingCheck } from './transcoding-probe';

/**
 * FFmpeg's output in the failure cases. NVENC texts from fallback-and-day2-facts §10 and FFmpeg's nvenc.c /
 * dynlink_loader.h ("Cannot load libcuda.so.1"); VA-API from hwcontext_vaapi.c as quoted in public bug reports;
 * the lines around them as FFmpeg 7 prints them (the exact surroundings vary by version, which is the point).
 */
const fixtures = {
  nvencNoDriver: [
    '[h264_nvenc @ 0x5616d2a4a1c0] Cannot load libcuda.so.1',
    '[vost#0:0/h264_nvenc @ 0x5616d2a48f40] Error while opening encoder - maybe incorrect parameters such as bit_rate, rate, width or height.',
    '[vf#0:0 @ 0x5616d2a49b80] Error sending frames to consumers: Operation not permitted',
    '[vost#0:0/h264_nvenc @ 0x5616d2a48f40] Could not open encoder before EOF',
    '[out#0/null @ 0x5616d2a48640] Nothing was written into output file, because at least one of its streams received no packets.',
  ].join('\n'),
  nvencNoVideoCapability: '[h264_nvenc @ 0x55f0c1e0] Cannot load libnvidia-encode.so.1\n[h264_nvenc @ 0x55f0c1e0] The minimum required Nvidia driver for nvenc is 520.56.06 or newer\n',
  nvencNoGpu: '[h264_nvenc @ 0x55d1] cu->cuInit(0) failed -> CUDA_ERROR_NO_DEVICE: no CUDA-capable device is detected\n',
  // An H100/H200: CUDA sees the GPU, the encoder session is refused (§10: HandBrake#2204, #2943).
  nvencUnsupportedDevice: '[h264_nvenc @ 0x5581a2c0] OpenEncodeSessionEx failed: unsupported device (2): (no details)\n[h264_nvenc @ 0x5581a2c0] No capable devices found\n',
  nvencNoCapable: '[h264_nvenc @ 0x7f3e] No NVENC capable devices found\r\n',
  nvencSessionCap: '[h264_nvenc @ 0x56] OpenEncodeSessionEx failed: out of memory (10): (no details)\n',
  nvencOldDriver: '[h264_nvenc @ 0x56] Driver does not support the required nvenc API version. Required: 12.2 Found: 12.0\n[h264_nvenc @ 0x56] The minimum required Nvidia driver for nvenc is 550.54.14 or newer\n',
  vaapiNoDevice: [
    '[AVHWDeviceContext @ 0x5572f29a5a40] No VA display found for device /dev/dri/renderD128.',
    'Device creation failed: -22.',
    "Failed to set value 'vaapi=va:/dev/dri/renderD128' for option 'init_hw_device': Invalid argument",
    'Error parsing global options: Invalid argument',
  ].join('\n'),
  vaapiNoDriver: '[AVHWDeviceContext @ 0x55] libva: vaInitialize failed with error code -1 (unknown libva error)\n[AVHWDeviceContext @ 0x55] Failed to initialise VAAPI connection: -1 (unknown libva error).\nDevice creation failed: -5.\n',
  vaapiNoEncoder: '[h264_vaapi @ 0x55a0] No usable encoding entrypoint found for profile VAProfileH264High (7).\n[vost#0:0/h264_vaapi @ 0x55a0] Error while opening encoder - maybe incorrect parameters such as bit_rate, rate, width or height.\n',
  qsvNoSession: "[AVHWDeviceContext @ 0x56] Error creating a MFX session: -9.\nDevice creation failed: -1313558101.\nFailed to set value 'qsv=qs@va' for option 'init_hw_device': Unknown error occurred\n",
  qsvEncoderInit: '[h264_qsv @ 0x56] Current profile is unsupported\n[h264_qsv @ 0x56] Error initializing the encoder: unsupported (-3)\n',
};

const fail = (stderr: string, code = 1) => ({ code, stdout: '', stderr });
const dev = '/dev/dri/renderD128';

describe('the test encode’s command per method', () => {
  it('NVENC: exactly the facts’ command, inside the container by id', () => {
    expect(probeArgv('0123456789ab', 'nvidia', dev)).toEqual([
      'docker',
      'exec',
      '0123456789ab',
      JELLYFIN_FFMPEG,
      ...'-hide_banner -v error -f lavfi -i testsrc2=size=1280x720:rate=30 -t 1 -c:v h264_nvenc -f null -'.split(' '),
    ]);
  });

  it('VA-API (Intel and AMD alike) opens the render node from the settings and uploads frames to it', () => {
    const want = [JELLYFIN_FFMPEG, ...'-hide_banner -v error -init_hw_device vaapi=va:/dev/dri/renderD129 -filter_hw_device va -f lavfi -i testsrc2=size=1280x720:rate=30 -t 1 -vf format=nv12,hwupload -c:v h264_vaapi -f null -'.split(' ')];
    expect(probeFfmpegArgv('vaapi', '/dev/dri/renderD129')).toEqual(want);
    expect(probeFfmpegArgv('amd-vaapi', '/dev/dri/renderD129')).toEqual(want);
  });

  it('QSV derives its device from VA-API on the render node, as Jellyfin does', () => {
    expect(probeFfmpegArgv('intel-qsv', dev).join(' ')).toBe(
      `${JELLYFIN_FFMPEG} -hide_banner -v error -init_hw_device vaapi=va:${dev} -init_hw_device qsv=qs@va -filter_hw_device qs -f lavfi -i testsrc2=size=1280x720:rate=30 -t 1 -vf format=nv12,hwupload=extra_hw_frames=64,format=qsv -c:v h264_qsv -f null -`,
    );
  });

  it('goes through sudo -n for a user outside the docker group, and is one quoted command line', () => {
    const argv = dockerArgv({ dockerAccess: 'sudo' }, probeArgv('0123456789ab', 'vaapi', dev));
    expect(argv.slice(0, 5)).toEqual(['sudo', '-n', '--', 'docker', 'exec']);
    expect(toShell(argv)).toBe(`sudo -n -- docker exec 0123456789ab ${JELLYFIN_FFMPEG} -hide_banner -v error -init_hw_device vaapi=va:${dev} -filter_hw_device va -f lavfi -i testsrc2=size=1280x720:rate=30 -t 1 -vf format=nv12,hwupload -c:v h264_vaapi -f null -`);
  });

  it('refuses a render node or container id that did not come through validation: nothing hostile reaches a command line', () => {
    for (const bad of ['/dev/dri/renderD128; rm -rf /', '$(reboot)', "/dev/dri/renderD128'", '/dev/dri/renderD128\n', '/dev/sda', '/dev/dri/renderD１２８', `/dev/dri/renderD${'1'.repeat(500)}`]) {
      expect(() => probeFfmpegArgv('vaapi', bad)).toThrow(/GPU render device/);
      expect(() => probeFfmpegArgv('intel-qsv', bad)).toThrow(/GPU render device/);
    }
    // NVENC takes no device: a bad one is simply not used.
    expect(probeFfmpegArgv('nvidia', '$(reboot)').join(' ')).not.toContain('reboot');
    for (const bad of ['jellyfin', '0123456789ab; id', '--privileged', '']) expect(() => probeArgv(bad, 'nvidia', dev)).toThrow(/container id/);
  });
});

describe('what the test encode’s outcome means', () => {
  it('exit 0 is hardware encoding, for every method', () => {
    for (const m of ['nvidia', 'intel-qsv', 'vaapi', 'amd-vaapi'] as const) {
      expect(classifyProbe(m, dev, { code: 0, stdout: '', stderr: '' })).toMatchObject({ verdict: 'hardware-encoding', detail: null });
    }
  });

  it('NVENC: no driver, no video libraries or no GPU in the container is software, naming the cause', () => {
    expect(classifyProbe('nvidia', dev, fail(fixtures.nvencNoDriver))).toEqual({
      verdict: 'software',
      reason: expect.stringMatching(/no NVIDIA driver inside the Jellyfin container \(libcuda is missing\).*NVIDIA Container Toolkit/),
      detail: 'Cannot load libcuda.so.1',
    });
    expect(classifyProbe('nvidia', dev, fail(fixtures.nvencNoVideoCapability))).toMatchObject({ verdict: 'software', reason: expect.stringContaining('NVIDIA_DRIVER_CAPABILITIES'), detail: 'Cannot load libnvidia-encode.so.1' });
    expect(classifyProbe('nvidia', dev, fail(fixtures.nvencNoGpu))).toMatchObject({ verdict: 'software', reason: expect.stringContaining('no NVIDIA GPU is visible') });
  });

  it('NVENC: a GPU without an encoder (H100/H200: unsupported device, no capable devices) is decoding only', () => {
    const h100 = classifyProbe('nvidia', dev, fail(fixtures.nvencUnsupportedDevice));
    expect(h100).toMatchObject({ verdict: 'decoding-only', reason: expect.stringMatching(/no usable video encoder.*H200.*UNVERIFIED/), detail: 'OpenEncodeSessionEx failed: unsupported device (2): (no details)' });
    expect(classifyProbe('nvidia', dev, fail(fixtures.nvencNoCapable))).toMatchObject({ verdict: 'decoding-only', detail: 'No NVENC capable devices found' });
    expect(classifyProbe('nvidia', dev, fail('[h264_nvenc @ 0x1] No capable devices found'))).toMatchObject({ verdict: 'decoding-only' });
  });

  it('NVENC: a full session table (error 10) or an old driver leaves encoding off but keeps decoding, saying what to do', () => {
    expect(classifyProbe('nvidia', dev, fail(fixtures.nvencSessionCap))).toMatchObject({ verdict: 'decoding-only', reason: expect.stringMatching(/session limit.*Run the install again/) });
    expect(classifyProbe('nvidia', dev, fail(fixtures.nvencOldDriver))).toMatchObject({ verdict: 'decoding-only', reason: expect.stringContaining('Update the driver') });
  });

  it('VA-API and QSV: a render node that cannot be opened or has no driver is software', () => {
    for (const m of ['vaapi', 'amd-vaapi', 'intel-qsv'] as const) {
      expect(classifyProbe(m, dev, fail(fixtures.vaapiNoDevice, 234))).toEqual({
        verdict: 'software',
        reason: expect.stringContaining(`the render node ${dev} could not be opened inside the Jellyfin container`),
        detail: 'No VA display found for device /dev/dri/renderD128.',
      });
      expect(classifyProbe(m, dev, fail(fixtures.vaapiNoDriver))).toMatchObject({ verdict: 'software', reason: expect.stringContaining('no VA-API driver could use it') });
    }
  });

  it('VA-API: a device that decodes but has no H.264 encode entrypoint is decoding only', () => {
    expect(classifyProbe('amd-vaapi', dev, fail(fixtures.vaapiNoEncoder))).toMatchObject({ verdict: 'decoding-only', detail: 'No usable encoding entrypoint found for profile VAProfileH264High (7).' });
  });

  it('QSV: no MFX session is software (VA-API suggested); an encoder that will not start is decoding only', () => {
    expect(classifyProbe('intel-qsv', dev, fail(fixtures.qsvNoSession))).toMatchObject({ verdict: 'software', reason: expect.stringContaining('VA-API may work instead'), detail: 'Error creating a MFX session: -9.' });
    expect(classifyProbe('intel-qsv', dev, fail(fixtures.qsvEncoderInit))).toMatchObject({ verdict: 'decoding-only' });
  });

  it('is tolerant: text on stdout, upper case, CRLF, other prefixes, no prefixes', () => {
    expect(classifyProbe('nvidia', dev, { code: 1, stdout: 'NO NVENC CAPABLE DEVICES FOUND\r\n', stderr: '' }).verdict).toBe('decoding-only');
    expect(classifyProbe('vaapi', dev, fail('[VAAPI @ 0x578653af2fc0] No VA display found for device /dev/dri/renderD128.\r\n'))).toMatchObject({ verdict: 'software', detail: 'No VA display found for device /dev/dri/renderD128.' });
    expect(classifyProbe('nvidia', dev, fail('Cannot load libcuda.so.1\n'))).toMatchObject({ verdict: 'software', detail: 'Cannot load libcuda.so.1' });
  });

  it('anything unrecognised, a timeout, or an ffmpeg that is not there is software — never a promise', () => {
    expect(classifyProbe('vaapi', dev, fail(''))).toEqual({ verdict: 'software', reason: 'the test encode with h264_vaapi failed (exit 1), so VA-API is not used.', detail: null });
    expect(classifyProbe('nvidia', dev, fail('Error while opening encoder - maybe incorrect parameters\nSomething new went wrong\n'))).toMatchObject({ verdict: 'software', detail: 'Something new went wrong' });
    expect(classifyProbe('nvidia', dev, { code: null, stdout: '', stderr: 'timed out after 60 s' })).toMatchObject({ verdict: 'software', reason: expect.stringContaining('did not finish') });
    expect(classifyProbe('nvidia', dev, fail('OCI runtime exec failed: exec failed: unable to start container process: exec: "/usr/lib/jellyfin-ffmpeg/ffmpeg": stat /usr/lib/jellyfin-ffmpeg/ffmpeg: no such file or directory: unknown', 127))).toMatchObject({
      verdict: 'software',
      reason: expect.stringContaining('could not be run'),
    });
    expect(classifyProbe('intel-qsv', dev, fail("[vost#0:0 @ 0x1] Unknown encoder 'h264_qsv'"))).toMatchObject({ verdict: 'software', reason: 'this Jellyfin’s ffmpeg has no h264_qsv encoder.' });
    expect(classifyProbe('nvidia', dev, fail('x'.repeat(5000))).detail).toHaveLength(300);
  });
});

describe('the encoding Jellyfin is configured with, per outcome', () => {
  const defaults = { HardwareAccelerationType: 'none', EnableHardwareEncoding: true, HardwareDecodingCodecs: ['h264', 'vc1'], VaapiDevice: '/dev/dri/renderD128', QsvDevice: '' };

  it('encode works: the method with hardware encoding on', () => {
    const check = transcodingCheck('nvidia', classifyProbe('nvidia', dev, { code: 0, stdout: '', stderr: '' }));
    expect(check).toMatchObject({ verdict: 'hardware-encoding', jellyfinType: 'nvenc', hardwareEncoding: true });
    expect(plannedEncoding(defaults, { hwAccel: 'nvidia', renderDevice: dev }, check.verdict).next).toMatchObject({ HardwareAccelerationType: 'nvenc', EnableHardwareEncoding: true });
  });

  it('decoding only: the method kept for decoding, EnableHardwareEncoding false (the facts’ UNVERIFIED config for NVIDIA without NVENC)', () => {
    const check = transcodingCheck('nvidia', classifyProbe('nvidia', dev, fail(fixtures.nvencUnsupportedDevice)));
    expect(check).toMatchObject({ verdict: 'decoding-only', jellyfinType: 'nvenc', hardwareEncoding: false });
    const plan = plannedEncoding(defaults, { hwAccel: 'nvidia', renderDevice: dev }, check.verdict);
    expect(plan.next).toMatchObject({ HardwareAccelerationType: 'nvenc', EnableHardwareEncoding: false, HardwareDecodingCodecs: ['h264', 'hevc', 'mpeg2video', 'vc1', 'vp8', 'vp9'] });
    expect(plan.changed.sort()).toEqual(['EnableHardwareEncoding', 'HardwareAccelerationType', 'HardwareDecodingCodecs']);
    // Once decoding only, a run that finds the encoder working turns encoding on; nothing else changes.
    expect(plannedEncoding(plan.next, { hwAccel: 'nvidia', renderDevice: dev }, 'hardware-encoding').changed).toEqual(['EnableHardwareEncoding']);
    expect(plannedEncoding(plan.next, { hwAccel: 'nvidia', renderDevice: dev }, 'decoding-only').changed).toEqual([]);
  });

  it('device unusable: no acceleration at all, whatever the settings say; and back from an earlier hardware setting', () => {
    const check = transcodingCheck('vaapi', classifyProbe('vaapi', dev, fail(fixtures.vaapiNoDevice)));
    expect(check).toMatchObject({ verdict: 'software', jellyfinType: 'none', hardwareEncoding: false });
    expect(plannedEncoding(defaults, { hwAccel: 'vaapi', renderDevice: dev }, 'software')).toEqual({ next: defaults, changed: [] });
    const wasVaapi = { ...defaults, HardwareAccelerationType: 'vaapi' };
    expect(plannedEncoding(wasVaapi, { hwAccel: 'vaapi', renderDevice: dev }, 'software')).toEqual({ next: defaults, changed: ['HardwareAccelerationType'] });
  });

  it('acceleration off in the settings: software, no test run, said so', () => {
    const check = transcodingCheck('none', undefined);
    expect(TranscodingCheck.parse(check)).toEqual({ method: 'none', verdict: 'software', jellyfinType: 'none', hardwareEncoding: false, reason: 'hardware acceleration is off in the settings, so Jellyfin transcodes in software.', detail: null });
    expect(transcodingSentence(check)).toBe('Transcoding: software — Hardware acceleration is off in the settings, so Jellyfin transcodes in software.');
  });

  it('the configure step’s sentence carries the label, the reason and FFmpeg’s words', () => {
    const check = transcodingCheck('nvidia', classifyProbe('nvidia', dev, fail(fixtures.nvencNoDriver)));
    expect(transcodingSentence(check)).toMatch(/^Transcoding: software — There is no NVIDIA driver inside the Jellyfin container .* \(FFmpeg: “Cannot load libcuda\.so\.1”\)$/);
    expect(transcodingSentence(transcodingCheck('nvidia', classifyProbe('nvidia', dev, fail(fixtures.nvencNoCapable))))).toMatch(/^Transcoding: decoding only — /);
    expect(transcodingSentence(transcodingCheck('vaapi', classifyProbe('vaapi', dev, { code: 0, stdout: '', stderr: '' })))).toMatch(/^Transcoding: hardware encoding works — A one-second test encode with h264_vaapi \(VA-API\) worked/);
  });
});

describe('kept beside the install outcomes, for the Services page', () => {
  it('a file from before has none; a kept check survives a later install outcome being written', () => {
    expect(OutcomeFile.parse({ version: 1, install: null })).toEqual({ version: 1, install: null });
    const check = transcodingCheck('nvidia', classifyProbe('nvidia', dev, fail(fixtures.nvencNoDriver)));
    const file = OutcomeFile.parse({ version: 1, install: null, transcoding: check });
    const next = OutcomeFile.parse({ ...file, install: { kind: 'running', applyId: 'a1', startedAt: '2026-12-05T00:00:00Z', phase: 'start' } });
    expect(next.transcoding).toEqual(check);
    expect(() => OutcomeFile.parse({ version: 1, install: null, transcoding: { ...check, verdict: 'maybe' } })).toThrow();
  });
});
