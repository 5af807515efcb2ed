/**
 * Fused LSTM kernels for the tfjs wasm backend: a small WebAssembly SIMD module, assembled at runtime by the tiny
 * encoder below (no toolchain), that works directly on the wasm backend's own memory (it imports the backend's
 * `WebAssembly.Memory`, so its functions take the byte offsets of tensors' data).
 *
 * Module functions (byte addresses; every row-major [rows, 4·units] matrix holds the gate blocks i | f | g | o side
 * by side, Keras order; `units` a multiple of 4):
 *   gemm(a, lda, bp, c, ldc, init, ldi, m, k, np) — C[m, 8·np] = init + A[m, k]·B[k, 8·np], B packed by pack_b into
 *       panels of 8 columns; init 0: zeros, else rows of stride ldi (0: one broadcast row, e.g. a bias). Blocks of
 *       4 rows × 8 columns, k unrolled by 4, f32x4.relaxed_madd (a fused multiply-add) when relaxed SIMD is
 *       available, else f32x4.mul + f32x4.add.
 *   pack_b(src, ldb, k, np, dst) — B [k, 8·np] (row stride ldb) into np panels of k × 8.
 *   lstm_fwd(z, cp, cn, h, gates, tc, rows, units) — one time step of the recurrence, z the pre-activations:
 *       i = σ(z_i), f = σ(z_f), g = tanh(z_g), o = σ(z_o);  cn = f·cp + i·g;  tc = tanh(cn);  h = o·tc;
 *       gates = [i | f | g | o]
 *   lstm_bwd(dh, dc, gates, cp, tc, dz, dbias, rows, units) — one time step of backpropagation through time:
 *       dC = dh·o·(1 − tc²) + dc;  dz = [dC·g·i(1−i) | dC·cp·f(1−f) | dC·i·(1−g²) | dh·tc·o(1−o)];
 *       dc ← dC·f;  dbias += Σ_rows dz
 *   transpose(src, dst, rows, cols, srcStride, dstStride) — 4×4 SIMD blocks; rows and cols multiples of 4
 *   scatter_add(src, ids, dst, rows, cols) — dst[ids[r], :] += src[r, :]; cols a multiple of 4
 * σ(x) = 1 / (1 + exp(−x)), tanh(x) = 1 − 2 / (1 + exp(2x)), exp the Cephes expf polynomial (~1e-7 relative).
 *
 * tfjs kernels built on them (fast-kernels.ts registers them for the 'wasm' backend only; units a multiple of 8):
 *   BabbleLstmForward  inputs {xw [T·B, 4H], u [H, 4H], h0? [B, H], c0? [B, H]}, attrs {steps: T}
 *       → [outputs [T·B, H] (h_1..h_T), hPrev [T·B, H] (h_0..h_{T−1}), cs [(T+1)·B, H] (c_0..c_T),
 *          gates [T·B, 4H], tcs [T·B, H]]; per step one gemm (xw_t + h_{t−1}·U) and one lstm_fwd.
 *   BabbleLstmBackward inputs {uT [4H, H], gates, cs, tcs, dOutputs? [T·B, H], dh? [B, H], dc? [B, H]}, attrs {steps}
 *       → [dz [T·B, 4H], dBias [4H], dh0 [B, H], dc0 [B, H]]; per step one lstm_bwd and one gemm
 *       (dOutputs_{t−1} + dz_t·Uᵀ).
 *   BabbleMatMul       inputs {a [M, K], b [K, N], bias? [N]} → a·b + bias, N a multiple of 8.
 *   UnsortedSegmentSum (missing from stock tfjs-backend-wasm 4.22) — the embedding gradient.
 */
import { setFlagsFromString } from 'node:v8';
import { util } from '@tensorflow/tfjs';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { type Code, section, sleb, uleb, WASM_HEADER, wasmName } from '../model/wasm-encoding.js';
import { offsetOf, wasmBackend, type RawKernel, type WasmBackend } from './wasm-backend.js';
import { C1, C2, EXP_HI, EXP_LO, EXP_POLY, LOG2E, ROUND_MAGIC } from '../model/exp-constants.js';

// ---------------------------------------------------------------------------------------------------------------
// The encoder.

const I32 = 0x7f;
const V128 = 0x7b;
const simd = (op: number): Code => [0xfd, ...uleb(op)];

/** Stack-code builders: each returns the code that leaves its value on the stack. */
const get = (l: number): Code => [0x20, ...uleb(l)];
const set = (l: number, value: Code): Code => [...value, 0x21, ...uleb(l)];
const i32 = (v: number): Code => [0x41, ...sleb(v)];
const iadd = (...xs: Code[]): Code => xs.slice(1).reduce<Code>((acc, x) => [...acc, ...x, 0x6a], xs[0]!);
const imul = (a: Code, b: Code): Code => [...a, ...b, 0x6c];
const ishl = (a: Code, bits: number): Code => [...a, ...i32(bits), 0x74];
const iltu = (a: Code, b: Code): Code => [...a, ...b, 0x49];
const i32load = (addr: Code): Code => [...addr, 0x28, 2, 0];
/** v128.load / v128.store (alignment hint 16 bytes; unaligned addresses still work). */
const ld = (addr: Code): Code => [...addr, ...simd(0x00), 4, 0];
const st = (addr: Code, value: Code): Code => [...addr, ...value, ...simd(0x0b), 4, 0];
const fadd = (a: Code, b: Code): Code => [...a, ...b, ...simd(0xe4)];
const fsub = (a: Code, b: Code): Code => [...a, ...b, ...simd(0xe5)];
const fmul = (...xs: Code[]): Code => xs.slice(1).reduce<Code>((acc, x) => [...acc, ...x, ...simd(0xe6)], xs[0]!);
const fdiv = (a: Code, b: Code): Code => [...a, ...b, ...simd(0xe7)];
const fmin = (a: Code, b: Code): Code => [...a, ...b, ...simd(0xe8)];
const fmax = (a: Code, b: Code): Code => [...a, ...b, ...simd(0xe9)];
const fneg = (a: Code): Code => [...a, ...simd(0xe1)];
function f32x4(value: number): Code {
  const lane = [...new Uint8Array(Float32Array.of(value).buffer)];
  return [...simd(0x0c), ...lane, ...lane, ...lane, ...lane];
}
function i32x4(value: number): Code {
  const lane = [...new Uint8Array(Int32Array.of(value).buffer)];
  return [...simd(0x0c), ...lane, ...lane, ...lane, ...lane];
}
/** i8x16.shuffle of two f32x4 values by float lanes (0–3: a, 4–7: b). */
function shuffle(a: Code, b: Code, lanes: [number, number, number, number]): Code {
  return [...a, ...b, ...simd(0x0d), ...lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3])];
}
/** A loop that runs `body` then repeats while `cond` holds (do … while). */
const doWhile = (body: Code, cond: Code): Code => [0x03, 0x40, ...body, ...cond, 0x0d, 0, 0x0b];
const locals = (...groups: [count: number, type: number][]): Code => [
  ...uleb(groups.length),
  ...groups.flatMap(([n, t]) => [...uleb(n), t]),
];

