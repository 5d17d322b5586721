// Usage: successful requests per operation and per key over time.

import { read } from "../api";
import { clear, h } from "../dom";
import { Series, barList, stackedBars } from "./chart";

function hourLabel(epoch: number, hours: number): string {
  const d = new Date(epoch * 1000);
  const p = (n: number) => String(n).padStart(2, "0");
  return hours > 48 ? `${p(d.getMonth() + 1)}-${p(d.getDate())}` : `${p(d.getHours())}:00`;
}

/** The seven busiest series (one colour each) and the rest as one. */
function top(series: Series[], n: number, what: string): Series[] {
  const sorted = [...series].sort((a, b) => sum(b.values) - sum(a.values));
  if (sorted.length <= 8) return sorted;
  const rest = sorted.splice(7);
  sorted.push({ label: `${rest.length} other ${what}`, values: Array.from({ length: n }, (_, i) => rest.reduce((x, s) => x + s.values[i], 0)) });
  return sorted;
}

function sum(v: number[]): number {
  return v.reduce((x, y) => x + y, 0);
}

export async function usageView(root: HTMLElement, hours = 24): Promise<void> {
  const pick = h(
    "select",
    { id: "usage-hours", "aria-label": "Period" },
    [
      [24, "Last 24 hours"],
      [24 * 7, "Last 7 days"],
      [24 * 30, "Last 30 days"],
    ].map(([v, l]) => h("option", { value: v, selected: v === hours }, String(l))),
  );
  pick.addEventListener("change", () => void usageView(root, Number(pick.value)));
  clear(root, h("div", { class: "page-head" }, h("h1", {}, "Usage"), pick), h("p", { class: "muted loading" }, "Loading usage…"));
  const u = await read("usage", { hours });
  const buckets: number[] = [];
  for (let t = u.since; t < u.until; t += 3600) buckets.push(t);
  const ops = new Map<string, number[]>();
  const keys = new Map<string, number>();
  const keySeries = new Map<string, number[]>();
  let total = 0;
  for (const r of u.rows) {
    const i = Math.floor((r.hour - u.since) / 3600);
    if (i < 0 || i >= buckets.length) continue;
    if (!ops.has(r.operation)) ops.set(r.operation, new Array(buckets.length).fill(0));
    ops.get(r.operation)![i] += r.requests;
    if (r.key !== "-") {
      keys.set(r.key, (keys.get(r.key) ?? 0) + r.requests);
      if (!keySeries.has(r.key)) keySeries.set(r.key, new Array(buckets.length).fill(0));
      keySeries.get(r.key)![i] += r.requests;
    }
    total += r.requests;
  }
  const series: Series[] = [...ops.entries()]
    .map(([label, values]) => ({ label, values }))
    .sort((a, b) => b.values.reduce((x, y) => x + y, 0) - a.values.reduce((x, y) => x + y, 0));
  const byOp: [string, number][] = series.map((s) => [s.label, s.values.reduce((x, y) => x + y, 0)]);
  const perOp = top(series, buckets.length, "operations");
  const byKey = [...keys.entries()].sort((a, b) => b[1] - a[1]).slice(0, 15);
  const perKey = top([...keySeries.entries()].map(([k, values]) => ({ label: k.slice(0, 8) + "…", values })), buckets.length, "keys");
  clear(
    root,
    h("div", { class: "page-head" }, h("h1", {}, "Usage"), pick),
    h("p", { class: "muted" }, `${total} successful requests in the period (hourly, from the audit trail's metering).`),
    h("section", { class: "card" }, stackedBars("Requests per hour, by operation", buckets.map((b) => hourLabel(b, hours)), perOp)),
    h("section", { class: "card" }, stackedBars("Requests per hour, by key", buckets.map((b) => hourLabel(b, hours)), perKey)),
    h(
      "div",
      { class: "grid" },
      h("section", { class: "card" }, byOp.length ? barList("Requests per operation", byOp) : h("p", { class: "muted" }, "No requests yet.")),
      h("section", { class: "card" }, byKey.length ? barList("Requests per key", byKey.map(([k, n]) => [k.slice(0, 8) + "…", n])) : h("p", { class: "muted" }, "No key was used yet.")),
    ),
  );
}
