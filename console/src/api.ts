// Calls to the console API: the session cookie goes by itself (HttpOnly),
// the CSRF token is held here, in memory only, and sent on every call.

export class ApiError extends Error {
  constructor(
    public type: string,
    message: string,
    public status: number,
  ) {
    super(message);
  }
}

export interface Who {
  accountId: string;
  principal: string;
  principalType: string;
  accessKeyId: string;
  region: string;
  csrfToken: string;
  idleSeconds: number;
}

let csrf = "";
// The region KMS calls act in ("" = the frontend's default); per tab.
let region = sessionStorage.getItem("strongroom-region") ?? "";

export function currentRegion(): string {
  return region;
}

export function setRegion(r: string): void {
  region = r;
  sessionStorage.setItem("strongroom-region", r);
}
let signedOut: () => void = () => {};

export function onSignedOut(f: () => void): void {
  signedOut = f;
}

export function setSession(who: Who): void {
  csrf = who.csrfToken;
}

async function send(method: string, path: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = { "X-CSRF-Token": csrf };
  if (region) headers["X-Strongroom-Region"] = region;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  return fetch(`/console/api/${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
    cache: "no-store",
  });
}

async function errorOf(r: Response): Promise<ApiError> {
  const text = await r.text();
  let data: { __type?: string; message?: string } = {};
  try {
    data = JSON.parse(text);
  } catch {
    data = { message: text };
  }
  return new ApiError(data.__type ?? `HTTP ${r.status}`, data.message ?? r.statusText, r.status);
}

/** A console API call; a call that finds the session over signs out. */
export async function call(method: string, path: string, body?: unknown): Promise<any> {
  const r = await send(method, path, body);
  if (!r.ok) {
    const e = await errorOf(r);
    if (e.type === "MissingAuthenticationTokenException" && !path.startsWith("session")) {
      signedOut();
    }
    throw e;
  }
  const text = await r.text();
  return text ? JSON.parse(text) : {};
}

/** A KMS operation, as the signed-in principal. */
export function kms(op: string, body: Record<string, unknown> = {}): Promise<any> {
  return call("POST", `kms/${op}`, body);
}

/** A read view with query parameters (empty ones left out). */
export function read(path: string, params: Record<string, string | number | undefined> = {}): Promise<any> {
  return call("GET", path + query(params));
}

export function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== "") q.set(k, String(v));
  }
  const t = q.toString();
  return t ? `?${t}` : "";
}

/** Downloads the audit export for these filters. */
export async function downloadExport(params: Record<string, string | undefined>): Promise<void> {
  const r = await send("GET", "audit/export" + query(params));
  if (!r.ok) throw await errorOf(r);
  const url = URL.createObjectURL(await r.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = "strongroom-audit.jsonl";
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Every page of a KMS list operation, up to `max` items. */
export async function all(op: string, field: string, body: Record<string, unknown> = {}, max = 1000): Promise<any[]> {
  const out: any[] = [];
  let marker: string | undefined;
  do {
    const page = await kms(op, { ...body, Limit: 100, ...(marker ? { Marker: marker } : {}) });
    out.push(...(page[field] ?? []));
    marker = page.Truncated ? page.NextMarker : undefined;
  } while (marker && out.length < max);
  return out;
}