const P = EXP_POLY;

/** Temporaries an inlined exp needs: four v128 locals. */
interface ExpTemps {
  x: number;
  n: number;
  r: number;
  y: number;
}

/** exp(value), inlined (value is evaluated once). */
function exp(value: Code, t: ExpTemps): Code {
  const { x, n, r, y } = t;
  const horner = (k: number): Code => set(y, fadd(fmul(get(y), get(r)), f32x4(P[k]!)));
  return [
    ...set(x, fmin(fmax(value, f32x4(EXP_LO)), f32x4(EXP_HI))),
    ...set(n, fsub(fadd(fmul(get(x), f32x4(LOG2E)), f32x4(ROUND_MAGIC)), f32x4(ROUND_MAGIC))),
    ...set(r, fsub(get(x), fmul(get(n), f32x4(C1)))),
    ...set(r, fsub(get(r), fmul(get(n), f32x4(C2)))),
    ...set(y, fadd(fmul(f32x4(P[0]!), get(r)), f32x4(P[1]!))),
    ...horner(2),
    ...horner(3),
    ...horner(4),
    ...horner(5),
    // ((y·r² + r) + 1) · 2^n, 2^n from the exponent bits
    ...fmul(fadd(fadd(fmul(get(y), fmul(get(r), get(r))), get(r)), f32x4(1)), [
      ...get(n),
      ...simd(0xf8),
      ...i32x4(127),
      ...simd(0xae),
      ...i32(23),
      ...simd(0xab),
    ]),
  ];
}
const sigmoid = (value: Code, t: ExpTemps): Code => fdiv(f32x4(1), fadd(f32x4(1), exp(fneg(value), t)));
const tanh = (value: Code, t: ExpTemps): Code => {
  // 1 − 2 / (1 + exp(2v)); v is read twice, so stash it in t.y first (exp overwrites y only after reading x)
  return [...set(t.y, value), ...fsub(f32x4(1), fdiv(f32x4(2), fadd(f32x4(1), exp(fadd(get(t.y), get(t.y)), t))))];
};

/** The byte address base + idx (+ off), all three i32 locals. */
function addr(base: number, idx: number, off?: number): Code {
  return off === undefined ? iadd(get(base), get(idx)) : iadd(get(base), get(idx), get(off));
}

/**
 * Gate strides of a rows × 4·units float32 layout into i32 locals: hb, 2·hb, 3·hb (one gate's bytes each, so the
 * gate offsets), hb4 (a whole row of gates) and end = rows · hb.
 */
function gateStrides(rows: number, units: number, [hb, hb2, hb3, hb4, end]: readonly number[]): Code {
  return [
    ...set(hb!, ishl(get(units), 2)),
    ...set(hb2!, ishl(get(units), 3)),
    ...set(hb3!, iadd(get(hb!), get(hb2!))),
    ...set(hb4!, ishl(get(units), 4)),
    ...set(end!, imul(get(rows), get(hb!))),
  ];
}

function lstmFwdBody(): Code {
  // params 0..7: z, cp, cn, h, gates, tc, rows, units
  const [Z, CP, CN, H, G, TC, ROWS, UNITS] = [0, 1, 2, 3, 4, 5, 6, 7];
  // i32 locals 8..17
  const [HB, HB2, HB3, HB4, RP, RQ, UB, END, A, PA] = [8, 9, 10, 11, 12, 13, 14, 15, 16, 17];
  // v128 locals 18..27
  const [VI, VF, VG, VO, VC, VT] = [18, 19, 20, 21, 22, 23];
  const t: ExpTemps = { x: 24, n: 25, r: 26, y: 27 };
  const pre = (off?: number): Code => ld(addr(Z, A, off));
  return [
    ...locals([10, I32], [10, V128]),
    ...gateStrides(ROWS, UNITS, [HB, HB2, HB3, HB4, END]),
    ...doWhile(
      [
        ...set(UB, i32(0)),
        ...doWhile(
          [
            ...set(A, iadd(get(RQ), get(UB))),
            ...set(PA, iadd(get(RP), get(UB))),
            ...set(VI, sigmoid(pre(), t)),
            ...set(VF, sigmoid(pre(HB), t)),
            ...set(VG, tanh(pre(HB2), t)),
            ...set(VO, sigmoid(pre(HB3), t)),
            ...set(VC, fadd(fmul(get(VF), ld(addr(CP, PA))), fmul(get(VI), get(VG)))),
            ...st(addr(CN, PA), get(VC)),
            ...set(VT, tanh(get(VC), t)),
            ...st(addr(TC, PA), get(VT)),
            ...st(addr(H, PA), fmul(get(VO), get(VT))),
            ...st(addr(G, A), get(VI)),
            ...st(addr(G, A, HB), get(VF)),
            ...st(addr(G, A, HB2), get(VG)),
            ...st(addr(G, A, HB3), get(VO)),
            ...set(UB, iadd(get(UB), i32(16))),
          ],
          iltu(get(UB), get(HB)),
        ),
        ...set(RP, iadd(get(RP), get(HB))),
        ...set(RQ, iadd(get(RQ), get(HB4))),
      ],
      iltu(get(RP), get(END)),
    ),
    0x0b,
  ];
}

