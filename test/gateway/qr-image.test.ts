/**
 * The QR image the gateway sends (`qrImageUrl`): an SVG `data:` URL that decodes to the ticket's URL. The
 * mask is fixed rather than chosen per code (qr-image.ts says why), so this reads back many codes of the shape
 * WeChat hands out, and of longer URLs too, each drawn from the SVG's own path the way a browser fills it,
 * with the same decoder the Chromium tests use on their screenshots.
 */
import { randomBytes } from 'node:crypto';
import jsQRModule from 'jsqr';
import { describe, expect, it } from 'vitest';
import { qrImageUrl } from '../../apps/gateway/qr-image.js';

const jsQR = jsQRModule.default;

/** Pixels per module of the raster. */
const SCALE = 4;

/** Fill the SVG's path (one horizontal run per `h`, one module high) into an RGBA raster, white elsewhere. */
function rasterise(dataUrl: string): { pixels: Uint8ClampedArray; width: number } {
  expect(dataUrl.startsWith('data:image/svg+xml,')).toBe(true);
  // A valid URL: nothing a URL must escape is left as it is.
  expect(dataUrl).not.toMatch(/[<>\s#]/);
  const svg = decodeURIComponent(dataUrl.slice('data:image/svg+xml,'.length));
  const extent = Number(/viewBox='0 0 (\d+) \1'/.exec(svg)?.[1]);
  const path = /<path stroke='black' d='([^']*)'\/>/.exec(svg)?.[1];
  expect(extent).toBeGreaterThan(20);
  expect(path).toBeDefined();
  const width = extent * SCALE;
  const pixels = new Uint8ClampedArray(width * width * 4).fill(255);
  let x = 0;
  let y = 0;
  for (const [, command, a, b] of (path ?? '').matchAll(/([Mmh])(-?[\d.]+)(?:,(-?[\d.]+))?/g)) {
    if (command === 'M') [x, y] = [Number(a), Number(b)];
    else if (command === 'm') [x, y] = [x + Number(a), y + Number(b)];
    else {
      // A stroke of width 1 centred on the row's middle line covers the whole row.
      const row = Math.floor(y);
      for (let col = x; col < x + Number(a); col++) {
        for (let py = row * SCALE; py < (row + 1) * SCALE; py++) {
          for (let px = col * SCALE; px < (col + 1) * SCALE; px++) pixels.fill(0, (py * width + px) * 4, (py * width + px) * 4 + 3);
        }
      }
      x += Number(a);
    }
  }
  return { pixels, width };
}

const decode = (url: string): string | null => {
  const { pixels, width } = rasterise(qrImageUrl(url));
  return jsQR(pixels, width, width)?.data ?? null;
};

const base62 = (length: number): string =>
  [...randomBytes(length)].map((b) => 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'[b % 62]).join('');

describe('the QR image of a ticket', () => {
  it('decodes to the URL for 200 codes shaped like WeChat’s', () => {
    for (let i = 0; i < 200; i++) {
      const url = `http://weixin.qq.com/q/02${base62(22)}`;
      expect(decode(url)).toBe(url);
    }
  });

  it('decodes to the URL for longer URLs (larger versions) too', () => {
    for (const length of [60, 120, 250]) {
      for (let i = 0; i < 10; i++) {
        const url = `https://example.com/q/${base62(length)}`;
        expect(decode(url)).toBe(url);
      }
    }
  });
});
