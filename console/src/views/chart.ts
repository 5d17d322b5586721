// Hand-drawn SVG charts: stacked bars over time, and horizontal bars.

import { h, s } from "../dom";

export const PALETTE = ["#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2", "#4b5563", "#db2777"];

export interface Series {
  label: string;
  values: number[];
}

/** Stacked columns, one per x label, with a legend. */
export function stackedBars(title: string, xLabels: string[], series: Series[]): HTMLElement {
  const W = 900, H = 260, L = 48, B = 28, T = 10;
  const totals = xLabels.map((_, i) => series.reduce((n, sr) => n + (sr.values[i] ?? 0), 0));
  const max = Math.max(1, ...totals);
  const step = (W - L - 10) / Math.max(1, xLabels.length);
  const bw = Math.max(2, step * 0.7);
  const y = (v: number) => H - B - (v / max) * (H - B - T);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": title });
  for (const t of [0, 0.5, 1]) {
    const v = Math.round(max * t);
    svg.append(s("line", { x1: L, x2: W - 10, y1: y(v), y2: y(v), class: "grid-line" }), s("text", { x: L - 6, y: y(v) + 4, class: "axis", "text-anchor": "end" }, String(v)));
  }
  xLabels.forEach((label, i) => {
    let base = 0;
    const x = L + i * step + (step - bw) / 2;
    series.forEach((sr, k) => {
      const v = sr.values[i] ?? 0;
      if (v <= 0) return;
      const rect = s("rect", { x, y: y(base + v), width: bw, height: Math.max(1, y(base) - y(base + v)), fill: PALETTE[k % PALETTE.length], class: "bar" });
      rect.append(s("title", {}, `${label} · ${sr.label}: ${v}`));
      svg.append(rect);
      base += v;
    });
    const every = Math.ceil(xLabels.length / 12);
    if (i % every === 0) svg.append(s("text", { x: x + bw / 2, y: H - 8, class: "axis", "text-anchor": "middle" }, label));
  });
  const legend = h("ul", { class: "legend" }, series.map((sr, k) => h("li", {}, h("span", { class: `swatch swatch-${k % PALETTE.length}` }), sr.label)));
  return h("figure", { class: "figure" }, h("figcaption", {}, title), svg, legend);
}

/** Horizontal bars, largest first. */
export function barList(title: string, rows: [string, number][]): HTMLElement {
  const W = 560, row = 24, L = 170;
  const max = Math.max(1, ...rows.map((r) => r[1]));
  const svg = s("svg", { viewBox: `0 0 ${W} ${Math.max(row, rows.length * row)}`, class: "chart", role: "img", "aria-label": title });
  rows.forEach(([label, v], i) => {
    const w = ((W - L - 50) * v) / max;
    svg.append(
      s("text", { x: L - 8, y: i * row + 16, class: "axis mono-text", "text-anchor": "end" }, label),
      s("rect", { x: L, y: i * row + 4, width: Math.max(1, w), height: row - 8, fill: PALETTE[0], class: "bar" }),
      s("text", { x: L + w + 6, y: i * row + 16, class: "axis" }, String(v)),
    );
  });
  return h("figure", { class: "figure" }, h("figcaption", {}, title), svg);
}
