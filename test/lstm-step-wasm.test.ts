import { describe, expect, it } from 'vitest';
import {
  PANEL_COLUMNS,
  cellJs,
  exp32,
  hardSigmoid32,
  instantiateKernels,
  kernelModuleBytes,
  matvecJs,
  packPanels,
  roundUp,
  sigmoid32,
  tanh32,
  wasmSimdAvailable,
  type KernelInstance,
} from '../src/model/lstm-step-wasm.js';
import { mulberry32 } from '../src/model/weights.js';

const rand = mulberry32(11);
const uniform = (n: number, scale: number) => Float32Array.from({ length: n }, () => (rand() * 2 - 1) * scale);

function kernels(bytes = 1 << 20): KernelInstance {
  const k = instantiateKernels(bytes);
  if (!k) throw new Error('no WebAssembly SIMD in this runtime');
  return k;
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
}

describe('the JS twins of the kernel maths', () => {
  it('exp32 is within 2e-7 relative of Math.exp over the unclamped range', () => {
    for (let x = -80; x <= 80; x += 0.0137) {
      const xf = Math.fround(x);
      expect(Math.abs(exp32(xf) / Math.exp(xf) - 1)).toBeLessThan(2e-7);
    }
    expect(exp32(0)).toBe(1);
  });

  it('sigmoid32 and tanh32 are within 3e-7 of the exact functions and saturate without NaN', () => {
    for (let x = -60; x <= 60; x += 0.00731) {
      const xf = Math.fround(x);
      expect(Math.abs(sigmoid32(xf) - 1 / (1 + Math.exp(-xf)))).toBeLessThan(3e-7);
      expect(Math.abs(tanh32(xf) - Math.tanh(xf))).toBeLessThan(3e-7);
    }
    for (const big of [1e5, 3e38, Infinity]) {
      expect(sigmoid32(big)).toBe(1);
      expect(sigmoid32(-big)).toBeLessThan(1e-37);
      expect(tanh32(big)).toBe(1);
      expect(tanh32(-big)).toBe(-1);
    }
  });

  it('matvecJs computes b + x · W for row-major W', () => {
    const rows = 7;
    const cols = 13;
    const w = uniform(rows * cols, 1);
    const x = uniform(rows, 1);
    const b = uniform(cols + 3, 1);
    const y = new Float32Array(cols);
    matvecJs(w, x, 0, rows, b, 3, y, cols);
    for (let j = 0; j < cols; j++) {
      let s = b[3 + j]!;
      for (let i = 0; i < rows; i++) s += x[i]! * w[i * cols + j]!;
      expect(y[j]).toBeCloseTo(s, 5);
    }
  });
});

