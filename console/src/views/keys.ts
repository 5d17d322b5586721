// Keys: a searchable, paged list and "Create key".

import { all, kms } from "../api";
import { confirmAction } from "../dialog";
import { badge, clear, h, when } from "../dom";

const PAGE = 20;

const USAGES: Record<string, string[]> = {
  SYMMETRIC_DEFAULT: ["ENCRYPT_DECRYPT"],
  RSA_2048: ["ENCRYPT_DECRYPT", "SIGN_VERIFY"],
  RSA_3072: ["ENCRYPT_DECRYPT", "SIGN_VERIFY"],
  RSA_4096: ["ENCRYPT_DECRYPT", "SIGN_VERIFY"],
  ECC_NIST_P256: ["SIGN_VERIFY", "KEY_AGREEMENT"],
  ECC_NIST_P384: ["SIGN_VERIFY", "KEY_AGREEMENT"],
  HMAC_256: ["GENERATE_VERIFY_MAC"],
  HMAC_512: ["GENERATE_VERIFY_MAC"],
};

interface Row {
  meta: any;
  aliases: string[];
  rotation: string;
}

async function load(): Promise<Row[]> {
  const [keys, aliases] = await Promise.all([all("ListKeys", "Keys"), all("ListAliases", "Aliases")]);
  const byKey = new Map<string, string[]>();
  for (const a of aliases) {
    if (!a.TargetKeyId) continue;
    byKey.set(a.TargetKeyId, [...(byKey.get(a.TargetKeyId) ?? []), a.AliasName]);
  }
  const rows: Row[] = [];
  // A few at a time: each is an audited call.
  for (let i = 0; i < keys.length; i += 8) {
    const batch = keys.slice(i, i + 8);
    rows.push(
      ...(await Promise.all(
        batch.map(async (k: any): Promise<Row> => {
          const meta = (await kms("DescribeKey", { KeyId: k.KeyId })).KeyMetadata;
          let rotation = "—";
          if (meta.KeySpec === "SYMMETRIC_DEFAULT" && meta.Origin === "AWS_KMS" && meta.KeyState !== "PendingDeletion") {
            try {
              const r = await kms("GetKeyRotationStatus", { KeyId: k.KeyId });
              rotation = r.KeyRotationEnabled ? `every ${r.RotationPeriodInDays} days` : "off";
            } catch {
              rotation = "—";
            }
          }
          return { meta, aliases: byKey.get(k.KeyId) ?? [], rotation };
        }),
      )),
    );
  }
  rows.sort((a, b) => (b.meta.CreationDate ?? 0) - (a.meta.CreationDate ?? 0));
  return rows;
}

function matches(r: Row, q: string): boolean {
  if (!q) return true;
  const hay = [r.meta.KeyId, r.meta.Description, r.meta.KeySpec, r.meta.KeyUsage, r.meta.KeyState, ...r.aliases]
    .join(" ")
    .toLowerCase();
  return q
    .toLowerCase()
    .split(/\s+/)
    .every((w) => hay.includes(w));
}

function table(rows: Row[]): HTMLElement {
  return h(
    "table",
    { class: "data", "aria-label": "Keys" },
    h(
      "thead",
      {},
      h("tr", {}, ["Key ID", "Aliases", "Description", "Spec", "Usage", "State", "Created", "Rotation"].map((c) => h("th", { scope: "col" }, c))),
    ),
    h(
      "tbody",
      {},
      rows.length === 0 ? h("tr", {}, h("td", { colspan: 8, class: "empty" }, "No keys match.")) : null,
      rows.map((r) =>
        h(
          "tr",
          {},
          h("td", { class: "mono nowrap small" }, h("a", { href: `#/keys/${r.meta.KeyId}` }, r.meta.KeyId)),
          h("td", {}, r.aliases.map((a) => h("div", { class: "mono small" }, a))),
          h("td", { class: "desc" }, r.meta.Description || h("span", { class: "muted" }, "—")),
          h("td", { class: "small" }, r.meta.KeySpec),
          h("td", { class: "small" }, r.meta.KeyUsage),
          h("td", {}, badge(r.meta.KeyState)),
          h("td", { class: "nowrap small" }, when(r.meta.CreationDate)),
          h("td", { class: "small" }, r.rotation),
        ),
      ),
    ),
  );
}

export async function createKey(): Promise<string | null> {
  let made: string | null = null;
  const ok = await confirmAction({
    title: "Create key",
    confirm: "Create key",
    fields: [
      { name: "Description", label: "Description", value: "" },
      { name: "KeySpec", label: "Key spec", kind: "select", options: Object.keys(USAGES), value: "SYMMETRIC_DEFAULT" },
      {
        name: "KeyUsage",
        label: "Key usage",
        kind: "select",
        options: ["ENCRYPT_DECRYPT", "SIGN_VERIFY", "GENERATE_VERIFY_MAC", "KEY_AGREEMENT"],
        value: "ENCRYPT_DECRYPT",
        hint: "Must suit the spec: symmetric keys encrypt, HMAC keys make MACs, ECC keys sign or agree.",
      },
    ],
    run: async (v) => {
      const body: Record<string, unknown> = { KeySpec: v.KeySpec, KeyUsage: v.KeyUsage };
      if (v.Description) body.Description = v.Description;
      made = (await kms("CreateKey", body)).KeyMetadata.KeyId;
    },
  });
  return ok ? made : null;
}

export async function keysView(root: HTMLElement): Promise<void> {
  clear(root, h("h1", {}, "Keys"), h("p", { class: "muted loading" }, "Loading keys…"));
  const rows = await load();
  let page = 0;
  const search = h("input", { type: "search", id: "key-search", placeholder: "Search by id, alias, description, spec or state", "aria-label": "Search keys" });
  const create = h("button", { type: "button", class: "primary" }, "Create key");
  const body = h("div", { class: "scroll-x" });
  const pager = h("div", { class: "pager" });
  const render = () => {
    const found = rows.filter((r) => matches(r, search.value.trim()));
    const pages = Math.max(1, Math.ceil(found.length / PAGE));
    page = Math.min(page, pages - 1);
    clear(body, table(found.slice(page * PAGE, page * PAGE + PAGE)));
    const prev = h("button", { type: "button", class: "secondary small", disabled: page === 0 }, "Previous");
    const next = h("button", { type: "button", class: "secondary small", disabled: page >= pages - 1 }, "Next");
    prev.addEventListener("click", () => ((page -= 1), render()));
    next.addEventListener("click", () => ((page += 1), render()));
    clear(pager, prev, h("span", { class: "muted" }, `Page ${page + 1} of ${pages} · ${found.length} of ${rows.length} keys`), next);
  };
  search.addEventListener("input", () => ((page = 0), render()));
  create.addEventListener("click", async () => {
    const id = await createKey();
    if (id) location.hash = `#/keys/${id}`;
  });
  clear(root, h("div", { class: "page-head" }, h("h1", {}, "Keys"), create), h("div", { class: "toolbar" }, search), body, pager);
  render();
}
