/**
 * The QR image a browser is sent: the ticket's QR content drawn as a small SVG `data:` URL when the `ticket`
 * event goes out. Nothing is rasterised (a PNG cost ≈ 4.6 ms of the gateway's only thread per login; this is
 * a fraction of a millisecond) and nothing is kept: the store and the socket hold the QR content only.
 */
import QRCode from 'qrcode';

/** Quiet zone around the code, in modules (the QR spec asks for 4; 2 is what scanners read well on screens). */
const MARGIN = 2;

/**
 * `url` as a `data:image/svg+xml` URL: one path of horizontal runs, one unit per module, scaled by the page.
 * `crispEdges` keeps module borders sharp at any size, so a screenshot of it decodes like the PNG did.
 */
export function qrImageUrl(url: string): string {
  const { size, data } = QRCode.create(url, { errorCorrectionLevel: 'M' }).modules;
  const runs: string[] = [];
  for (let row = 0; row < size; row++) {
    let col = 0;
    while (col < size) {
      if (data[row * size + col] === 0) {
        col++;
        continue;
      }
      const start = col;
      while (col < size && data[row * size + col] !== 0) col++;
      runs.push(`M${start + MARGIN} ${row + MARGIN}h${col - start}v1h${start - col}z`);
    }
  }
  const extent = size + 2 * MARGIN;
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${extent} ${extent}" shape-rendering="crispEdges">` +
    `<rect width="${extent}" height="${extent}" fill="#fff"/><path fill="#000" d="${runs.join('')}"/></svg>`;
  return `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`;
}
