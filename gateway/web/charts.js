/* global document */
/**
 * A small SVG line chart for one Prometheus matrix (`/api/v1/query_range`'s data): one line per
 * series, a zero-based y axis with three grid lines, time along x, a legend with each series'
 * latest value. No library: the page has no build step and no CDN to load one from.
 */
const SVG = 'http://www.w3.org/2000/svg';
const COLORS = ['#7a3e12', '#2f6fde', '#1a7f37', '#c62828', '#9a6700', '#6f42c1', '#0a7f86', '#d63384'];
const W = 400;
const H = 160;
const PAD = { left: 44, right: 8, top: 8, bottom: 18 };

export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Object ? c : document.createTextNode(String(c)));
  return el;
}

/** Formats a value with its unit: 1.2k/s, 35 ms, 4 records. */
export function formatValue(v, unit) {
  if (!Number.isFinite(v)) return '–';
  if (unit === 's') return v >= 1 ? `${v.toFixed(2)} s` : v >= 0.001 ? `${(v * 1000).toFixed(1)} ms` : `${(v * 1e6).toFixed(0)} µs`;
  const a = Math.abs(v);
  const n = a >= 1000 ? `${(v / 1000).toFixed(1)}k` : a >= 10 || v === 0 ? v.toFixed(0) : a >= 1 ? v.toFixed(1) : v.toFixed(2);
  return unit === 'records' ? n : `${n}${unit}`;
}

/**
 * Renders `matrix` (Prometheus's result array) into `card`'s svg and legend. Returns the number
 * of points drawn, which the card keeps in data-points (the browser test reads it).
 */
export function drawChart(card, panel, matrix) {
  const plot = card.querySelector('svg');
  const legend = card.querySelector('.legend');
  plot.replaceChildren();
  legend.replaceChildren();
  const series = matrix.map((s) => ({
    name: s.metric[panel.legend] ?? (Object.values(s.metric).join(',') || panel.title),
    points: s.values.map(([t, v]) => [Number(t), Number(v)]).filter(([, v]) => Number.isFinite(v)),
  })).filter((s) => s.points.length > 0).sort((a, b) => a.name.localeCompare(b.name));
  const points = series.reduce((n, s) => n + s.points.length, 0);
  card.dataset.series = String(series.length);
  card.dataset.points = String(points);
  if (points === 0) {
    plot.append(svg('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'empty' }, 'no data yet'));
    return 0;
  }
  const ts = series.flatMap((s) => s.points.map(([t]) => t));
  const t0 = Math.min(...ts);
  const t1 = Math.max(...ts, t0 + 1);
  const vmax = Math.max(...series.flatMap((s) => s.points.map(([, v]) => v)), 0) || 1;
  const x = (t) => PAD.left + ((t - t0) / (t1 - t0)) * (W - PAD.left - PAD.right);
  const y = (v) => H - PAD.bottom - (v / vmax) * (H - PAD.top - PAD.bottom);
  for (const f of [0, 0.5, 1]) {
    plot.append(svg('line', { x1: PAD.left, x2: W - PAD.right, y1: y(vmax * f), y2: y(vmax * f), class: f === 0 ? 'axis' : 'grid' }));
    // Axis figures without the unit (the card's title carries it), so they fit the margin.
    plot.append(svg('text', { x: PAD.left - 4, y: y(vmax * f) + 3, 'text-anchor': 'end' }, formatValue(vmax * f, panel.unit === 's' ? 's' : 'records')));
  }
  const clock = (t) => new Date(t * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  plot.append(svg('text', { x: PAD.left, y: H - 4 }, clock(t0)), svg('text', { x: W - PAD.right, y: H - 4, 'text-anchor': 'end' }, clock(t1)));
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const d = s.points.map(([t, v], j) => `${j === 0 ? 'M' : 'L'}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join('');
    plot.append(svg('path', { d, class: 'line', stroke: color }, svg('title', {}, s.name)));
    const last = s.points[s.points.length - 1][1];
    const item = document.createElement('li');
    const swatch = document.createElement('i');
    swatch.style.background = color;
    item.append(swatch, `${s.name} `, Object.assign(document.createElement('strong'), { textContent: formatValue(last, panel.unit) }));
    legend.append(item);
  });
  return points;
}