describe('the WebAssembly SIMD kernels', () => {
  it('assemble into a module this runtime validates (Node 20 has wasm SIMD)', () => {
    const api = (globalThis as { WebAssembly?: { validate(b: Uint8Array): boolean } }).WebAssembly;
    expect(api?.validate(kernelModuleBytes())).toBe(true);
    expect(wasmSimdAvailable()).toBe(true);
  });

  it('packPanels lays a matrix out in 32-column panels, zero-padded', () => {
    const rows = 3;
    const cols = 40;
    const src = Float32Array.from({ length: rows * cols }, (_, i) => i + 1);
    const dst = new Float32Array(rows * roundUp(cols, PANEL_COLUMNS));
    packPanels(src, rows, cols, dst);
    // Panel 0: rows 0..2, columns 0..31; panel 1: rows 0..2, columns 32..39 then zeros.
    expect(dst[0]).toBe(src[0]);
    expect(dst[31]).toBe(src[31]);
    expect(dst[32]).toBe(src[cols]);
    expect(dst[3 * 32]).toBe(src[32]);
    expect(dst[3 * 32 + 7]).toBe(src[39]);
    expect(dst[3 * 32 + 8]).toBe(0);
    expect(dst[3 * 32 + 32]).toBe(src[cols + 32]);
  });

  it('matvec gives bit-identical results to matvecJs (odd row counts, padded columns)', () => {
    const k = kernels();
    for (const [rows, cols] of [
      [1, 5],
      [7, 32],
      [33, 49],
      [128, 512],
      [256, 512],
    ] as const) {
      const cp = roundUp(cols, PANEL_COLUMNS);
      const w = uniform(rows * cols, 0.5);
      const x = uniform(rows, 1);
      const b = uniform(cols, 1);
      const expected = new Float32Array(cols);
      matvecJs(w, x, 0, rows, b, 0, expected, cols);
      // Layout (floats): W panels | x | b (padded) | y.
      const wOff = 0;
      const xOff = roundUp(rows * cp, 4);
      const bOff = xOff + roundUp(rows, 4);
      const yOff = bOff + cp;
      k.f32.fill(0);
      packPanels(w, rows, cols, k.f32, wOff);
      k.f32.set(x, xOff);
      k.f32.set(b, bOff);
      k.matvec(wOff * 4, xOff * 4, bOff * 4, yOff * 4, rows, cp);
      expect(sameBits(k.f32.slice(yOff, yOff + cols), expected)).toBe(true);
      expect(k.f32.slice(yOff + cols, yOff + cp).every((v) => v === 0)).toBe(true);
    }
  });

  it('cell gives bit-identical gates, c and h to cellJs, including saturated pre-activations', () => {
    const k = kernels();
    const units = 64;
    const z = uniform(4 * units, 6);
    z.set([0, -0, 100, -100, 1e30, -1e30, 44, -44, 88.5, -87.5], 0);
    z.set([1e-8, -1e-8, 3e38, -3e38], 2 * units);
    const c0 = uniform(units, 3);
    const h0 = uniform(units, 1);
    const cJs = c0.slice();
    const hJs = h0.slice();
    cellJs(z, cJs, 0, hJs, 0, units);
    const [zOff, cOff, hOff] = [0, 4 * units, 5 * units];
    k.f32.set(z, zOff);
    k.f32.set(c0, cOff);
    k.f32.set(h0, hOff);
    k.cell(zOff * 4, cOff * 4, hOff * 4, units);
    expect(sameBits(k.f32.slice(cOff, cOff + units), cJs)).toBe(true);
    expect(sameBits(k.f32.slice(hOff, hOff + units), hJs)).toBe(true);
    // And the JS twin agrees with the textbook cell in double precision.
    for (let u = 0; u < units; u++) {
      const s = (v: number) => 1 / (1 + Math.exp(-v));
      const c = s(z[units + u]!) * c0[u]! + s(z[u]!) * Math.tanh(z[2 * units + u]!);
      expect(Math.abs(cJs[u]! - c)).toBeLessThan(1e-5);
      expect(Math.abs(hJs[u]! - s(z[3 * units + u]!) * Math.tanh(c))).toBeLessThan(1e-5);
    }
  });

  it('cell_hard gives bit-identical results to cellJs with the hard sigmoid, which is clip(0.2·x + 0.5, 0, 1)', () => {
    const k = kernels();
    const units = 12;
    const z = uniform(4 * units, 6);
    z.set([0, -2.5, 2.5, -2.6, 2.6, 1e30, -1e30], 0);
    const c0 = uniform(units, 3);
    const h0 = uniform(units, 1);
    const cJs = c0.slice();
    const hJs = h0.slice();
    cellJs(z, cJs, 0, hJs, 0, units, true);
    const [zOff, cOff, hOff] = [0, 4 * units, 5 * units];
    k.f32.set(z, zOff);
    k.f32.set(c0, cOff);
    k.f32.set(h0, hOff);
    k.cellHard(zOff * 4, cOff * 4, hOff * 4, units);
    expect(sameBits(k.f32.slice(cOff, cOff + units), cJs)).toBe(true);
    expect(sameBits(k.f32.slice(hOff, hOff + units), hJs)).toBe(true);
    for (const x of [-3, -2.5, -1, 0, 0.7, 2.5, 3, 1e30]) {
      expect(Math.abs(hardSigmoid32(x) - Math.min(1, Math.max(0, 0.2 * x + 0.5)))).toBeLessThan(1e-7);
    }
  });
});
