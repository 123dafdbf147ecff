/**
 * The QR image a browser is sent: the ticket's QR content drawn as a small SVG `data:` URL when the `ticket`
 * event goes out. Nothing is rasterised (a PNG cost ≈ 4.6 ms of the gateway's only thread per login; this is
 * a fraction of a millisecond) and nothing is kept: the store and the socket hold the QR content only.
 */
import QRCode, { type QRCodeMaskPattern } from 'qrcode';

/** Quiet zone around the code, in modules (the QR spec asks for 4; 2 is what scanners read well on screens). */
const MARGIN = 2;

/**
 * The data mask, fixed instead of chosen per code. Every one of the eight masks is valid (the format bits name
 * it, and every reader undoes whichever it finds); the spec's penalty rules only pick the one with the fewest
 * finder-like runs and blocks, and trying all eight was 90 % of the encoder's time (≈ 0.6 ms per login on the
 * gateway's only thread). For the codes we draw, WeChat's `http://weixin.qq.com/q/02…` URLs (version 4-M), the
 * penalty itself says mask 2 (every third column) is the right fixed choice: over 400 such URLs it was the
 * lowest-penalty mask for 55 % of them, scored on average 4 % above the best of eight (718 against 690) and at
 * worst 928, below the average of five of the other masks. `qr-image.test.ts` decodes what is drawn.
 */
const MASK_PATTERN: QRCodeMaskPattern = 2;

/**
 * `url` as a `data:image/svg+xml` URL: one stroked path, a horizontal run per line of dark modules, one unit
 * per module, scaled by the page. `crispEdges` keeps module borders sharp at any size, so a screenshot of it
 * decodes like the PNG did. Percent-encoded rather than base64: about half the bytes.
 */
export function qrImageUrl(url: string): string {
  // One byte-mode segment: a URL with lower-case letters is bytes anyway, and naming the mode skips the
  // encoder's search for the shortest mix of modes (half of its time).
  const bytes = Buffer.from(url, 'utf8');
  const segments = [{ data: bytes, mode: 'byte' as const }];
  const options = { errorCorrectionLevel: 'M' as const, maskPattern: MASK_PATTERN };
  // The smallest version that holds one byte segment depends on its length only (and the fixed level), so
  // it is searched for once per length, not for every code.
  const version = versions.get(bytes.length);
  const code = version === undefined ? QRCode.create(segments, options) : QRCode.create(segments, { ...options, version });
  versions.set(bytes.length, code.version);
  const { size, data } = code.modules;
  let path = '';
  for (let row = 0; row < size; row++) {
    // Each run starts relative to the end of the previous one in its row (`m`), the first one absolutely (`M`).
    let end = -1;
    let col = 0;
    while (col < size) {
      if (data[row * size + col] === 0) {
        col++;
        continue;
      }
      const start = col;
      while (col < size && data[row * size + col] !== 0) col++;
      // Commas, not spaces, between a move's numbers: the path then has nothing a URL must escape.
      path += end < 0 ? `M${start + MARGIN},${row + MARGIN + 0.5}` : `m${start - end},0`;
      path += `h${col - start}`;
      end = col;
    }
  }
  return `data:image/svg+xml,${headOf(size + 2 * MARGIN)}${path}${TAIL}`;
}

/** The smallest version for a byte segment of each length seen so far. */
const versions = new Map<number, number>();

/**
 * The markup before the path, URL-escaped, per extent (one per version). Only the fixed markup is escaped:
 * escaping the whole SVG, path included, cost more than drawing it.
 */
const heads = new Map<number, string>();
const headOf = (extent: number): string => {
  let head = heads.get(extent);
  if (head === undefined) {
    head = urlSafe(
      `<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 ${extent} ${extent}' shape-rendering='crispEdges'>` +
        `<rect width='${extent}' height='${extent}' fill='white'/><path stroke='black' d='`,
    );
    heads.set(extent, head);
  }
  return head;
};

/** `text` with the characters a URL does not allow as they are (`<`, `>`, whitespace, `#`) percent-encoded. */
function urlSafe(text: string): string {
  return text.replace(/[<>\s#]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

const TAIL = urlSafe("'/></svg>");