function lstmBwdBody(): Code {
  // params 0..8: dh, dc, gates, cp, tc, dz, dbias, rows, units
  const [DH, DC, G, CP, TC, DZ, DB, ROWS, UNITS] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [HB, HB2, HB3, HB4, RP, RQ, UB, END, A, PA] = [9, 10, 11, 12, 13, 14, 15, 16, 17, 18];
  const [VDH, VI, VF, VG, VO, VT, VDC, VDZ] = [19, 20, 21, 22, 23, 24, 25, 26];
  const out = (off: number | undefined, value: Code): Code => [
    ...set(VDZ, value),
    ...st(addr(DZ, A, off), get(VDZ)),
    ...st(addr(DB, UB, off), fadd(ld(addr(DB, UB, off)), get(VDZ))),
  ];
  const slope = (s: number): Code => fsub(get(s), fmul(get(s), get(s))); // s(1 − s)
  return [
    ...locals([10, I32], [8, V128]),
    ...gateStrides(ROWS, UNITS, [HB, HB2, HB3, HB4, END]),
    ...doWhile(
      [
        ...set(UB, i32(0)),
        ...doWhile(
          [
            ...set(A, iadd(get(RQ), get(UB))),
            ...set(PA, iadd(get(RP), get(UB))),
            ...set(VDH, ld(addr(DH, PA))),
            ...set(VI, ld(addr(G, A))),
            ...set(VF, ld(addr(G, A, HB))),
            ...set(VG, ld(addr(G, A, HB2))),
            ...set(VO, ld(addr(G, A, HB3))),
            ...set(VT, ld(addr(TC, PA))),
            ...set(VDC, fadd(fmul(get(VDH), get(VO), fsub(f32x4(1), fmul(get(VT), get(VT)))), ld(addr(DC, PA)))),
            ...st(addr(DC, PA), fmul(get(VDC), get(VF))),
            ...out(undefined, fmul(get(VDC), get(VG), slope(VI))),
            ...out(HB, fmul(get(VDC), ld(addr(CP, PA)), slope(VF))),
            ...out(HB2, fmul(get(VDC), get(VI), fsub(f32x4(1), fmul(get(VG), get(VG))))),
            ...out(HB3, fmul(get(VDH), get(VT), slope(VO))),
            ...set(UB, iadd(get(UB), i32(16))),
          ],
          iltu(get(UB), get(HB)),
        ),
        ...set(RP, iadd(get(RP), get(HB))),
        ...set(RQ, iadd(get(RQ), get(HB4))),
      ],
      iltu(get(RP), get(END)),
    ),
    0x0b,
  ];
}

function transposeBody(): Code {
  // params 0..5: src, dst, rows, cols, srcStride, dstStride (elements; rows, cols multiples of 4, both ≥ 4).
  // Bands of 16 columns (one cache line of a source row), walked down all rows: the source lines are used whole
  // while cached and the destination is written as 16 sequential streams.
  const [SRC, DST, ROWS, COLS, SSTRIDE, DSTRIDE] = [0, 1, 2, 3, 4, 5];
  const [SS, DS, R, C, S, D, CB, CEND] = [6, 7, 8, 9, 10, 11, 12, 13];
  const [R0, R1, R2, R3, T0, T1, T2, T3] = [14, 15, 16, 17, 18, 19, 20, 21];
  const lo: [number, number, number, number] = [0, 4, 1, 5];
  const hi: [number, number, number, number] = [2, 6, 3, 7];
  const first: [number, number, number, number] = [0, 1, 4, 5];
  const second: [number, number, number, number] = [2, 3, 6, 7];
  const bandEnd = iadd(get(CB), i32(16));
  return [
    ...locals([8, I32], [8, V128]),
    ...set(SS, ishl(get(SSTRIDE), 2)),
    ...set(DS, ishl(get(DSTRIDE), 2)),
    ...doWhile(
      [
        // cEnd = min(cb + 16, cols)
        ...set(CEND, [...bandEnd, ...get(COLS), ...iltu(bandEnd, get(COLS)), 0x1b]),
        ...set(R, i32(0)),
        ...doWhile(
          [
            ...set(C, get(CB)),
            ...doWhile(
              [
                ...set(S, iadd(get(SRC), imul(get(R), get(SS)), ishl(get(C), 2))),
                ...set(R0, ld(get(S))),
                ...set(R1, ld(iadd(get(S), get(SS)))),
                ...set(R2, ld(iadd(get(S), get(SS), get(SS)))),
                ...set(R3, ld(iadd(get(S), get(SS), get(SS), get(SS)))),
                ...set(T0, shuffle(get(R0), get(R1), lo)),
                ...set(T1, shuffle(get(R0), get(R1), hi)),
                ...set(T2, shuffle(get(R2), get(R3), lo)),
                ...set(T3, shuffle(get(R2), get(R3), hi)),
                ...set(D, iadd(get(DST), imul(get(C), get(DS)), ishl(get(R), 2))),
                ...st(get(D), shuffle(get(T0), get(T2), first)),
                ...st(iadd(get(D), get(DS)), shuffle(get(T0), get(T2), second)),
                ...st(iadd(get(D), get(DS), get(DS)), shuffle(get(T1), get(T3), first)),
                ...st(iadd(get(D), get(DS), get(DS), get(DS)), shuffle(get(T1), get(T3), second)),
                ...set(C, iadd(get(C), i32(4))),
              ],
              iltu(get(C), get(CEND)),
            ),
            ...set(R, iadd(get(R), i32(4))),
          ],
          iltu(get(R), get(ROWS)),
        ),
        ...set(CB, iadd(get(CB), i32(16))),
      ],
      iltu(get(CB), get(COLS)),
    ),
    0x0b,
  ];
}

