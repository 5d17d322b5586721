// Fleet: security modules, domains, and rewrap progress.

import { read } from "../api";
import { Child, badge, clear, h, when } from "../dom";

function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return "—";
  if (n < 1024) return `${n} B`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1 << 20)).toFixed(1)} MiB`;
}

function uptime(s: number): string {
  const d = Math.floor(s / 86400), hh = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  return d ? `${d}d ${hh}h` : hh ? `${hh}h ${m}m` : `${m}m ${s % 60}s`;
}

function moduleCard(m: any): HTMLElement {
  const title = m.friendlyName || m.name;
  if (!m.up) return h("section", { class: "card" }, h("h2", {}, title, " ", badge("Unreachable", "bad")), h("p", { class: "error" }, m.problem));
  const logs: any[] = m.logs?.logs ?? [];
  const a = m.attestation ?? {};
  const rows: [string, Child][] = [
    ["Address", h("span", { class: "mono small" }, m.name)],
    ["Module id", h("span", { class: "mono small" }, m.moduleId)],
    ["Mode", m.mode],
    ["Tags", m.tags.length ? m.tags.map((t: string) => h("span", { class: "tag" }, t)) : "—"],
    ["Domains", m.domains.map((d: any) => h("div", { class: "mono small" }, `${d.id} · epoch ${d.epoch}${d.keysLoaded ? "" : " · keys not loaded"}`))],
    ["Vault", `${m.vault.keys} of ${m.vault.capacity} keys${m.memoryLocked ? ", memory locked" : ", memory NOT locked"}`],
    ["Uptime", `${uptime(m.uptimeSeconds)} · ${m.requestsServed} requests`],
    ["Last attestation", a.problem ? h("span", { class: "error" }, a.problem) : [when(a.issuedAt), " ", badge(a.verified ? "signature verified" : "signature NOT verified", a.verified ? "ok" : "bad")]],
    ["Measurement", a.measurement ? h("span", { class: "mono small break" }, a.measurement) : "—"],
    [
      "Logs",
      m.logs?.problem
        ? h("span", { class: "muted" }, m.logs.problem)
        : logs.length
          ? logs.map((l) => h("div", { class: "small" }, `log ${l.logId}: ${bytes(l.bytes)}${l.closed ? " (closed)" : ""}, ${l.copiedBytes === l.bytes ? "all" : bytes(l.copiedBytes)} copied to the audit trail`))
          : "no log yet",
    ],
  ];
  return h(
    "section",
    { class: "card", "aria-label": `Module ${title}` },
    h("h2", {}, title, " ", badge(m.healthy ? "Healthy" : "Unhealthy")),
    m.problem ? h("p", { class: "error" }, m.problem) : null,
    h("dl", { class: "meta" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
  );
}

function domainCard(d: any): HTMLElement {
  if (d.problem) return h("section", { class: "card" }, h("h2", {}, `Domain ${d.id}`), h("p", { class: "error" }, d.problem));
  return h(
    "section",
    { class: "card", "aria-label": `Domain ${d.id}` },
    h("h2", {}, "Domain ", h("span", { class: "mono" }, d.id)),
    h(
      "dl",
      { class: "meta" },
      h("dt", {}, "Epoch"),
      h("dd", {}, d.signedToken ? `${d.epoch} (token issued ${when(d.issuedAt)})` : `${d.epoch} (no signed token: a dev domain, without operators or quorum rules)`),
      h("dt", {}, "Members"),
      h("dd", {}, d.members.map((m: any) => h("div", {}, m.friendlyName, " ", h("span", { class: "mono small muted" }, m.moduleId)))),
      h("dt", {}, "Hosts"),
      h("dd", {}, d.hosts.length ? d.hosts.map((x: string) => h("span", { class: "tag mono" }, x)) : "—"),
      h("dt", {}, "Operators"),
      h("dd", {}, d.operators.length ? d.operators.map((o: any) => h("div", {}, o.name, " ", h("span", { class: "mono small muted" }, o.key))) : "—"),
      h("dt", {}, "Generations"),
      h("dd", {}, d.generations.join(", ")),
      h("dt", {}, "Escrow"),
      h("dd", {}, d.escrowThreshold ? `${d.escrowThreshold} shares to recover` : "none"),
    ),
    h("details", {}, h("summary", {}, `Quorum rules (${d.quorum.length})`), h("table", { class: "data compact", "aria-label": "Quorum rules" }, h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Command"), h("th", { scope: "col" }, "Signatures"))), h("tbody", {}, d.quorum.map((q: any) => h("tr", {}, h("td", {}, q.command), h("td", {}, String(q.threshold))))))),
  );
}

export async function fleetView(root: HTMLElement): Promise<void> {
  clear(root, h("h1", {}, "Fleet"), h("p", { class: "muted loading" }, "Asking the security modules…"));
  const f = await read("fleet");
  const r = f.rewrap;
  clear(
    root,
    h("div", { class: "page-head" }, h("h1", {}, "Fleet")),
    h("h2", { class: "section" }, `Security modules (${f.modules.length})`),
    h("div", { class: "grid" }, f.modules.map(moduleCard)),
    h("h2", { class: "section" }, `Domains (${f.domains.length})`),
    h("div", { class: "grid" }, f.domains.map(domainCard)),
    h(
      "section",
      { class: "card", "aria-label": "Rewrap progress" },
      h("h2", {}, "Rewrap progress"),
      h("p", {}, `${r.current} of ${r.total} sealed items are under generation ${r.newestGeneration}`, r.behind ? `; ${r.behind} still need \`strongroom admin rewrap\`.` : "."),
      h("progress", { max: Math.max(1, r.total), value: r.current, "aria-label": "Rewrapped" }),
    ),
  );
}
