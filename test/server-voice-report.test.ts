import { describe, expect, it } from 'vitest';
import { parseBenchArgs, planFor } from '../bench/args.js';
import { serverVoiceSection, type RunFigures, type VoiceFigures } from '../bench/server-voice.js';

const RUN: RunFigures = {
  status: 'swapped',
  problem: null,
  seconds: 131.2,
  steps: 900,
  trainSeconds: 120,
  heldOut: { before: { server: 4.1, base: 1.07 }, after: { server: 0.6, base: 1.17 } },
  baseTolerance: 0.15,
  gateSamples: { wordShare: 1, shortShare: 1, parrotShare: 0.2 },
  meWant: { seed: 'me want ', samples: 200, withNewWord: 80, share: 0.4 },
  meWantKnownWordShare: 0.99,
  uptake: null,
};
const FIGURES: VoiceFigures = { strength: 'normal', share: 0.5, minutes: 2, serverMessages: 300, runs: [RUN] };

describe('bench server_voice', () => {
  it('passes on a swap with ≥ 30 % "me want " uptake, ≥ 90 % known words and the baby corpus within tolerance', () => {
    const s = serverVoiceSection({ ok: true, value: FIGURES });
    expect(s).toMatchObject({
      me_want_new_word_share: 0.4,
      target: '>= 0.3',
      pass: true,
      reason: null,
      strength: 'normal',
      server_share: 0.5,
    });
  });

  it.each([
    ['me_want_uptake', { meWant: { ...RUN.meWant!, withNewWord: 50, share: 0.25 } }],
    ['known_words', { meWantKnownWordShare: 0.85 }],
    [
      'base_rise_within_tolerance',
      { heldOut: { before: { server: 4.1, base: 1.07 }, after: { server: 0.6, base: 1.3 } } },
    ],
    ['swapped', { status: 'rejected', problem: 'its samples ramble on' }],
  ] as const)('fails and names %s when it is missed', (check, change) => {
    const s = serverVoiceSection({ ok: true, value: { ...FIGURES, runs: [{ ...RUN, ...change }] } });
    expect(s.pass).toBe(false);
    expect(String(s.reason)).toContain(check);
  });

  it('is null when skipped, and takes --skip server_voice or server-voice and --strength', () => {
    expect(serverVoiceSection({ ok: false, reason: 'skipped (--skip)' })).toMatchObject({
      pass: null,
      reason: 'skipped (--skip)',
    });
    expect(parseBenchArgs(['--skip', 'server_voice']).skip.has('server-voice')).toBe(true);
    expect(parseBenchArgs(['--skip', 'server-voice']).skip.has('server-voice')).toBe(true);
    expect(parseBenchArgs([]).strength).toBe('normal');
    expect(parseBenchArgs(['--strength', 'strong']).strength).toBe('strong');
    expect(() => parseBenchArgs(['--strength', 'max'])).toThrow(/unknown strength/);
    expect(planFor(parseBenchArgs([])).voiceMinutes).toBe(2);
  });
});