function scatterAddBody(): Code {
  // params 0..4: src, ids, dst, rows, cols (cols a multiple of 4, rows ≥ 1, cols ≥ 4)
  const [SRC, IDS, DST, ROWS, COLS] = [0, 1, 2, 3, 4];
  const [CB, R, S, D, C] = [5, 6, 7, 8, 9];
  return [
    ...locals([5, I32]),
    ...set(CB, ishl(get(COLS), 2)),
    ...doWhile(
      [
        ...set(D, iadd(get(DST), imul(i32load(iadd(get(IDS), ishl(get(R), 2))), get(CB)))),
        ...set(S, iadd(get(SRC), imul(get(R), get(CB)))),
        ...set(C, i32(0)),
        ...doWhile(
          [
            ...st(iadd(get(D), get(C)), fadd(ld(iadd(get(D), get(C))), ld(iadd(get(S), get(C))))),
            ...set(C, iadd(get(C), i32(16))),
          ],
          iltu(get(C), get(CB)),
        ),
        ...set(R, iadd(get(R), i32(1))),
      ],
      iltu(get(R), get(ROWS)),
    ),
    0x0b,
  ];
}

/** A whole number of 8-column panels: the GEMM's column block (two f32x4 accumulators per row). */
export const GEMM_PANEL = 8;

function gemmBody(fma: boolean, MR = 4): Code {
  // params 0..9: a, lda, bp, c, ldc, init, ldi, m, k, np (strides in elements). C[m, 8·np] = init + A[m, k]·B[k, 8·np]
  // with B packed (pack_b) as np panels of k rows × 8 columns; init 0: zeros, else rows of stride ldi (0: one
  // broadcast row, a bias). Blocks of 4 rows × 8 columns, k unrolled by 4, A entries broadcast by load32_splat.
  const [PA, LDA, BP, PC, LDC, INIT, LDI, M, K, NP] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [LDA4, LDC4, LDI4, KB, K4, I, J, PB0, PB, KK, CROW, IROW] = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21];
  const Q = Array.from({ length: MR }, (_, r) => 22 + r); // A row pointers
  const ACC = (r: number, h: number) => 22 + MR + 2 * r + h;
  const [B0, B1, AV] = [22 + 3 * MR, 23 + 3 * MR, 24 + 3 * MR];
  const madd = (acc: number, a: Code, b: Code): Code =>
    fma ? set(acc, [...a, ...b, ...get(acc), ...simd(0x105)]) : set(acc, fadd(get(acc), fmul(a, b)));
  const splat = (q: number, offset: number): Code => [...get(q), ...simd(0x09), 2, ...uleb(offset)];
  const ldOff = (addr: Code, offset: number): Code => [...addr, ...simd(0x00), 4, ...uleb(offset)];
  const stOff = (addr: Code, offset: number, value: Code): Code => [
    ...addr,
    ...value,
    ...simd(0x0b),
    4,
    ...uleb(offset),
  ];
  const zero = f32x4(0);
  /** One k step for `rows` rows at A offset `u` (elements) and panel row u. */
  const kStep = (rows: number, u: number): Code => [
    ...set(B0, ldOff(get(PB), 32 * u)),
    ...set(B1, ldOff(get(PB), 32 * u + 16)),
    ...Array.from({ length: rows }, (_, r) => [
      ...set(AV, splat(Q[r]!, 4 * u)),
      ...madd(ACC(r, 0), get(AV), get(B0)),
      ...madd(ACC(r, 1), get(AV), get(B1)),
    ]).flat(),
  ];
  const rowBlock = (rows: number): Code => [
    // q_r = a + (i + r)·lda; crow = c + i·ldc; irow = init + i·ldi
    ...set(Q[0]!, iadd(get(PA), imul(get(I), get(LDA4)))),
    ...Array.from({ length: rows - 1 }, (_, r) => set(Q[r + 1]!, iadd(get(Q[r]!), get(LDA4)))).flat(),
    ...set(CROW, iadd(get(PC), imul(get(I), get(LDC4)))),
    ...set(IROW, iadd(get(INIT), imul(get(I), get(LDI4)))),
    ...set(J, i32(0)),
    ...set(PB0, get(BP)),
    ...doWhile(
      [
        // accumulators from init (or zero)
        ...get(INIT),
        0x04,
        0x40,
        ...Array.from({ length: rows }, (_, r) => [
          ...set(ACC(r, 0), ldOff(iadd(get(IROW), imul(get(LDI4), i32(r)), ishl(get(J), 5)), 0)),
          ...set(ACC(r, 1), ldOff(iadd(get(IROW), imul(get(LDI4), i32(r)), ishl(get(J), 5)), 16)),
        ]).flat(),
        0x05,
        ...Array.from({ length: rows }, (_, r) => [...set(ACC(r, 0), zero), ...set(ACC(r, 1), zero)]).flat(),
        0x0b,
        ...set(PB, get(PB0)),
        ...set(KK, i32(0)),
        // k in steps of 4 …
        ...get(K4),
        0x04,
        0x40,
        ...doWhile(
          [
            ...kStep(rows, 0),
            ...kStep(rows, 1),
            ...kStep(rows, 2),
            ...kStep(rows, 3),
            ...Array.from({ length: rows }, (_, r) => set(Q[r]!, iadd(get(Q[r]!), i32(16)))).flat(),
            ...set(PB, iadd(get(PB), i32(128))),
            ...set(KK, iadd(get(KK), i32(4))),
          ],
          iltu(get(KK), get(K4)),
        ),
        0x0b,
        // … then one at a time
        ...iltu(get(KK), get(K)),
        0x04,
        0x40,
        ...doWhile(
          [
            ...kStep(rows, 0),
            ...Array.from({ length: rows }, (_, r) => set(Q[r]!, iadd(get(Q[r]!), i32(4)))).flat(),
            ...set(PB, iadd(get(PB), i32(32))),
            ...set(KK, iadd(get(KK), i32(1))),
          ],
          iltu(get(KK), get(K)),
        ),
        0x0b,
        // store; rewind the A pointers
        ...Array.from({ length: rows }, (_, r) => [
          ...stOff(iadd(get(CROW), imul(get(LDC4), i32(r)), ishl(get(J), 5)), 0, get(ACC(r, 0))),
          ...stOff(iadd(get(CROW), imul(get(LDC4), i32(r)), ishl(get(J), 5)), 16, get(ACC(r, 1))),
          ...set(Q[r]!, [...get(Q[r]!), ...ishl(get(K), 2), 0x6b]),
        ]).flat(),
        ...set(PB0, iadd(get(PB0), get(KB))),
        ...set(J, iadd(get(J), i32(1))),
      ],
      iltu(get(J), get(NP)),
    ),
  ];
  return [
    ...locals([12 + MR, I32], [2 * MR + 3, V128]),
    ...set(LDA4, ishl(get(LDA), 2)),
    ...set(LDC4, ishl(get(LDC), 2)),
    ...set(LDI4, ishl(get(LDI), 2)),
    ...set(KB, ishl(get(K), 5)),
    ...set(K4, [...get(K), ...i32(-4), 0x71]), // k & ~3
    // blocks of MR rows
    ...iltu(i32(MR - 1), get(M)),
    0x04,
    0x40,
    ...doWhile([...rowBlock(MR), ...set(I, iadd(get(I), i32(MR)))], iltu(iadd(get(I), i32(MR - 1)), get(M))),
    0x0b,
    // the remaining rows one at a time
    ...iltu(get(I), get(M)),
    0x04,
    0x40,
    ...doWhile([...rowBlock(1), ...set(I, iadd(get(I), i32(1)))], iltu(get(I), get(M))),
    0x0b,
    0x0b,
  ];
}

