/**
 * The loss chart: a valid PNG (signature, chunk CRCs, IHDR, deflated rows) with the curve drawn where the data is.
 */
import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  CHART_COLORS,
  chartLayout,
  crc32,
  encodePng,
  lossChartPng,
  movingAverage,
  PNG_SIGNATURE,
} from '../src/service/loss-chart.js';

interface Decoded {
  width: number;
  height: number;
  pixels: Uint8Array;
  chunks: string[];
}

/** A minimal PNG reader for 8-bit RGBA, filter 0 images; checks every CRC. */
function decodePng(png: Buffer): Decoded {
  expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
  let offset = 8;
  const chunks: string[] = [];
  let width = 0;
  let height = 0;
  const idat: Buffer[] = [];
  while (offset < png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.toString('latin1', offset + 4, offset + 8);
    const body = png.subarray(offset + 8, offset + 8 + length);
    const crc = png.readUInt32BE(offset + 8 + length);
    expect(crc, `${type} CRC`).toBe(crc32(png.subarray(offset + 4, offset + 8 + length)));
    chunks.push(type);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      expect([...body.subarray(8)]).toEqual([8, 6, 0, 0, 0]);
    }
    if (type === 'IDAT') idat.push(body);
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * 4;
  expect(raw.length).toBe((stride + 1) * height);
  const pixels = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    expect(raw[y * (stride + 1)]).toBe(0);
    pixels.set(raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)), y * stride);
  }
  return { width, height, pixels, chunks };
}

function pixel(d: Decoded, x: number, y: number): number[] {
  const i = (Math.round(y) * d.width + Math.round(x)) * 4;
  return [...d.pixels.subarray(i, i + 4)];
}

describe('crc32', () => {
  it('matches the standard check value', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });
});

describe('encodePng', () => {
  it('round-trips pixels through a PNG reader', () => {
    const data = new Uint8Array(3 * 2 * 4).map((_, i) => (i * 37) % 256);
    const d = decodePng(encodePng({ width: 3, height: 2, data }));
    expect(d.chunks).toEqual(['IHDR', 'IDAT', 'IEND']);
    expect([d.width, d.height]).toEqual([3, 2]);
    expect([...d.pixels]).toEqual([...data]);
  });

  it('refuses a buffer of the wrong size', () => {
    expect(() => encodePng({ width: 2, height: 2, data: new Uint8Array(15) })).toThrow(RangeError);
  });
});

describe('movingAverage', () => {
  it('averages each point with its neighbours, keeping the steps', () => {
    const pts = [1, 3, 5, 7].map((loss, i) => ({ step: i + 1, loss }));
    expect(movingAverage(pts, 1)).toEqual([
      { step: 1, loss: 2 },
      { step: 2, loss: 3 },
      { step: 3, loss: 5 },
      { step: 4, loss: 6 },
    ]);
    expect(movingAverage(pts, 0)).toEqual(pts);
  });
});

describe('lossChartPng', () => {
  const points = Array.from({ length: 50 }, (_, i) => ({ step: i + 1, loss: 2 - Math.log1p(i) / 3 }));

  it('draws the curve through the data points and leaves the rest of the plot background', () => {
    const png = lossChartPng(points, { width: 400, height: 200 });
    const d = decodePng(png);
    expect([d.width, d.height]).toEqual([400, 200]);
    const L = chartLayout(points, 400, 200);
    const curve = [[...CHART_COLORS.line], [...CHART_COLORS.raw]];
    for (const p of [points[5]!, points[25]!, points[45]!])
      expect(curve).toContainEqual(pixel(d, L.x(p.step), L.y(p.loss)));
    // far above the falling curve, at the right side: background (or grid)
    const empty = pixel(d, L.x(45), L.y(points[45]!.loss) - 40);
    expect([[...CHART_COLORS.background], [...CHART_COLORS.grid]]).toContainEqual(empty);
  });

  it('draws reference lines in their colour', () => {
    const d = decodePng(
      lossChartPng(points, { width: 400, height: 200, references: [{ value: 1.9, color: CHART_COLORS.after }] }),
    );
    const L = chartLayout(points, 400, 200, [1.9]);
    expect(pixel(d, L.x(40), L.y(1.9))).toEqual([...CHART_COLORS.after]);
  });

  it('still makes an image from one point or none', () => {
    expect(decodePng(lossChartPng([{ step: 1, loss: 1 }])).width).toBe(640);
    expect(decodePng(lossChartPng([])).height).toBe(320);
  });
});
