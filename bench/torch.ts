/**
 * The PyTorch reference (bench/torch_reference.py, the same model, batch, sequence length and stateful generation)
 * run with /usr/bin/python3, when torch imports; otherwise the section is skipped with "skipped: torch not installed".
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

export const PYTHON = '/usr/bin/python3';

export interface TorchFigures {
  engine: string;
  vocab: number;
  corpus_chars: number;
  seq_train_target_chars_per_s: number;
  generate_50_chars_ms_median: number;
}

export type TorchOutcome =
  | { ok: true; figures: TorchFigures; seconds: number; steps: number }
  | { ok: false; reason: string };

const NUMERIC_FIELDS = [
  'vocab',
  'corpus_chars',
  'seq_train_target_chars_per_s',
  'generate_50_chars_ms_median',
] as const;

/** The reason a bench section gives when /usr/bin/python3 has no torch. */
export const TORCH_MISSING = 'skipped: torch not installed';

/** The JSON object on the last non-empty line of the script's stdout, checked field by field. */
export function parseTorchOutput(stdout: string): TorchFigures {
  const lines = stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const last = lines[lines.length - 1];
  if (last === undefined) throw new Error('torch reference printed nothing');
  let parsed: unknown;
  try {
    parsed = JSON.parse(last);
  } catch {
    throw new Error(`torch reference: last line is not JSON: ${last.slice(0, 200)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new Error('torch reference: last line is not a JSON object');
  const o = parsed as Record<string, unknown>;
  for (const k of NUMERIC_FIELDS) {
    if (typeof o[k] !== 'number' || !Number.isFinite(o[k]) || (o[k] as number) <= 0)
      throw new Error(`torch reference: ${k} missing or not a positive number`);
  }
  if (typeof o.engine !== 'string') throw new Error('torch reference: engine missing');
  return o as unknown as TorchFigures;
}

function run(
  file: string,
  args: string[],
  cwd: string,
  timeoutMs: number,
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error)
        reject(
          new Error(
            `${path.basename(file)} ${args.join(' ')}: ${error.message.split('\n')[0]}; stderr: ${stderr.trim().split('\n').slice(-3).join(' | ')}`,
          ),
        );
      else resolve({ stdout, stderr });
    });
  });
}

/** Whether /usr/bin/python3 can import torch (and the reason when not). */
export async function torchAvailable(cwd: string): Promise<{ ok: true } | { ok: false; reason: string }> {
  if (!existsSync(PYTHON)) return { ok: false, reason: `${TORCH_MISSING} (${PYTHON} not found)` };
  try {
    await run(PYTHON, ['-c', 'import torch'], cwd, 60_000);
    return { ok: true };
  } catch (error) {
    return {
      ok: false,
      reason: `${TORCH_MISSING} (${PYTHON} cannot import it; apt-get install python3-torch): ${(error as Error).message}`,
    };
  }
}

/** Runs the reference on the corpus with the given batch, sequence length and timed steps (per scheme). */
export async function runTorchReference(opts: {
  root: string;
  script: string;
  corpus: string;
  batch: number;
  seq: number;
  steps: number;
}): Promise<TorchOutcome> {
  if (!existsSync(path.resolve(opts.root, opts.script))) return { ok: false, reason: `${opts.script} not found` };
  const available = await torchAvailable(opts.root);
  if (!available.ok) return available;
  const started = performance.now();
  try {
    const { stdout } = await run(
      PYTHON,
      [
        opts.script,
        '--corpus',
        opts.corpus,
        '--batch',
        String(opts.batch),
        '--seq',
        String(opts.seq),
        '--steps',
        String(opts.steps),
      ],
      opts.root,
      300_000,
    );
    return {
      ok: true,
      figures: parseTorchOutput(stdout),
      seconds: (performance.now() - started) / 1000,
      steps: opts.steps,
    };
  } catch (error) {
    return { ok: false, reason: (error as Error).message };
  }
}
