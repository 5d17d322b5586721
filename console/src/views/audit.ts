// Audit: filters (time, principal, operation, key, outcome), the chain's
// verification status with its head hash, the records, and export.

import { downloadExport, read } from "../api";
import { errorBox } from "../dialog";
import { badge, clear, h, short, when } from "../dom";

/** The records of an audit answer, newest first. */
export function recordsTable(records: any[]): HTMLElement {
  if (!records || records.length === 0) return h("p", { class: "muted" }, "No records.");
  return h(
    "table",
    { class: "data compact", "aria-label": "Audit records" },
    h("thead", {}, h("tr", {}, ["Time", "Operation", "Principal", "Key", "Outcome", "Source", "Client"].map((c) => h("th", { scope: "col" }, c)))),
    h(
      "tbody",
      {},
      records.map((r) => {
        const e = r.event;
        const key: string | undefined = e.resources?.[0]?.ARN;
        return h(
          "tr",
          { title: `request ${e.requestID} · chain ${r.chain} #${r.sequence}` },
          h("td", { class: "nowrap" }, when(e.eventTime)),
          h("td", {}, e.eventName),
          h("td", { class: "mono small" }, (e.userIdentity?.arn ?? e.userIdentity?.type ?? "—").replace(/^arn:aws:iam::/, "")),
          h("td", { class: "mono small" }, key ? h("a", { href: `#/keys/${key.split("/").pop()}` }, short(key.split("/").pop() ?? "")) : "—"),
          h("td", {}, e.errorCode ? badge(e.errorCode, "bad") : badge("Success", "ok")),
          h("td", { class: "mono small" }, e.sourceIPAddress ?? "—"),
          h("td", { class: "small ellipsis" }, (e.userAgent ?? "—").split(" (")[0]),
        );
      }),
    ),
  );
}

function localToIso(v: string): string | undefined {
  if (!v) return undefined;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

async function verification(box: HTMLElement): Promise<void> {
  clear(box, h("h2", {}, "Chain verification"), h("p", { class: "muted" }, "Verifying…"));
  try {
    const v = await read("audit/verify");
    clear(
      box,
      h("h2", {}, "Chain verification"),
      h("p", {}, badge(v.intact ? "Intact" : "Problems"), " ", v.intact ? "Every chain and sealed footer checks out." : "Some chains have problems."),
      v.chains.map((c: any) =>
        h(
          "div",
          { class: "chain" },
          h("div", {}, h("strong", {}, `Chain ${c.chain}`), h("span", { class: "muted" }, ` · ${c.records} records, ${c.segments} segments, head #${c.lastSequence}`)),
          h("div", { class: "mono small break", "aria-label": "Head hash" }, `head ${c.head}`),
          c.problems.map((p: string) => h("div", { class: "error" }, p)),
        ),
      ),
    );
  } catch (e) {
    clear(box, h("h2", {}, "Chain verification"), errorBox(e));
  }
}

export async function auditView(root: HTMLElement): Promise<void> {
  const f = (name: string, label: string, attrs: Record<string, string> = {}) =>
    h("div", { class: "field" }, h("label", { for: `audit-${name}` }, label), h("input", { id: `audit-${name}`, name, ...attrs }));
  const outcome = h(
    "div",
    { class: "field" },
    h("label", { for: "audit-outcome" }, "Outcome"),
    h("select", { id: "audit-outcome", name: "outcome" }, ["any", "success", "failure"].map((o) => h("option", { value: o }, o))),
  );
  const form = h(
    "form",
    { class: "filters", "aria-label": "Audit filters" },
    f("since", "From", { type: "datetime-local" }),
    f("until", "To", { type: "datetime-local" }),
    f("principal", "Principal ARN", { placeholder: "arn:aws:iam::…" }),
    f("operation", "Operation", { placeholder: "CreateKey" }),
    f("key", "Key", { placeholder: "key id or ARN" }),
    outcome,
    h("div", { class: "filter-actions" }, h("button", { type: "submit", class: "primary" }, "Apply"), h("button", { type: "button", class: "secondary", id: "audit-export" }, "Export")),
  );
  const results = h("div", {});
  const chain = h("section", { class: "card", "aria-label": "Chain verification" });
  const params = (): Record<string, string | undefined> => {
    const d = new FormData(form);
    const g = (k: string) => String(d.get(k) ?? "").trim() || undefined;
    return { since: localToIso(g("since") ?? ""), until: localToIso(g("until") ?? ""), principal: g("principal"), operation: g("operation"), key: g("key"), outcome: g("outcome") };
  };
  const load = async () => {
    clear(results, h("p", { class: "muted loading" }, "Loading records…"));
    try {
      const a = await read("audit", { ...params(), limit: 200 });
      clear(results, h("p", { class: "muted" }, `${a.records.length} records${a.truncated ? " (newest 200; narrow the filters for older ones)" : ""}`), recordsTable(a.records));
    } catch (e) {
      clear(results, errorBox(e));
    }
  };
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void load();
  });
  form.querySelector("#audit-export")!.addEventListener("click", async () => {
    try {
      await downloadExport(params());
    } catch (e) {
      results.prepend(errorBox(e));
    }
  });
  clear(root, h("div", { class: "page-head" }, h("h1", {}, "Audit")), form, chain, h("section", { class: "card", "aria-label": "Records" }, h("h2", {}, "Records"), results));
  await Promise.all([load(), verification(chain)]);
}
