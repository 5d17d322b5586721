// The console's shell: sign-in, the navigation, and a view per hash route
// (#/keys, #/keys/<id>, #/audit, #/usage, #/fleet).

import "./style.css";
import { ApiError, Who, call, currentRegion, onSignedOut, setRegion, setSession } from "./api";
import { errorBox } from "./dialog";
import { clear, h } from "./dom";
import { auditView } from "./views/audit";
import { fleetView } from "./views/fleet";
import { keyView } from "./views/key";
import { keysView } from "./views/keys";
import { usageView } from "./views/usage";

const app = document.getElementById("app")!;
let who: Who | null = null;

const REGIONS = ["us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1", "ap-northeast-1"];

function regionPicker(): HTMLElement {
  const current = currentRegion() || who!.region;
  const names = [...new Set([who!.region, current, ...REGIONS])];
  const pick = h("select", { id: "region", class: "region", "aria-label": "Region" }, names.map((r) => h("option", { value: r, selected: r === current }, r)));
  pick.addEventListener("change", () => {
    setRegion(pick.value === who!.region ? "" : pick.value);
    void route();
  });
  return pick;
}

const NAV: [string, string][] = [
  ["#/keys", "Keys"],
  ["#/audit", "Audit"],
  ["#/usage", "Usage"],
  ["#/fleet", "Fleet"],
];

function signInView(problem?: unknown, note?: string): void {
  who = null;
  const errors = h("div", {}, note ? h("p", { class: "note" }, note) : null, problem ? errorBox(problem) : null);
  const id = h("input", { id: "access-key-id", name: "accessKeyId", autocomplete: "username", required: true, spellcheck: "false" });
  const secret = h("input", { id: "secret-access-key", name: "secretAccessKey", type: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h(
    "form",
    { class: "signin-form" },
    h("div", { class: "field" }, h("label", { for: "access-key-id" }, "Access key ID"), id),
    h("div", { class: "field" }, h("label", { for: "secret-access-key" }, "Secret access key"), secret),
    errors,
    submit,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    submit.setAttribute("disabled", "");
    try {
      const s = await call("POST", "session", { accessKeyId: id.value.trim(), secretAccessKey: secret.value });
      secret.value = "";
      start(s);
    } catch (e) {
      errors.replaceChildren(errorBox(e));
      submit.removeAttribute("disabled");
      secret.focus();
    }
  });
  clear(
    app,
    h(
      "main",
      { class: "signin" },
      h(
        "section",
        { class: "card signin-card" },
        h("div", { class: "brand brand-large" }, h("span", { class: "logo", "aria-hidden": "true" }), "Strongroom"),
        h("p", { class: "muted" }, "Sign in with an access key. Every action is authorized and audited as that key's principal."),
        form,
      ),
    ),
  );
  id.focus();
}

function shell(): HTMLElement {
  const out = h("button", { type: "button", class: "secondary small" }, "Sign out");
  out.addEventListener("click", async () => {
    try {
      await call("DELETE", "session");
    } catch {
      /* signed out either way */
    }
    signInView();
  });
  const current = location.hash.split("/")[1] ?? "keys";
  const content = h("main", { id: "content", class: "content", tabindex: "-1" });
  clear(
    app,
    h("a", { class: "skip", href: "#content" }, "Skip to content"),
    h(
      "header",
      { class: "topbar" },
      h("div", { class: "brand" }, h("span", { class: "logo", "aria-hidden": "true" }), "Strongroom"),
      h(
        "nav",
        { "aria-label": "Main" },
        NAV.map(([href, label]) =>
          h("a", { href, class: href === `#/${current}` ? "active" : "", "aria-current": href === `#/${current}` ? "page" : null }, label),
        ),
      ),
      h(
        "div",
        { class: "who" },
        h("span", { class: "who-principal", title: who!.principal }, who!.principal.replace(/^arn:aws:iam::/, "")),
        h("span", { class: "muted" }, who!.accessKeyId),
        regionPicker(),
        out,
      ),
    ),
    content,
  );
  return content;
}

async function route(): Promise<void> {
  if (!who) return;
  const parts = location.hash.replace(/^#\/?/, "").split("/");
  const content = shell();
  try {
    switch (parts[0]) {
      case "audit":
        await auditView(content);
        break;
      case "usage":
        await usageView(content);
        break;
      case "fleet":
        await fleetView(content);
        break;
      case "keys":
      case "":
        if (parts[1]) await keyView(content, decodeURIComponent(parts[1]));
        else await keysView(content);
        break;
      default:
        clear(content, h("h1", {}, "Not found"));
    }
  } catch (e) {
    if (e instanceof ApiError && e.type === "MissingAuthenticationTokenException") return;
    content.querySelectorAll(".loading").forEach((el) => el.remove());
    content.append(errorBox(e));
  }
}

function start(s: Who): void {
  who = s;
  setSession(s);
  if (!location.hash) history.replaceState(null, "", "#/keys");
  void route();
}

async function boot(): Promise<void> {
  onSignedOut(() => signInView(new ApiError("Signed out", "Your session has ended. Sign in again.", 403)));
  window.addEventListener("hashchange", () => void route());
  // A one-time sign-in link: take the token out of the address bar first.
  const params = new URLSearchParams(location.search);
  const token = params.get("login");
  if (token) {
    history.replaceState(null, "", location.pathname + location.hash);
    try {
      start(await call("POST", "session/link", { token }));
      return;
    } catch (e) {
      signInView(e, "This sign-in link has been used, has expired (after 10 minutes) or is not valid. Sign in with an access key, or restart strongroom dev for a new link.");
      return;
    }
  }
  try {
    start(await call("GET", "session"));
  } catch {
    signInView();
  }
}

void boot();
