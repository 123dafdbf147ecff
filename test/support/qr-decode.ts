/**
 * Reading a QR code back out of a PNG (a screenshot, or an image the simulator served).
 */
import jsQRModule from 'jsqr';
import { PNG } from 'pngjs';

// jsqr is CommonJS with a `default` property; under NodeNext its typed default export is that property.
const jsQR = jsQRModule.default;

/** The text a PNG's QR code encodes, or null when nothing decodes. */
export function decodeQrPng(image: Buffer): string | null {
  const png = PNG.sync.read(image);
  const result = jsQR(new Uint8ClampedArray(png.data.buffer, png.data.byteOffset, png.data.length), png.width, png.height);
  return result?.data ?? null;
}
