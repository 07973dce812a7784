/**
 * Charts of the benchmarks' results: an SVG built here (no CDN, no scripts), rendered to PNG by
 * the harness's Chromium (test/web/browser.ts). `renderPng` is the one renderer every bench uses;
 * `timeSeriesSvg` draws measures over time, stacked panels sharing one time axis (bench/soak.ts).
 */

/** One line of a panel: [x, y] points, x in the chart's time unit. */
export interface Series {
  readonly name: string;
  readonly points: readonly (readonly [x: number, y: number])[];
  readonly color?: string;
  readonly dashed?: boolean;
  /** A dot on every point (sparse series, e.g. one point per restart). */
  readonly markers?: boolean;
}

export interface Panel {
  readonly title: string;
  /** Shown beside the y values (MiB, orders/s, ms). */
  readonly unit: string;
  readonly series: readonly Series[];
}

export interface TimeChart {
  readonly title: string;
  readonly subtitle?: string;
  /** The x axis' label, e.g. "minutes since start". */
  readonly xLabel: string;
  readonly panels: readonly Panel[];
}

const PALETTE = ['#2563eb', '#16a34a', '#dc2626', '#f59e0b', '#7c3aed', '#0891b2', '#db2777', '#4b5563'];

export const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A round step giving about `n` ticks over [0, max]. */
function tickStep(max: number, n: number): number {
  if (!(max > 0)) return 1;
  const raw = max / n;
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p;
}

const label = (v: number) => (Math.abs(v) >= 1_000 ? Math.round(v).toLocaleString('en-US') : Number(v.toPrecision(3)).toString());

/** Stacked line panels over one shared x range; each y axis starts at 0 (a flat line reads as flat). */
export function timeSeriesSvg(chart: TimeChart): string {
  const width = 1100;
  const left = 80;
  const right = 250;
  const plotW = width - left - right;
  const panelH = 190;
  const gap = 60;
  const top = chart.subtitle ? 76 : 56;
  const xs = chart.panels.flatMap((p) => p.series.flatMap((s) => s.points.map(([x]) => x)));
  const xMax = Math.max(1e-9, ...xs);
  const xStep = tickStep(xMax, 10);
  const height = top + chart.panels.length * (panelH + gap) + 10;
  const parts: string[] = [`<text x="20" y="30" font-size="18" font-weight="bold">${esc(chart.title)}</text>`];
  if (chart.subtitle) parts.push(`<text x="20" y="52" font-size="12" fill="#555">${esc(chart.subtitle)}</text>`);
  chart.panels.forEach((panel, i) => {
    const y0 = top + i * (panelH + gap) + 20;
    const ys = panel.series.flatMap((s) => s.points.map(([, y]) => y));
    const yStep = tickStep(Math.max(0, ...ys) * 1.05, 4);
    const yMax = Math.max(yStep, Math.ceil((Math.max(0, ...ys) * 1.05) / yStep) * yStep);
    const px = (x: number) => left + (x / xMax) * plotW;
    const py = (y: number) => y0 + panelH - (y / yMax) * panelH;
    parts.push(`<text x="${left}" y="${y0 - 8}" font-size="13" font-weight="bold">${esc(panel.title)} (${esc(panel.unit)})</text>`,
      `<rect x="${left}" y="${y0}" width="${plotW}" height="${panelH}" fill="none" stroke="#bbb"/>`);
    for (let y = 0; y <= yMax + 1e-9; y += yStep) {
      parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${py(y).toFixed(1)}" y2="${py(y).toFixed(1)}" stroke="#eee"/>`,
        `<text x="${left - 6}" y="${(py(y) + 4).toFixed(1)}" font-size="11" text-anchor="end" fill="#555">${label(y)}</text>`);
    }
    for (let x = 0; x <= xMax + 1e-9; x += xStep) {
      parts.push(`<text x="${px(x).toFixed(1)}" y="${y0 + panelH + 14}" font-size="11" text-anchor="middle" fill="#555">${label(x)}</text>`);
    }
    panel.series.forEach((s, j) => {
      const color = s.color ?? PALETTE[j % PALETTE.length]!;
      const pts = s.points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`);
      if (pts.length > 1) parts.push(`<polyline fill="none" stroke="${color}" stroke-width="1.8"${s.dashed ? ' stroke-dasharray="5,4"' : ''} points="${pts.join(' ')}"/>`);
      if (s.markers || pts.length === 1) for (const p of pts) { const [cx, cy] = p.split(','); parts.push(`<circle cx="${cx}" cy="${cy}" r="3.5" fill="${color}"/>`); }
      const ly = y0 + 14 + j * 17;
      const last = s.points.at(-1);
      parts.push(`<line x1="${left + plotW + 12}" x2="${left + plotW + 32}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="2.5"${s.dashed ? ' stroke-dasharray="5,4"' : ''}/>`,
        `<text x="${left + plotW + 38}" y="${ly}" font-size="11">${esc(s.name)}${last ? ` (${label(last[1])})` : ''}</text>`);
    });
  });
  parts.push(`<text x="${left + plotW / 2}" y="${height - 8}" font-size="12" text-anchor="middle" fill="#555">${esc(chart.xLabel)}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>${parts.join('')}</svg>`;
}

/** Renders an SVG to a PNG file with the harness's Chromium. */
export async function renderPng(svg: string, path: string): Promise<void> {
  const { launchChromium } = await import('../test/web/browser.ts');
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.setContent(`<html><body style="margin:0">${svg}</body></html>`);
    await page.locator('svg').screenshot({ path });
  } finally {
    await browser.close();
  }
}

/** One bar of a `barsSvg` group: its value sets the length, `note` is printed beside it. */
export interface Bar {
  readonly label: string;
  readonly value: number;
  readonly note?: string;
  readonly color?: string;
}

/** Horizontal bars in named groups, one scale for all (benches comparing systems side by side). */
export function barsSvg(title: string, subtitle: string | readonly string[], groups: readonly { name: string; bars: readonly Bar[] }[]): string {
  const sub = typeof subtitle === 'string' ? [subtitle] : subtitle;
  const barH = 18;
  const left = 280;
  const width = 1100;
  const plotW = width - left - 330;
  const max = Math.max(1e-9, ...groups.flatMap((g) => g.bars.map((b) => b.value)));
  const top = 44 + sub.length * 16;
  const height = top + groups.reduce((h, g) => h + 26 + g.bars.length * (barH + 4), 0) + 20;
  const parts: string[] = [`<text x="20" y="30" font-size="18" font-weight="bold">${esc(title)}</text>`,
    ...sub.map((line, i) => `<text x="20" y="${50 + i * 16}" font-size="12" fill="#555">${esc(line)}</text>`)];
  let y = top;
  for (const g of groups) {
    parts.push(`<text x="20" y="${y + 14}" font-size="13" font-weight="bold">${esc(g.name)}</text>`);
    y += 20;
    g.bars.forEach((b, i) => {
      const w = Math.max(1, (b.value / max) * plotW);
      parts.push(`<text x="${left - 8}" y="${y + 13}" font-size="12" text-anchor="end">${esc(b.label)}</text>`,
        `<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${b.color ?? PALETTE[i % PALETTE.length]!}"/>`,
        `<text x="${left + w + 6}" y="${y + 13}" font-size="12">${esc(label(b.value))}${b.note ? `  ${esc(b.note)}` : ''}</text>`);
      y += barH + 4;
    });
    y += 6;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>${parts.join('')}</svg>`;
}