function packBody(): Code {
  // params 0..4: src, ldb, k, np, dst: B [k, 8·np] (row stride ldb) → np panels of k × 8, panel after panel
  const [SRC, LDB, K, NP, DST] = [0, 1, 2, 3, 4];
  const [KK, J, S, D, KB] = [5, 6, 7, 8, 9];
  return [
    ...locals([5, I32]),
    ...set(KB, ishl(get(K), 5)),
    ...doWhile(
      [
        ...set(S, iadd(get(SRC), imul(get(KK), ishl(get(LDB), 2)))),
        ...set(D, iadd(get(DST), ishl(get(KK), 5))),
        ...set(J, i32(0)),
        ...doWhile(
          [
            ...st(get(D), ld(get(S))),
            ...st(iadd(get(D), i32(16)), ld(iadd(get(S), i32(16)))),
            ...set(S, iadd(get(S), i32(32))),
            ...set(D, iadd(get(D), get(KB))),
            ...set(J, iadd(get(J), i32(1))),
          ],
          iltu(get(J), get(NP)),
        ),
        ...set(KK, iadd(get(KK), i32(1))),
      ],
      iltu(get(KK), get(K)),
    ),
    0x0b,
  ];
}

/** The module's bytes: imports `env.memory` (any size, growable), exports the four functions. */
export function fusedModuleBytes(fma = false, mr = 4): Uint8Array {
  const sig = (n: number): Code => [0x60, ...uleb(n), ...new Array<number>(n).fill(I32), ...uleb(0)];
  const functions: { name: string; params: number; body: Code }[] = [
    { name: 'lstm_fwd', params: 8, body: lstmFwdBody() },
    { name: 'lstm_bwd', params: 9, body: lstmBwdBody() },
    { name: 'transpose', params: 6, body: transposeBody() },
    { name: 'scatter_add', params: 5, body: scatterAddBody() },
    { name: 'gemm', params: 10, body: gemmBody(fma, mr) },
    { name: 'pack_b', params: 5, body: packBody() },
  ];
  const bytes = [
    ...WASM_HEADER,
    ...section(1, [...uleb(functions.length), ...functions.flatMap((f) => sig(f.params))]),
    ...section(2, [...uleb(1), ...wasmName('env'), ...wasmName('memory'), 0x02, 0x00, ...uleb(0)]),
    ...section(3, [...uleb(functions.length), ...functions.flatMap((_, i) => uleb(i))]),
    ...section(7, [...uleb(functions.length), ...functions.flatMap((f, i) => [...wasmName(f.name), 0x00, ...uleb(i)])]),
    ...section(10, [...uleb(functions.length), ...functions.flatMap((f) => [...uleb(f.body.length), ...f.body])]),
  ];
  return Uint8Array.from(bytes);
}

// ---------------------------------------------------------------------------------------------------------------
// Instances on the wasm backend's memory.

