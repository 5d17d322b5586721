// One key: metadata, aliases, tags, key policy (rendered and raw), grants,
// rotations, recent audit records, and its actions.

import { all, kms, read } from "../api";
import { confirmAction } from "../dialog";
import { Child, badge, clear, h, when } from "../dom";
import { recordsTable } from "./audit";

function card(title: string, ...children: Child[]): HTMLElement {
  return h("section", { class: "card", "aria-label": title }, h("h2", {}, title), ...children);
}

function dl(pairs: [string, Child][]): HTMLElement {
  return h("dl", { class: "meta" }, pairs.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v ?? "—")]));
}

function list<T>(v: T | T[] | undefined): T[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** The policy's statements as a table. */
function policyTable(text: string): HTMLElement {
  let doc: any;
  try {
    doc = JSON.parse(text);
  } catch {
    return h("p", { class: "muted" }, "The policy is not JSON.");
  }
  const principal = (p: any): string =>
    p === "*" ? "*" : Object.entries(p ?? {}).map(([k, v]) => `${k}: ${list(v as any).join(", ")}`).join("; ");
  return h(
    "table",
    { class: "data compact", "aria-label": "Policy statements" },
    h("thead", {}, h("tr", {}, ["Sid", "Effect", "Principal", "Action", "Resource", "Condition"].map((c) => h("th", { scope: "col" }, c)))),
    h(
      "tbody",
      {},
      list(doc.Statement).map((s: any) =>
        h(
          "tr",
          {},
          h("td", {}, s.Sid ?? "—"),
          h("td", {}, badge(s.Effect, s.Effect === "Allow" ? "ok" : "bad")),
          h("td", { class: "mono small" }, s.NotPrincipal ? `not ${principal(s.NotPrincipal)}` : principal(s.Principal)),
          h("td", { class: "mono small" }, (s.NotAction ? "not " : "") + list(s.Action ?? s.NotAction).join(", ")),
          h("td", { class: "mono small" }, list(s.Resource ?? s.NotResource).join(", ")),
          h("td", { class: "mono small" }, s.Condition ? JSON.stringify(s.Condition) : "—"),
        ),
      ),
    ),
  );
}

async function optional<T>(p: Promise<T>, fallback: T): Promise<T> {
  try {
    return await p;
  } catch {
    return fallback;
  }
}

function actions(meta: any, rotation: any, refresh: () => void): HTMLElement {
  const id = meta.KeyId;
  const act = (label: string, o: Parameters<typeof confirmAction>[0], cls = "secondary") => {
    const b = h("button", { type: "button", class: cls }, label);
    b.addEventListener("click", async () => {
      if (await confirmAction(o)) refresh();
    });
    return b;
  };
  const state = meta.KeyState;
  const out: HTMLElement[] = [];
  if (state === "Enabled")
    out.push(act("Disable", { title: "Disable key", body: `Disable ${id}? It cannot be used until enabled again.`, confirm: "Disable", danger: true, run: () => kms("DisableKey", { KeyId: id }) }));
  if (state === "Disabled")
    out.push(act("Enable", { title: "Enable key", body: `Enable ${id}?`, confirm: "Enable", run: () => kms("EnableKey", { KeyId: id }) }));
  out.push(
    act("Edit description", {
      title: "Edit description",
      confirm: "Save",
      fields: [{ name: "Description", label: "Description", kind: "textarea", value: meta.Description ?? "" }],
      run: (v) => kms("UpdateKeyDescription", { KeyId: id, Description: v.Description }),
    }),
  );
  out.push(
    act("Add alias", {
      title: "Add alias",
      confirm: "Add alias",
      fields: [{ name: "AliasName", label: "Alias name", value: "alias/", required: true, hint: "alias/ and 1–250 letters, digits, /_- ; not alias/aws/…" }],
      run: (v) => kms("CreateAlias", { AliasName: v.AliasName, TargetKeyId: id }),
    }),
  );
  out.push(
    act("Add tag", {
      title: "Add tag",
      confirm: "Add tag",
      fields: [
        { name: "TagKey", label: "Tag key", required: true },
        { name: "TagValue", label: "Tag value" },
      ],
      run: (v) => kms("TagResource", { KeyId: id, Tags: [{ TagKey: v.TagKey, TagValue: v.TagValue ?? "" }] }),
    }),
  );
  if (rotation && !rotation.KeyRotationEnabled && state !== "PendingDeletion")
    out.push(
      act("Enable rotation", {
        title: "Enable automatic rotation",
        confirm: "Enable rotation",
        fields: [{ name: "days", label: "Rotation period (days)", kind: "number", value: "365", min: 90, max: 2560 }],
        run: (v) => kms("EnableKeyRotation", { KeyId: id, RotationPeriodInDays: Number(v.days) }),
      }),
    );
  if (state === "PendingDeletion")
    out.push(act("Cancel deletion", { title: "Cancel deletion", body: `Cancel the deletion of ${id}? It comes back disabled.`, confirm: "Cancel deletion", run: () => kms("CancelKeyDeletion", { KeyId: id }) }));
  else
    out.push(
      act(
        "Schedule deletion",
        {
          title: "Schedule key deletion",
          body: h("p", {}, "After the waiting period the key and every version of it are deleted; data encrypted under it can never be decrypted again."),
          confirm: "Schedule deletion",
          danger: true,
          fields: [{ name: "days", label: "Waiting period (days)", kind: "number", value: "30", min: 7, max: 30 }],
          run: (v) => kms("ScheduleKeyDeletion", { KeyId: id, PendingWindowInDays: Number(v.days) }),
        },
        "danger-outline",
      ),
    );
  return h("div", { class: "actions" }, out);
}

function aliasList(aliases: any[], refresh: () => void): HTMLElement {
  if (aliases.length === 0) return h("p", { class: "muted" }, "No aliases.");
  return h(
    "ul",
    { class: "plain", "aria-label": "Aliases" },
    aliases.map((a: any) => {
      const rm = h("button", { type: "button", class: "link", "aria-label": `Delete alias ${a.AliasName}` }, "Delete");
      rm.addEventListener("click", async () => {
        const ok = await confirmAction({ title: "Delete alias", body: `Delete ${a.AliasName}? Callers that name the key by it will fail.`, confirm: "Delete alias", danger: true, run: () => kms("DeleteAlias", { AliasName: a.AliasName }) });
        if (ok) refresh();
      });
      return h("li", { class: "row-between" }, h("span", { class: "mono" }, a.AliasName), rm);
    }),
  );
}

function tagsTable(id: string, tags: any[], refresh: () => void): HTMLElement {
  if (tags.length === 0) return h("p", { class: "muted" }, "No tags.");
  return h(
    "table",
    { class: "data compact", "aria-label": "Tags" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Key"), h("th", { scope: "col" }, "Value"), h("th", {}, ""))),
    h(
      "tbody",
      {},
      tags.map((t) => {
        const rm = h("button", { type: "button", class: "link", "aria-label": `Remove tag ${t.TagKey}` }, "Remove");
        rm.addEventListener("click", async () => {
          const ok = await confirmAction({ title: "Remove tag", body: `Remove tag ${t.TagKey}?`, confirm: "Remove", danger: true, run: () => kms("UntagResource", { KeyId: id, TagKeys: [t.TagKey] }) });
          if (ok) refresh();
        });
        return h("tr", {}, h("td", { class: "mono" }, t.TagKey), h("td", { class: "mono" }, t.TagValue), h("td", { class: "right" }, rm));
      }),
    ),
  );
}

export async function keyView(root: HTMLElement, id: string): Promise<void> {
  clear(root, h("p", { class: "muted loading" }, "Loading key…"));
  const meta = (await kms("DescribeKey", { KeyId: id })).KeyMetadata;
  const symmetric = meta.KeySpec === "SYMMETRIC_DEFAULT";
  const [aliases, tags, policy, grants, rotation, rotations, audit] = await Promise.all([
    optional(all("ListAliases", "Aliases", { KeyId: meta.KeyId }), []),
    optional(all("ListResourceTags", "Tags", { KeyId: meta.KeyId }), []),
    optional(kms("GetKeyPolicy", { KeyId: meta.KeyId, PolicyName: "default" }), null),
    optional(all("ListGrants", "Grants", { KeyId: meta.KeyId }), []),
    symmetric ? optional(kms("GetKeyRotationStatus", { KeyId: meta.KeyId }), null) : Promise.resolve(null),
    symmetric ? optional(all("ListKeyRotations", "Rotations", { KeyId: meta.KeyId }), []) : Promise.resolve([]),
    optional(read("audit", { key: meta.KeyId, limit: 200 }), null),
  ]);
  const refresh = () => void keyView(root, meta.KeyId);
  const raw = policy?.Policy ?? "";
  let pretty = raw;
  try {
    pretty = JSON.stringify(JSON.parse(raw), null, 2);
  } catch {
    /* shown as is */
  }
  clear(
    root,
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "#/keys" }, "Keys"), " / ", meta.KeyId),
    h("div", { class: "page-head" }, h("h1", { class: "mono" }, meta.KeyId), badge(meta.KeyState)),
    actions(meta, rotation, refresh),
    h(
      "div",
      { class: "grid" },
      card(
        "Metadata",
        dl([
          ["ARN", h("span", { class: "mono small" }, meta.Arn)],
          ["Description", meta.Description || "—"],
          ["Key spec", meta.KeySpec],
          ["Key usage", meta.KeyUsage],
          ["Origin", meta.Origin],
          ["Created", when(meta.CreationDate)],
          ["Deletion date", meta.DeletionDate ? when(meta.DeletionDate) : "—"],
          ["Rotation", rotation ? (rotation.KeyRotationEnabled ? `every ${rotation.RotationPeriodInDays} days, next ${when(rotation.NextRotationDate)}` : "off") : "—"],
        ]),
      ),
      card("Aliases", aliasList(aliases, refresh)),
      card("Tags", tagsTable(meta.KeyId, tags, refresh)),
      card(
        "Rotations",
        rotations.length
          ? h("ul", { class: "plain" }, rotations.map((r: any) => h("li", {}, `${when(r.RotationDate)} · ${r.RotationType}`)))
          : h("p", { class: "muted" }, symmetric ? "Never rotated." : "Only symmetric keys rotate."),
      ),
    ),
    card(
      "Key policy",
      raw ? policyTable(raw) : h("p", { class: "muted" }, "Not readable with this principal."),
      raw ? h("details", {}, h("summary", {}, "Raw policy"), h("pre", { class: "code" }, pretty)) : null,
    ),
    card(
      "Grants",
      grants.length
        ? h(
            "table",
            { class: "data compact", "aria-label": "Grants" },
            h("thead", {}, h("tr", {}, ["Grant ID", "Name", "Grantee", "Operations", "Created"].map((c) => h("th", { scope: "col" }, c)))),
            h("tbody", {}, grants.map((g: any) => h("tr", {}, h("td", { class: "mono small" }, g.GrantId), h("td", {}, g.Name ?? "—"), h("td", { class: "mono small" }, g.GranteePrincipal), h("td", {}, (g.Operations ?? []).join(", ")), h("td", { class: "nowrap" }, when(g.CreationDate))))),
          )
        : h("p", { class: "muted" }, "No grants."),
    ),
    card(
      "Recent audit records",
      audit
        ? [
            h("p", { class: "muted small" }, "Changes and uses of this key; reads (Describe, Get, List) are in ", h("a", { href: "#/audit" }, "Audit"), "."),
            recordsTable(audit.records.filter((r: any) => !/^(Describe|Get|List)/.test(r.event.eventName)).slice(0, 25)),
          ]
        : h("p", { class: "muted" }, "Not readable with this principal."),
    ),
  );
}
