/**
 * The loss curve of a training run as a PNG image: a line chart drawn into an RGBA buffer, encoded with node:zlib
 * (PNG = signature + IHDR + IDAT (deflate) + IEND, each chunk with its CRC-32). No dependencies.
 *
 * The chart: white background, light grid, axes, the training loss per step as a light blue line with its moving
 * average in dark blue, optional dashed horizontal reference lines (e.g. held-out figures), and numbers on the axes
 * in a small built-in digit font.
 */
import { deflateSync } from 'node:zlib';

export type Rgba = readonly [number, number, number, number];

export interface RgbaImage {
  width: number;
  height: number;
  /** width * height * 4 bytes, row-major, RGBA. */
  data: Uint8Array;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (ISO-HDLC, as PNG uses it). */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, body: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + body.length);
  out.writeUInt32BE(body.length, 0);
  out.write(type, 4, 'latin1');
  out.set(body, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + body.length)), 8 + body.length);
  return out;
}

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Encodes an RGBA image as a PNG (8-bit RGBA, no interlace, filter 0 on every row). */
export function encodePng(image: RgbaImage): Buffer {
  const { width, height, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1)
    throw new RangeError('encodePng: width and height must be positive integers');
  if (data.length !== width * height * 4)
    throw new RangeError(`encodePng: expected ${width * height * 4} bytes, got ${data.length}`);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  const stride = width * 4;
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (stride + 1)] = 0;
    raw.set(data.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  }
  return Buffer.concat([
    PNG_SIGNATURE,
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

function blank(width: number, height: number, color: Rgba): RgbaImage {
  const data = new Uint8Array(width * height * 4);
  for (let i = 0; i < data.length; i += 4) data.set(color, i);
  return { width, height, data };
}

function setPixel(img: RgbaImage, x: number, y: number, color: Rgba): void {
  const xi = Math.round(x);
  const yi = Math.round(y);
  if (xi < 0 || yi < 0 || xi >= img.width || yi >= img.height) return;
  img.data.set(color, (yi * img.width + xi) * 4);
}

/** A line `thickness` pixels wide (a square brush stepped along the line). */
function line(
  img: RgbaImage,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  color: Rgba,
  thickness = 1,
  dash = 0,
): void {
  const steps = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
  const r = Math.floor(thickness / 2);
  for (let i = 0; i <= steps; i++) {
    if (dash > 0 && Math.floor(i / dash) % 2 === 1) continue;
    const x = x0 + ((x1 - x0) * i) / steps;
    const y = y0 + ((y1 - y0) * i) / steps;
    for (let dy = -r; dy <= thickness - 1 - r; dy++)
      for (let dx = -r; dx <= thickness - 1 - r; dx++) setPixel(img, x + dx, y + dy, color);
  }
}

/** 3×5 glyphs, one string of 15 '#'/'.' per character, rows top to bottom. */
const GLYPHS: Record<string, string> = {
  '0': '####.##.##.####',
  '1': '.#.##..#..#.###',
  '2': '###..#####..###',
  '3': '###..####..####',
  '4': '#.##.####..#..#',
  '5': '####..###..####',
  '6': '####..####.####',
  '7': '###..#..#..#..#',
  '8': '####.#####.####',
  '9': '####.####..####',
  '.': '............#..',
  '-': '......###......',
  k: '#..#.###.##.#.#',
};

/** Draws text in the digit font, `scale` pixels per glyph pixel; returns the width drawn. */
function text(img: RgbaImage, s: string, x: number, y: number, color: Rgba, scale = 2): number {
  let cx = x;
  for (const ch of s) {
    const g = GLYPHS[ch];
    if (g) {
      for (let r = 0; r < 5; r++)
        for (let c = 0; c < 3; c++) {
          if (g[r * 3 + c] === '#')
            for (let dy = 0; dy < scale; dy++)
              for (let dx = 0; dx < scale; dx++) setPixel(img, cx + c * scale + dx, y + r * scale + dy, color);
        }
    }
    cx += 4 * scale;
  }
  return cx - x;
}

function textWidth(s: string, scale = 2): number {
  return [...s].length * 4 * scale;
}

function formatNumber(v: number): string {
  if (Math.abs(v) >= 10_000) return `${Math.round(v / 1000)}k`;
  if (Number.isInteger(v)) return String(v);
  return v.toFixed(Math.abs(v) >= 10 ? 1 : 2);
}

export interface LossChartOptions {
  width?: number;
  height?: number;
  /** Horizontal reference lines in the loss's units (e.g. held-out loss before and after). */
  references?: { value: number; color: Rgba }[];
  lineColor?: Rgba;
}

export const CHART_COLORS = {
  background: [255, 255, 255, 255] as Rgba,
  grid: [225, 228, 235, 255] as Rgba,
  axis: [60, 64, 72, 255] as Rgba,
  line: [30, 90, 200, 255] as Rgba,
  raw: [170, 200, 245, 255] as Rgba,
  before: [230, 140, 40, 255] as Rgba,
  after: [40, 160, 80, 255] as Rgba,
} as const;

/** Where the plot area is inside the image, and how data maps to pixels (exported for tests). */
export interface ChartLayout {
  left: number;
  top: number;
  right: number;
  bottom: number;
  x(step: number): number;
  y(loss: number): number;
}

export function chartLayout(
  points: readonly { step: number; loss: number }[],
  width: number,
  height: number,
  references: readonly number[] = [],
): ChartLayout {
  const finite = points.filter((p) => Number.isFinite(p.step) && Number.isFinite(p.loss));
  const losses = [...finite.map((p) => p.loss), ...references.filter(Number.isFinite)];
  let lo = losses.length ? Math.min(...losses) : 0;
  let hi = losses.length ? Math.max(...losses) : 1;
  if (hi - lo < 1e-6) {
    lo -= 0.5;
    hi += 0.5;
  }
  const pad = (hi - lo) * 0.05;
  lo -= pad;
  hi += pad;
  const s0 = finite.length ? Math.min(...finite.map((p) => p.step)) : 0;
  let s1 = finite.length ? Math.max(...finite.map((p) => p.step)) : 1;
  if (s1 <= s0) s1 = s0 + 1;
  const left = 16 + textWidth(formatNumber(hi));
  const top = 12;
  const right = width - 16;
  const bottom = height - 28;
  return {
    left,
    top,
    right,
    bottom,
    x: (step) => left + ((step - s0) / (s1 - s0)) * (right - left),
    y: (loss) => bottom - ((loss - lo) / (hi - lo)) * (bottom - top),
  };
}

/** The loss curve (one point per training step) as a PNG. */
export function lossChartPng(
  points: readonly { step: number; loss: number }[],
  options: LossChartOptions = {},
): Buffer {
  const width = options.width ?? 640;
  const height = options.height ?? 320;
  const img = blank(width, height, CHART_COLORS.background);
  const refs = options.references ?? [];
  const L = chartLayout(
    points,
    width,
    height,
    refs.map((r) => r.value),
  );
  // grid and y labels
  for (let i = 0; i <= 4; i++) {
    const py = L.top + ((L.bottom - L.top) * i) / 4;
    line(img, L.left, py, L.right, py, CHART_COLORS.grid);
    const value = invert(L, py);
    const label = formatNumber(Number(value.toFixed(2)));
    text(img, label, L.left - 6 - textWidth(label), py - 5, CHART_COLORS.axis);
  }
  // axes
  line(img, L.left, L.top, L.left, L.bottom, CHART_COLORS.axis);
  line(img, L.left, L.bottom, L.right, L.bottom, CHART_COLORS.axis);
  const finite = points.filter((p) => Number.isFinite(p.step) && Number.isFinite(p.loss));
  if (finite.length) {
    const first = formatNumber(finite[0]!.step);
    const last = formatNumber(finite[finite.length - 1]!.step);
    text(img, first, L.left, L.bottom + 8, CHART_COLORS.axis);
    text(img, last, L.right - textWidth(last), L.bottom + 8, CHART_COLORS.axis);
  }
  for (const r of refs)
    if (Number.isFinite(r.value)) line(img, L.left, L.y(r.value), L.right, L.y(r.value), r.color, 2, 6);
  const color = options.lineColor ?? CHART_COLORS.line;
  if (finite.length === 1) {
    const p = finite[0]!;
    line(img, L.x(p.step) - 2, L.y(p.loss), L.x(p.step) + 2, L.y(p.loss), color, 3);
  }
  // The per-step loss is noisy: draw it light, and a moving average over it dark.
  const polyline = (pts: readonly { step: number; loss: number }[], c: Rgba, thickness: number) => {
    for (let i = 1; i < pts.length; i++) {
      const a = pts[i - 1]!;
      const b = pts[i]!;
      line(img, L.x(a.step), L.y(a.loss), L.x(b.step), L.y(b.loss), c, thickness);
    }
  };
  polyline(finite, CHART_COLORS.raw, 1);
  polyline(movingAverage(finite, Math.max(1, Math.round(finite.length / 30))), color, 2);
  return encodePng(img);
}

/** Centred moving average over up to `radius` points on each side (same steps). */
export function movingAverage(
  points: readonly { step: number; loss: number }[],
  radius: number,
): { step: number; loss: number }[] {
  return points.map((p, i) => {
    const from = Math.max(0, i - radius);
    const to = Math.min(points.length - 1, i + radius);
    let sum = 0;
    for (let j = from; j <= to; j++) sum += points[j]!.loss;
    return { step: p.step, loss: sum / (to - from + 1) };
  });
}

/** The loss at pixel row `py` (for the grid labels). */
function invert(L: ChartLayout, py: number): number {
  // y is linear: solve from two known rows.
  const y0 = L.y(0);
  const y1 = L.y(1);
  return (py - y0) / (y1 - y0);
}
