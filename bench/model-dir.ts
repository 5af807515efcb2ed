/**
 * The model every measurement uses: a verified snapshot of models/base (loaded with its hashes checked, saved to a
 * temporary folder, so a `npm run train -- --out models/base --overwrite` running meanwhile cannot change it halfway),
 * or, when models/base does not exist, a fresh untrained model (same architecture, same size and speed) saved there.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BabyLanguageModel } from '../src/model/baby.js';

export interface ModelDir {
  dir: string;
  /** What it holds, for the report. */
  source: string;
  fallback: boolean;
  remove(): Promise<void>;
}

/** A save in progress (files being replaced) fails the hash check: try again a few times. */
async function loadWithRetry(dir: string, attempts = 3): Promise<BabyLanguageModel> {
  for (let i = 1; ; i++) {
    try {
      return await BabyLanguageModel.load(dir);
    } catch (error) {
      if (i >= attempts) throw error;
      await sleep(2000);
    }
  }
}

export async function snapshotBaseModel(root: string): Promise<ModelDir> {
  const base = path.join(root, 'models/base');
  const dir = await mkdtemp(path.join(tmpdir(), 'babble-bench-model-'));
  try {
    if (existsSync(path.join(base, 'meta.json'))) {
      const model = await loadWithRetry(base);
      const version = model.meta?.version ?? 'base';
      const source = `models/base (version ${version}, created ${model.meta?.created ?? '?'})`;
      await model.save(dir, { version });
      return { dir, source, fallback: false, remove: () => rm(dir, { recursive: true, force: true }) };
    }
    await BabyLanguageModel.build({ seed: 1 }).save(dir, {
      version: 'bench-untrained',
      training: { note: 'untrained weights made by npm run bench (models/base missing)' },
    });
    return {
      dir,
      source: 'BabyLanguageModel.build() (models/base does not exist yet: untrained weights)',
      fallback: true,
      remove: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
