/**
 * The checks every model store runs on a version before it may serve: loaded with every file's hash checked, then
 * a smoke test (a few characters from a fixed seed, without throwing). A RegistryError says what is wrong, in words
 * fit for an admin; the details (which file, its path) stay in its cause, for the log.
 */
import { BabyLanguageModel } from '../model/baby.js';
import { loadModel } from '../model/store.js';
import { RegistryError } from './scope.js';

/** A model that loaded must also babble: a few characters from a fixed seed, without throwing. */
function smokeTest(model: BabyLanguageModel): void {
  const out = model.generateDetailed('me ', { length: 24, rng: 1, temperature: 0.5 });
  if (typeof out.text !== 'string' || out.generated < 1)
    throw new RegistryError('the new model generated nothing in its smoke test');
}

/** The model, once it has passed the smoke test; a RegistryError says why it did not. */
export function smokeTested(model: BabyLanguageModel): BabyLanguageModel {
  try {
    smokeTest(model);
  } catch (err) {
    if (err instanceof RegistryError) throw err;
    throw new RegistryError('the model failed its smoke test', { cause: err });
  }
  return model;
}

/** Loads a version folder with every hash checked and smoke-tests it. */
export async function loadChecked(dir: string): Promise<BabyLanguageModel> {
  let model: BabyLanguageModel;
  try {
    const loaded = await loadModel(dir);
    model = BabyLanguageModel.fromWeights(loaded.weights, loaded.vocab, loaded.meta);
  } catch (err) {
    throw new RegistryError('the model files are damaged or incomplete', { cause: err });
  }
  return smokeTested(model);
}

/** Runs calls with the same key one after another (each after the previous settled), different keys in parallel. */
export function keyedQueue(): <T>(key: string, fn: () => Promise<T>) => Promise<T> {
  const tails = new Map<string, Promise<unknown>>();
  return <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    const prev = tails.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    tails.set(key, tail);
    void tail.then(() => {
      if (tails.get(key) === tail) tails.delete(key);
    });
    return next;
  };
}
