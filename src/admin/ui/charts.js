// Small SVG charts drawn by the page itself: a line chart of a few series over the last minutes,
// and a fill bar. No library, no external file.
import { h } from './format.js';

const SVG = 'http://www.w3.org/2000/svg';

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  for (const child of children) if (child) el.append(child);
  return el;
}

/**
 * A line chart: `series` is [{ name, color, values: [number | null] }] over the same points
 * (oldest first); `format` prints a value (the top of the scale and the legend's last values).
 * A fixed `max` (1 for ratios) or the largest value sets the scale.
 */
export function lineChart({ title, series, format, max, width = 240, height = 80 }) {
  const points = Math.max(0, ...series.map((s) => s.values.length));
  const top = max ?? Math.max(0, ...series.flatMap((s) => s.values.filter((v) => v !== null && Number.isFinite(v))));
  const scale = top > 0 ? top : 1;
  const pad = { left: 2, right: 2, top: 6, bottom: 4 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const x = (i) => pad.left + (points <= 1 ? plotW : (i / (points - 1)) * plotW);
  const y = (v) => pad.top + plotH - (Math.min(v, scale) / scale) * plotH;
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: 'none', class: 'chart', role: 'img', 'aria-label': title });
  chart.append(svg('rect', { x: pad.left, y: pad.top, width: plotW, height: plotH, class: 'plot' }));
  for (const frac of [0.5]) chart.append(svg('line', { x1: pad.left, x2: pad.left + plotW, y1: pad.top + plotH * frac, y2: pad.top + plotH * frac, class: 'grid' }));
  for (const s of series) {
    // A null value breaks the line (no lookups in that interval, for a ratio).
    let d = '';
    let pen = false;
    s.values.forEach((v, i) => {
      if (v === null || !Number.isFinite(v)) {
        pen = false;
        return;
      }
      d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
      pen = true;
    });
    if (d) chart.append(svg('path', { d, stroke: s.color, class: 'line' }));
    // A value with no neighbour draws no line: a dot shows it.
    const known = (i) => i >= 0 && i < s.values.length && s.values[i] !== null && Number.isFinite(s.values[i]);
    s.values.forEach((v, i) => {
      if (known(i) && !known(i - 1) && !known(i + 1)) chart.append(svg('rect', { x: x(i) - 2, y: y(v) - 2, width: 4, height: 4, fill: s.color }));
    });
  }
  const legend = h(
    'div',
    { class: 'legend' },
    series.map((s) => {
      const last = [...s.values].reverse().find((v) => v !== null && Number.isFinite(v));
      return h('span', { class: 'key' }, h('i', { style: { background: s.color } }), `${s.name} ${last === undefined ? '–' : format(last)}`);
    }),
  );
  return h('figure', { class: 'chart-box', dataset: { chart: title, points: String(points) } }, h('figcaption', {}, h('span', {}, title), h('span', { class: 'scale' }, `max ${format(top)}`)), chart, legend);
}

/** A bar of `used` against `quota`, with the words under it. */
export function fillBar({ label, used, quota, text }) {
  const fraction = quota > 0 ? Math.min(1, used / quota) : 0;
  const level = fraction > 0.95 ? 'full' : fraction > 0.8 ? 'high' : 'ok';
  return h(
    'div',
    { class: 'fill', dataset: { tier: label, fraction: fraction.toFixed(4) } },
    h('div', { class: 'fill-label' }, h('span', {}, label), h('span', {}, text)),
    h('div', { class: 'bar' }, h('div', { class: `bar-used ${level}`, style: { width: `${(fraction * 100).toFixed(1)}%` } })),
  );
}