export interface FusedFunctions {
  lstm_fwd(z: number, cp: number, cn: number, h: number, gates: number, tc: number, rows: number, units: number): void;
  lstm_bwd(
    dh: number,
    dc: number,
    gates: number,
    cp: number,
    tc: number,
    dz: number,
    dbias: number,
    rows: number,
    units: number,
  ): void;
  transpose(src: number, dst: number, rows: number, cols: number, srcStride: number, dstStride: number): void;
  scatter_add(src: number, ids: number, dst: number, rows: number, cols: number): void;
  gemm(
    a: number,
    lda: number,
    bp: number,
    c: number,
    ldc: number,
    init: number,
    ldi: number,
    m: number,
    k: number,
    np: number,
  ): void;
  pack_b(src: number, ldb: number, k: number, np: number, dst: number): void;
}

interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { readonly exports: Record<string, unknown> };
}

let compiled: { module: object; fma: boolean } | null | undefined;
const instances = new WeakMap<object, FusedFunctions | null>();

/**
 * Whether WebAssembly relaxed SIMD (f32x4.relaxed_madd, a fused multiply-add on x86 with FMA) validates here. Node
 * 20's V8 has it behind --experimental-wasm-relaxed-simd (shipped by default from V8 11.4 / Node 22): when it does
 * not validate, that flag is switched on once (it only adds the relaxed opcodes to the validator) and validation is
 * retried. BABBLE_WASM_FMA=0 keeps the plain SIMD module.
 */
function relaxedSimd(api: WasmApi): boolean {
  if (process.env.BABBLE_WASM_FMA === '0') return false;
  const probe = fusedModuleBytes(true);
  if (api.validate(probe)) return true;
  try {
    setFlagsFromString('--experimental-wasm-relaxed-simd');
  } catch {
    return false;
  }
  return api.validate(probe);
}

