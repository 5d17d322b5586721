// Every action is confirmed in a modal dialog; a failure shows the AWS
// error there and leaves the dialog open.

import { ApiError } from "./api";
import { Child, h } from "./dom";

export interface Field {
  name: string;
  label: string;
  kind?: "text" | "number" | "select" | "textarea";
  value?: string;
  options?: string[];
  required?: boolean;
  min?: number;
  max?: number;
  hint?: string;
}

export interface ConfirmOptions {
  title: string;
  body?: Child;
  fields?: Field[];
  confirm: string;
  danger?: boolean;
  /** Runs the action with the form's values; its error is shown. */
  run: (values: Record<string, string>) => Promise<unknown>;
}

export function errorBox(e: unknown): HTMLElement {
  const err = e instanceof ApiError ? e : new ApiError("Error", String(e), 0);
  return h(
    "div",
    { class: "error", role: "alert" },
    h("strong", {}, err.type),
    err.message ? h("span", {}, ": " + err.message) : null,
  );
}

function input(f: Field): HTMLElement {
  const id = `field-${f.name}`;
  let control: HTMLElement;
  if (f.kind === "select") {
    control = h(
      "select",
      { id, name: f.name },
      (f.options ?? []).map((o) => h("option", { value: o, selected: o === f.value }, o)),
    );
  } else if (f.kind === "textarea") {
    control = h("textarea", { id, name: f.name, rows: 3 }, f.value ?? "");
  } else {
    control = h("input", {
      id,
      name: f.name,
      type: f.kind ?? "text",
      value: f.value ?? "",
      required: f.required,
      min: f.min,
      max: f.max,
      autocomplete: "off",
    });
  }
  return h("div", { class: "field" }, h("label", { for: id }, f.label), control, f.hint ? h("small", {}, f.hint) : null);
}

/** Opens the dialog; resolves true when the action succeeded. */
export function confirmAction(o: ConfirmOptions): Promise<boolean> {
  return new Promise((resolve) => {
    const errors = h("div", { class: "dialog-errors" });
    const ok = h("button", { type: "submit", class: o.danger ? "danger" : "primary" }, o.confirm);
    const cancel = h("button", { type: "button", class: "secondary" }, "Cancel");
    const form = h(
      "form",
      { method: "dialog" },
      h("h2", {}, o.title),
      o.body ? h("div", { class: "dialog-body" }, o.body) : null,
      (o.fields ?? []).map(input),
      errors,
      h("div", { class: "dialog-actions" }, cancel, ok),
    );
    const dialog = h("dialog", { "aria-label": o.title }, form);
    let done = false;
    const close = (result: boolean) => {
      if (done) return;
      done = true;
      dialog.close();
      dialog.remove();
      resolve(result);
    };
    cancel.addEventListener("click", () => close(false));
    dialog.addEventListener("cancel", () => close(false));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const values: Record<string, string> = {};
      new FormData(form).forEach((v, k) => (values[k] = String(v)));
      ok.setAttribute("disabled", "");
      errors.replaceChildren();
      try {
        await o.run(values);
        close(true);
      } catch (e) {
        errors.replaceChildren(errorBox(e));
        ok.removeAttribute("disabled");
      }
    });
    document.body.appendChild(dialog);
    dialog.showModal();
    const first = form.querySelector<HTMLElement>("input, select, textarea") ?? ok;
    first.focus();
  });
}
