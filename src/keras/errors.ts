/**
 * Why an import was refused. Every refusal names what is at fault: the file, the layer, the variable, the pickle
 * opcode or type, both vocabulary sizes.
 */
export type ImportProblem =
  /** Not a file this importer knows (.keras zip, Keras 2 .h5, tfjs model.json). */
  | 'format'
  /** A damaged zip, HDF5 file or weight shard. */
  | 'corrupt'
  /** A layer or setting the generator does not compute exactly. */
  | 'architecture'
  /** A weight variable missing or of the wrong shape. */
  | 'variable'
  /** The vocabulary: missing, malformed, or not the model's size. */
  | 'vocabulary'
  /** A pickle holding something other than plain lists, dicts, str and int. */
  | 'pickle';

export class ImportError extends Error {
  override readonly name = 'ImportError';
  readonly problem: ImportProblem;

  constructor(problem: ImportProblem, message: string) {
    super(message);
    this.problem = problem;
  }
}
