/**
 * The training text reaches the trainer child through a file, not one IPC message: the parent writes the job's
 * lines to a private temporary file (folder 0700, file 0600, refused past MAX_TRAINING_TEXT_BYTES), sends the
 * child the job without its lines and with the file's path, and removes the file when the job ends, whatever its
 * outcome (runTraining's finally). The child reads it back and checks it like any protocol message.
 */
import { mkdtemp, open, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseTrainingText, type TrainingText, type TrainJob } from './trainer-protocol.js';

/** The largest training text file written or read, in bytes (the protocol's line limits, in UTF-8, fit in it). */
export const MAX_TRAINING_TEXT_BYTES = 256 * 1024 * 1024;

/** Folders of training text files start with this under the OS temporary folder. */
export const TRAINING_TEXT_PREFIX = 'babble-text-';

export interface TrainingTextFile {
  path: string;
  /** The job as the child gets it: no lines, the file's path instead. */
  job: TrainJob;
  /** Removes the file and its folder; never throws. */
  remove(): Promise<void>;
}

/** Writes the job's text (0600, in a fresh 0700 folder) and returns the job to send instead. */
export async function writeTrainingTextFile(job: TrainJob, parent = tmpdir()): Promise<TrainingTextFile> {
  const text: TrainingText = {
    trainingLines: job.trainingLines,
    baseCorpusLines: job.baseCorpusLines,
    heldOut: job.heldOut,
  };
  const body = Buffer.from(JSON.stringify(text), 'utf8');
  if (body.length > MAX_TRAINING_TEXT_BYTES) {
    throw new Error(`the training text is ${body.length} bytes, more than the ${MAX_TRAINING_TEXT_BYTES} allowed`);
  }
  const dir = await mkdtemp(path.join(parent, TRAINING_TEXT_PREFIX));
  const file = path.join(dir, 'text.json');
  const remove = () => rm(dir, { recursive: true, force: true }).catch(() => undefined);
  try {
    const handle = await open(file, 'wx', 0o600);
    try {
      await handle.writeFile(body);
    } finally {
      await handle.close();
    }
  } catch (err) {
    await remove();
    throw err;
  }
  const childJob: TrainJob = {
    ...job,
    trainingLines: [],
    baseCorpusLines: [],
    heldOut: { server: [], base: [] },
    textFile: file,
  };
  return { path: file, job: childJob, remove };
}

/** The child's side: the job with its lines read back from `job.textFile` (checked, size-bounded). */
export async function withTrainingText(job: TrainJob): Promise<TrainJob> {
  if (job.textFile === undefined) return job;
  const size = (await stat(job.textFile)).size;
  if (size > MAX_TRAINING_TEXT_BYTES) {
    throw new Error(`the training text file is ${size} bytes, more than the ${MAX_TRAINING_TEXT_BYTES} allowed`);
  }
  const text = parseTrainingText(JSON.parse(await readFile(job.textFile, 'utf8')) as unknown);
  const { textFile: _file, ...rest } = job;
  return { ...rest, ...text };
}

/** A trainer child reads its file within seconds of starting: older folders are left over from a killed bot. */
export const STALE_TRAINING_TEXT_MS = 60 * 60_000;

/**
 * Removes training text folders left behind by a bot that was killed (its finally never ran): those older than
 * `maxAgeMs`, so that another bot process's training that just started keeps its file. Returns how many.
 */
export async function removeStaleTrainingText(
  parent = tmpdir(),
  maxAgeMs = STALE_TRAINING_TEXT_MS,
  now = Date.now(),
): Promise<number> {
  let removed = 0;
  for (const name of await readdir(parent).catch(() => [] as string[])) {
    if (!name.startsWith(TRAINING_TEXT_PREFIX)) continue;
    const dir = path.join(parent, name);
    const info = await stat(dir).catch(() => undefined);
    if (!info?.isDirectory() || now - info.mtimeMs < maxAgeMs) continue;
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    removed += 1;
  }
  return removed;
}
