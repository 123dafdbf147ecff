/**
 * Our own tiny SVG line chart: linear axes from 0, a few round ticks, one polyline with dots per series and
 * a legend. Enough for the bench's three charts without a charting library; the output is a standalone SVG
 * file that GitHub and browsers render.
 */

export interface Series {
  name: string;
  /** `[x, y]` points; non-finite values are left out. */
  points: Array<[number, number]>;
  /** Draw dashed (a reference line rather than a measurement). Default false. */
  dashed?: boolean;
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
}

const WIDTH = 640;
const HEIGHT = 400;
const MARGIN = { top: 40, right: 170, bottom: 50, left: 70 };
const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

const escapeXml = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A "nice" step (1, 2 or 5 × 10^n) that splits `max` into about `count` intervals. */
export function niceStep(max: number, count = 5): number {
  if (!(max > 0)) return 1;
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const fraction = raw / magnitude;
  return (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * magnitude;
}

const label = (value: number): string =>
  Math.abs(value) >= 1000 ? value.toLocaleString('en-US', { maximumFractionDigits: 0 }) : String(Number(value.toPrecision(3)));

/** Render `spec` as an SVG document. */
export function renderChart(spec: ChartSpec): string {
  const series = spec.series.map((s) => ({ ...s, points: s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)) }));
  const all = series.flatMap((s) => s.points);
  const xStep = niceStep(Math.max(0, ...all.map(([x]) => x)));
  const yStep = niceStep(Math.max(0, ...all.map(([, y]) => y)));
  const xMax = Math.max(xStep, Math.ceil(Math.max(0, ...all.map(([x]) => x)) / xStep) * xStep);
  const yMax = Math.max(yStep, Math.ceil(Math.max(0, ...all.map(([, y]) => y)) / yStep) * yStep);
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const px = (x: number): number => MARGIN.left + (x / xMax) * plotW;
  const py = (y: number): number => MARGIN.top + plotH - (y / yMax) * plotH;
  const f = (n: number): string => n.toFixed(1);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(spec.title)}</title>`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`,
    `<text x="${WIDTH / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(spec.title)}</text>`,
  ];
  for (let x = 0; x <= xMax + xStep / 1e6; x += xStep) {
    out.push(`<line x1="${f(px(x))}" y1="${MARGIN.top}" x2="${f(px(x))}" y2="${MARGIN.top + plotH}" stroke="#eee"/>`);
    out.push(`<text x="${f(px(x))}" y="${MARGIN.top + plotH + 16}" text-anchor="middle">${label(x)}</text>`);
  }
  for (let y = 0; y <= yMax + yStep / 1e6; y += yStep) {
    out.push(`<line x1="${MARGIN.left}" y1="${f(py(y))}" x2="${MARGIN.left + plotW}" y2="${f(py(y))}" stroke="#eee"/>`);
    out.push(`<text x="${MARGIN.left - 6}" y="${f(py(y) + 4)}" text-anchor="end">${label(y)}</text>`);
  }
  out.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 12}" text-anchor="middle">${escapeXml(spec.xLabel)}</text>`);
  out.push(
    `<text x="16" y="${MARGIN.top + plotH / 2}" text-anchor="middle" transform="rotate(-90 16 ${MARGIN.top + plotH / 2})">${escapeXml(spec.yLabel)}</text>`,
  );
  series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length]!;
    const dash = s.dashed === true ? ' stroke-dasharray="6 4"' : '';
    const sorted = [...s.points].sort((a, b) => a[0] - b[0]);
    out.push(
      `<polyline class="series" fill="none" stroke="${colour}" stroke-width="2"${dash} points="${sorted.map(([x, y]) => `${f(px(x))},${f(py(y))}`).join(' ')}"/>`,
    );
    for (const [x, y] of sorted)
      out.push(
        `<circle cx="${f(px(x))}" cy="${f(py(y))}" r="3" fill="${colour}"><title>${escapeXml(`${s.name}: ${label(x)}, ${label(y)}`)}</title></circle>`,
      );
    const ly = MARGIN.top + 10 + i * 20;
    const lx = MARGIN.left + plotW + 12;
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 24}" y2="${ly}" stroke="${colour}" stroke-width="2"${dash}/>`);
    out.push(`<text x="${lx + 30}" y="${ly + 4}">${escapeXml(s.name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
