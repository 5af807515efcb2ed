/**
 * The float32 constants of the Cephes `expf` approximation that every hand-written exp uses — the generator's
 * step (lstm-step-wasm.ts, in WebAssembly and its JS twin) and the trainer's kernels (training/wasm-kernels.ts) —
 * so that the two compute the same sigmoid and tanh:
 *   x = min(max(x, EXP_LO), EXP_HI);  n = round-half-even(x·LOG2E) (via ± ROUND_MAGIC);  r = x − n·C1 − n·C2;
 *   p = ((((P0 r + P1) r + P2) r + P3) r + P4) r + P5;  exp = ((p·r² + r) + 1) · 2ⁿ
 */
const fr = Math.fround;

export const EXP_LO = -87;
export const EXP_HI = 88;
export const LOG2E = fr(Math.LOG2E);
/** 1.5 · 2^23: adding and subtracting it rounds a float32 of magnitude < 2^22 to an integer, ties to even. */
export const ROUND_MAGIC = 12582912;
export const C1 = fr(0.693359375);
export const C2 = fr(-2.1219444e-4);
/** P0 … P5 of the polynomial, highest power first. */
export const EXP_POLY: readonly number[] = [
  1.98756915e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1,
].map(fr);