function compiledModule(): { module: object; fma: boolean } | null {
  if (compiled === undefined) {
    compiled = null;
    try {
      const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
      if (api) {
        const fma = relaxedSimd(api);
        const bytes = fusedModuleBytes(fma);
        if (api.validate(bytes)) compiled = { module: new api.Module(bytes), fma };
      }
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

/** Whether the module multiplies with fused multiply-adds (relaxed SIMD); false also when it is unavailable. */
export function fusedUsesFma(): boolean {
  return compiledModule()?.fma === true;
}

/** The fused functions bound to this wasm backend's memory, or null (no SIMD, or not a wasm backend). */
export function fusedFunctions(backend: WasmBackend): FusedFunctions | null {
  let fns = instances.get(backend);
  if (fns === undefined) {
    fns = null;
    const module = compiledModule()?.module;
    const memory = backend.wasm?.asm?.memory;
    const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
    if (module && memory && api) {
      try {
        fns = new api.Instance(module, { env: { memory } }).exports as unknown as FusedFunctions;
      } catch {
        fns = null;
      }
    }
    instances.set(backend, fns);
  }
  return fns;
}

/** Whether the fused module runs here (WebAssembly SIMD and an initialised wasm backend). */
export function fusedKernelsSupported(): boolean {
  const backend = wasmBackend();
  return backend !== undefined && fusedFunctions(backend) !== null;
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers on tensors of the wasm backend.

function zeroFill(backend: WasmBackend, t: TensorInfo): void {
  const start = offsetOf(backend, t);
  backend.wasm.HEAPU8.fill(0, start, start + 4 * util.sizeFromShape(t.shape));
}

function copyInto(backend: WasmBackend, src: TensorInfo, dstAddress: number): void {
  const s = offsetOf(backend, src);
  backend.wasm.HEAPU8.copyWithin(dstAddress, s, s + 4 * util.sizeFromShape(src.shape));
}

function need(backend: WasmBackend): FusedFunctions {
  const fns = fusedFunctions(backend);
  if (!fns) throw new Error('cell-kernel: WebAssembly SIMD is not available');
  return fns;
}

function checkFloat(name: string, t: TensorInfo | undefined, shape: number[]): void {
  if (!t) throw new Error(`cell-kernel: missing input ${name}`);
  if (t.dtype !== 'float32' || t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new Error(
      `cell-kernel: ${name} must be float32 [${shape.join(', ')}], got ${t.dtype} [${t.shape.join(', ')}]`,
    );
  }
}

/** A scratch float32 buffer of n values (dispose with backend.disposeData). */
function scratch(backend: WasmBackend, n: number): TensorInfo {
  return backend.makeOutput([n], 'float32');
}

/** B [k, n] (row stride ldb, n a multiple of 8) packed into a new scratch buffer for `gemm`. */
function packed(backend: WasmBackend, fns: FusedFunctions, b: number, ldb: number, k: number, n: number): TensorInfo {
  const out = scratch(backend, k * n);
  fns.pack_b(b, ldb, k, n / GEMM_PANEL, offsetOf(backend, out));
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Kernels.

export const LSTM_FORWARD = 'BabbleLstmForward';
export const LSTM_BACKWARD = 'BabbleLstmBackward';
export const MATMUL = 'BabbleMatMul';

const lstmForwardKernel: RawKernel = ({ inputs, backend, attrs }) => {
  const fns = need(backend);
  const { xw, u, h0, c0 } = inputs;
  const T = Number(attrs?.steps);
  const H = u?.shape[0] ?? 0;
  if (!xw || !u || !Number.isInteger(T) || T < 1 || xw.shape[0]! % T !== 0 || H % GEMM_PANEL !== 0 || H === 0)
    throw new Error('cell-kernel: bad LSTM forward arguments');
  const B = xw.shape[0]! / T;
  checkFloat('xw', xw, [T * B, 4 * H]);
  checkFloat('u', u, [H, 4 * H]);
  if (h0) checkFloat('h0', h0, [B, H]);
  if (c0) checkFloat('c0', c0, [B, H]);
  const outputs = backend.makeOutput([T * B, H], 'float32');
  const hPrev = backend.makeOutput([T * B, H], 'float32');
  const cs = backend.makeOutput([(T + 1) * B, H], 'float32');
  const gates = backend.makeOutput([T * B, 4 * H], 'float32');
  const tcs = backend.makeOutput([T * B, H], 'float32');
  const z = scratch(backend, B * 4 * H);
  const up = packed(backend, fns, offsetOf(backend, u), 4 * H, H, 4 * H);
  if (h0) copyInto(backend, h0, offsetOf(backend, hPrev));
  else backend.wasm.HEAPU8.fill(0, offsetOf(backend, hPrev), offsetOf(backend, hPrev) + 4 * B * H);
  if (c0) copyInto(backend, c0, offsetOf(backend, cs));
  else backend.wasm.HEAPU8.fill(0, offsetOf(backend, cs), offsetOf(backend, cs) + 4 * B * H);
  // no allocation below: the offsets stay valid
  const [pXw, pOut, pPrev, pCs, pGates, pTcs, pZ, pU] = [xw, outputs, hPrev, cs, gates, tcs, z, up].map((t) =>
    offsetOf(backend, t),
  ) as [number, number, number, number, number, number, number, number];
  const row = 4 * B * H; // bytes of one [B, H] block
  const row4 = 4 * row; // bytes of one [B, 4H] block
  for (let t = 0; t < T; t++) {
    let pre = pXw + t * row4; // z_t = xw_t + h_{t-1}·U (just xw_0 when h_0 = 0)
    if (t > 0 || h0) {
      fns.gemm(pPrev + t * row, H, pU, pZ, 4 * H, pre, 4 * H, B, H, (4 * H) / GEMM_PANEL);
      pre = pZ;
    }
    const o = pOut + t * row;
    fns.lstm_fwd(pre, pCs + t * row, pCs + (t + 1) * row, o, pGates + t * row4, pTcs + t * row, B, H);
    if (t + 1 < T) backend.wasm.HEAPU8.copyWithin(pPrev + (t + 1) * row, o, o + row);
  }
  backend.disposeData(z.dataId);
  backend.disposeData(up.dataId);
  return [outputs, hPrev, cs, gates, tcs];
};

const lstmBackwardKernel: RawKernel = ({ inputs, backend, attrs }) => {
  const fns = need(backend);
  const { uT, gates, cs, tcs, dOutputs, dh, dc } = inputs;
  const T = Number(attrs?.steps);
  const H = uT?.shape[1] ?? 0;
  if (
    !uT ||
    !gates ||
    !cs ||
    !tcs ||
    !Number.isInteger(T) ||
    T < 1 ||
    gates.shape[0]! % T !== 0 ||
    H % GEMM_PANEL !== 0 ||
    H === 0
  ) {
    throw new Error('cell-kernel: bad LSTM backward arguments');
  }
  const B = gates.shape[0]! / T;
  checkFloat('uT', uT, [4 * H, H]);
  checkFloat('gates', gates, [T * B, 4 * H]);
  checkFloat('cs', cs, [(T + 1) * B, H]);
  checkFloat('tcs', tcs, [T * B, H]);
  if (dOutputs) checkFloat('dOutputs', dOutputs, [T * B, H]);
  if (dh) checkFloat('dh', dh, [B, H]);
  if (dc) checkFloat('dc', dc, [B, H]);
  const dz = backend.makeOutput([T * B, 4 * H], 'float32');
  const dBias = backend.makeOutput([4 * H], 'float32');
  const dcState = backend.makeOutput([B, H], 'float32');
  const dhState = backend.makeOutput([B, H], 'float32');
  const up = packed(backend, fns, offsetOf(backend, uT), H, 4 * H, H);
  zeroFill(backend, dBias);
  if (dc) copyInto(backend, dc, offsetOf(backend, dcState));
  else zeroFill(backend, dcState);
  // dh_{T-1} = dOutputs_{T-1} + dh
  const heap = new Float32Array(backend.wasm.HEAPU8.buffer);
  const row = 4 * B * H;
  const row4 = 4 * row;
  const pDh = offsetOf(backend, dhState);
  if (dOutputs)
    backend.wasm.HEAPU8.copyWithin(
      pDh,
      offsetOf(backend, dOutputs) + (T - 1) * row,
      offsetOf(backend, dOutputs) + T * row,
    );
  else zeroFill(backend, dhState);
  if (dh) {
    const s = offsetOf(backend, dh) >>> 2;
    const d = pDh >>> 2;
    for (let i = 0; i < B * H; i++) heap[d + i] = heap[d + i]! + heap[s + i]!;
  }
  const [pDz, pDb, pDc, pGates, pCs, pTcs, pU] = [dz, dBias, dcState, gates, cs, tcs, up].map((t) =>
    offsetOf(backend, t),
  ) as [number, number, number, number, number, number, number];
  const pOut = dOutputs ? offsetOf(backend, dOutputs) : 0;
  for (let t = T - 1; t >= 0; t--) {
    fns.lstm_bwd(pDh, pDc, pGates + t * row4, pCs + t * row, pTcs + t * row, pDz + t * row4, pDb, B, H);
    // dh_{t-1} = dOutputs_{t-1} + dz_t·Uᵀ (and dh_0's gradient, dh0 = dz_0·Uᵀ)
    const init = t > 0 && dOutputs ? pOut + (t - 1) * row : 0;
    fns.gemm(pDz + t * row4, 4 * H, pU, pDh, H, init, H, B, 4 * H, H / GEMM_PANEL);
  }
  backend.disposeData(up.dataId);
  return [dz, dBias, dhState, dcState];
};

/**
 * C = A·B (+ bias), 2-D float32, B's column count a multiple of 8: B is packed, then one `gemm` call. The trainer's
 * large products use it (lstm-gradients.ts: matMulBias); other shapes go through tf.matMul.
 */
const matMulKernel: RawKernel = ({ inputs, backend }) => {
  const fns = need(backend);
  const { a, b, bias } = inputs;
  if (!a || !b || a.shape.length !== 2 || b.shape.length !== 2) throw new Error('BabbleMatMul: a and b must be 2-D');
  const [M, K] = a.shape as [number, number];
  const N = b.shape[1]!;
  checkFloat('a', a, [M, K]);
  checkFloat('b', b, [K, N]);
  if (bias) checkFloat('bias', bias, [N]);
  if (N % GEMM_PANEL !== 0 || N === 0)
    throw new Error(`BabbleMatMul: the column count ${N} is not a multiple of ${GEMM_PANEL}`);
  const out = backend.makeOutput([M, N], 'float32');
  if (M === 0) return out;
  if (K === 0) {
    zeroFill(backend, out);
    if (bias) for (let r = 0; r < M; r++) copyInto(backend, bias, offsetOf(backend, out) + 4 * r * N);
    return out;
  }
  const bp = packed(backend, fns, offsetOf(backend, b), N, K, N);
  fns.gemm(
    offsetOf(backend, a),
    K,
    offsetOf(backend, bp),
    offsetOf(backend, out),
    N,
    bias ? offsetOf(backend, bias) : 0,
    0,
    M,
    K,
    N / GEMM_PANEL,
  );
  backend.disposeData(bp.dataId);
  return out;
};

/** out[segmentIds[i], …] += x[i, …]; ids outside [0, numSegments) are skipped (as tfjs's cpu kernel does). */
const unsortedSegmentSumKernel: RawKernel = ({ inputs, backend, attrs }) => {
  const { x, segmentIds } = inputs;
  const numSegments = Number(attrs?.numSegments);
  if (!x || !segmentIds) throw new Error('UnsortedSegmentSum: missing inputs');
  if (x.dtype !== 'float32' && x.dtype !== 'int32')
    throw new Error(`UnsortedSegmentSum: dtype ${x.dtype} is not supported on wasm`);
  const n = util.sizeFromShape(segmentIds.shape);
  const rank = segmentIds.shape.length;
  if (segmentIds.shape.some((d, i) => d !== x.shape[i]))
    throw new Error('UnsortedSegmentSum: segmentIds must match the leading axes of x');
  const cols = util.sizeFromShape(x.shape.slice(rank));
  const out = backend.makeOutput([numSegments, ...x.shape.slice(rank)], x.dtype);
  zeroFill(backend, out);
  if (n === 0 || cols === 0) return out;
  const heap = backend.wasm.HEAPU8;
  const ids = new Int32Array(heap.buffer, offsetOf(backend, segmentIds), n);
  let valid = segmentIds.dtype === 'int32';
  if (valid) for (let i = 0; i < n; i++) if (!(ids[i]! >= 0 && ids[i]! < numSegments)) valid = false;
  const fns = fusedFunctions(backend);
  if (valid && fns && x.dtype === 'float32' && cols % 4 === 0) {
    fns.scatter_add(offsetOf(backend, x), offsetOf(backend, segmentIds), offsetOf(backend, out), n, cols);
    return out;
  }
  const idValues = segmentIds.dtype === 'int32' ? ids : new Float32Array(heap.buffer, offsetOf(backend, segmentIds), n);
  const src =
    x.dtype === 'float32'
      ? new Float32Array(heap.buffer, offsetOf(backend, x), n * cols)
      : new Int32Array(heap.buffer, offsetOf(backend, x), n * cols);
  const dst =
    x.dtype === 'float32'
      ? new Float32Array(heap.buffer, offsetOf(backend, out), numSegments * cols)
      : new Int32Array(heap.buffer, offsetOf(backend, out), numSegments * cols);
  for (let i = 0; i < n; i++) {
    const id = idValues[i]!;
    if (!(id >= 0 && id < numSegments)) continue;
    const d = id * cols;
    const s = i * cols;
    for (let c = 0; c < cols; c++) dst[d + c] = dst[d + c]! + src[s + c]!;
  }
  return out;
};

/**
 * [rows, cols] → [cols, rows] of 4-byte elements with the SIMD transpose (blocks of 4×4; the edges in JS).
 * Returns false (doing nothing) when the fused module is unavailable.
 */
export function transposeInto(backend: WasmBackend, src: number, dst: number, rows: number, cols: number): boolean {
  const fns = fusedFunctions(backend);
  if (!fns) return false;
  const rows4 = rows & ~3;
  const cols4 = cols & ~3;
  if (rows4 > 0 && cols4 > 0) fns.transpose(src, dst, rows4, cols4, cols, rows);
  if (rows4 === rows && cols4 === cols) return true;
  const heap = new Float32Array(backend.wasm.HEAPU8.buffer);
  const s0 = src >>> 2;
  const d0 = dst >>> 2;
  for (let r = 0; r < rows; r++) {
    const c0 = r < rows4 ? cols4 : 0; // full rows past rows4, the right edge otherwise
    for (let c = c0; c < cols; c++) heap[d0 + c * rows + r] = heap[s0 + r * cols + c]!;
  }
  return true;
}

export interface FusedKernelSpec {
  name: string;
  kernelFunc: KernelFunc;
}

/** The kernels this module adds to the wasm backend (fast-kernels.ts registers them). */
export const FUSED_KERNELS: readonly FusedKernelSpec[] = [
  { name: LSTM_FORWARD, kernelFunc: lstmForwardKernel as unknown as KernelFunc },
  { name: LSTM_BACKWARD, kernelFunc: lstmBackwardKernel as unknown as KernelFunc },
  { name: MATMUL, kernelFunc: matMulKernel as unknown as KernelFunc },
  { name: 'UnsortedSegmentSum', kernelFunc: unsortedSegmentSumKernel as unknown as KernelFunc },
];
