// The console end to end: a real `strongroom dev` (STRONGROOM_BIN, default
// ../target/debug/strongroom) driven in Debian's headless Chromium
// (CHROMIUM_PATH, default /usr/bin/chromium) through playwright-core.
// Saves the screenshots the README shows (docs/img/console-*.png).

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../..");
const BIN = process.env.STRONGROOM_BIN ?? join(repo, "target/debug/strongroom");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const SHOTS = join(repo, "docs/img");
const VIEWPORT = { width: 1280, height: 800 };

let dataDir;
let dev;
let browser;
let root; // { id, secret }
let viewer; // { id, secret }
let admin; // admin listener URL
let link; // one-time sign-in link

/** Starts `strongroom dev` and reads what it prints until the secret. */
function startDev() {
  return new Promise((resolveStart, reject) => {
    const proc = spawn(
      BIN,
      ["dev", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const seen = { proc };
    let buf = "";
    const timer = setTimeout(() => reject(new Error("strongroom dev did not start in 60 s")), 60_000);
    proc.on("exit", (code) => reject(new Error(`strongroom dev exited with ${code}`)));
    proc.stdout.on("data", (chunk) => {
      buf += chunk;
      for (const line of buf.split("\n")) {
        const m = line.match(/^(admin|console): (\S+)/);
        if (m) seen[m[1]] = m[2];
        const e = line.match(/^export (AWS_[A-Z_]+)=(.*)$/);
        if (e) seen[e[1]] = e[2];
        const a = line.match(/^account (\d{12})/);
        if (a) seen.account = a[1];
      }
      if (seen.AWS_SECRET_ACCESS_KEY && seen.console) {
        clearTimeout(timer);
        resolveStart(seen);
      }
    });
  });
}

function stopDev(d) {
  return new Promise((done) => {
    if (!d || d.proc.exitCode !== null) return done();
    d.proc.removeAllListeners("exit");
    d.proc.on("exit", () => done());
    d.proc.kill("SIGTERM");
  });
}

function strongroom(...args) {
  return execFileSync(BIN, ["admin", "--data-dir", dataDir, ...args], { encoding: "utf8" });
}

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "strongroom-console-e2e-"));
  mkdirSync(SHOTS, { recursive: true });
  // First start makes the account; a user without any policy is added
  // while the server is stopped.
  const first = await startDev();
  await stopDev(first);
  const arn = strongroom("create-principal", "--account-id", first.account, "--kind", "user", "--name", "viewer").trim();
  const out = strongroom("create-access-key", "--principal", arn);
  viewer = {
    id: out.match(/AWS_ACCESS_KEY_ID=(\S+)/)[1],
    secret: out.match(/AWS_SECRET_ACCESS_KEY=(\S+)/)[1],
  };
  dev = await startDev();
  root = { id: dev.AWS_ACCESS_KEY_ID, secret: dev.AWS_SECRET_ACCESS_KEY };
  // A few keys in use, made with the CLI (an SDK's path), for the views.
  const env = { ...process.env };
  for (const k of ["AWS_ENDPOINT_URL_KMS", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]) env[k] = dev[k];
  for (const [description, uses] of [["orders service", 6], ["nightly backups (envelope keys)", 3], ["customer PII columns", 9]]) {
    const made = execFileSync(BIN, ["kms", "create-key", "--description", description], { env, encoding: "utf8" });
    const id = made.match(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/)[0];
    for (let i = 0; i < uses; i++) execFileSync(BIN, ["kms", "encrypt", "--key-id", id], { env, input: "hello" });
  }
  admin = dev.admin;
  link = dev.console;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
});

after(async () => {
  await browser?.close();
  await stopDev(dev);
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function newPage() {
  const context = await browser.newContext({ viewport: VIEWPORT });
  const page = await context.newPage();
  const problems = [];
  // Failed calls (a refused action) log "Failed to load resource"; any
  // other error (a script error, a CSP violation) is a problem.
  page.on("console", (m) => m.type() === "error" && !m.text().startsWith("Failed to load resource") && problems.push(m.text()));
  page.on("pageerror", (e) => problems.push(String(e)));
  return { context, page, problems };
}

function nav(page, name) {
  return page.getByRole("navigation", { name: "Main" }).getByRole("link", { name, exact: true });
}

async function signInWithKeys(page, who) {
  await page.goto(`${admin}/console/`);
  await page.getByLabel("Access key ID").fill(who.id);
  await page.getByLabel("Secret access key").fill(who.secret);
  await page.getByRole("button", { name: "Sign in" }).click();
}

let main; // the link-signed-in page, used by the tests that follow
let keyId;

test("sign in by link: the token leaves the address bar", async () => {
  assert.match(link, /\/console\/\?login=[A-Za-z0-9_-]{43}$/);
  main = await newPage();
  await main.page.goto(link);
  await main.page.getByRole("navigation", { name: "Main" }).waitFor();
  assert.ok(!main.page.url().includes("login="), main.page.url());
  await main.page.getByRole("heading", { name: "Keys" }).waitFor();
});

test("the sign-in link works once", async () => {
  const { context, page } = await newPage();
  await page.goto(link);
  await page.getByRole("alert").filter({ hasText: "UnrecognizedClientException" }).waitFor();
  await page.getByLabel("Access key ID").waitFor();
  assert.equal(await page.getByRole("navigation", { name: "Main" }).count(), 0);
  await page.screenshot({ path: join(SHOTS, "console-signin.png") });
  await context.close();
});

test("create a key, add a tag, disable it, see it in the list", async () => {
  const page = main.page;
  await page.getByRole("button", { name: "Create key" }).click();
  const create = page.getByRole("dialog", { name: "Create key" });
  await create.getByLabel("Description").fill("payments ledger key");
  await create.getByRole("button", { name: "Create key" }).click();
  await page.waitForURL(/#\/keys\/[0-9a-f-]{36}$/);
  keyId = page.url().split("/").pop();
  await page.getByRole("heading", { name: keyId }).waitFor();

  await page.getByRole("button", { name: "Add tag" }).click();
  const tag = page.getByRole("dialog", { name: "Add tag" });
  await tag.getByLabel("Tag key").fill("team");
  await tag.getByLabel("Tag value").fill("payments");
  await tag.getByRole("button", { name: "Add tag" }).click();
  await page.getByRole("table", { name: "Tags" }).getByText("payments").waitFor();

  await page.getByRole("button", { name: "Add alias" }).click();
  const alias = page.getByRole("dialog", { name: "Add alias" });
  await alias.getByLabel("Alias name").fill("alias/payments-ledger");
  await alias.getByRole("button", { name: "Add alias" }).click();
  await page.getByRole("list", { name: "Aliases" }).getByText("alias/payments-ledger").waitFor();

  // A failing action shows the AWS error and changes nothing.
  await page.getByRole("button", { name: "Add tag" }).click();
  const bad = page.getByRole("dialog", { name: "Add tag" });
  await bad.getByLabel("Tag key").fill("aws:reserved");
  await bad.getByRole("button", { name: "Add tag" }).click();
  await bad.getByRole("alert").filter({ hasText: "TagException" }).waitFor();
  await bad.getByRole("button", { name: "Cancel" }).click();

  await page.getByRole("button", { name: "Disable" }).click();
  await page.getByRole("dialog", { name: "Disable key" }).getByRole("button", { name: "Disable" }).click();
  await page.locator(".page-head .badge", { hasText: "Disabled" }).waitFor();
  await page.getByRole("button", { name: "Enable", exact: true }).waitFor();
  await page.screenshot({ path: join(SHOTS, "console-key.png"), fullPage: true });

  await nav(page, "Keys").click();
  await page.getByLabel("Search keys").fill("alias/payments-ledger");
  const row = page.getByRole("table", { name: "Keys" }).getByRole("row").filter({ hasText: keyId });
  await row.waitFor();
  assert.match(await row.innerText(), /Disabled/);
  assert.match(await row.innerText(), /payments ledger key/);
  assert.match(await row.innerText(), /alias\/payments-ledger/);
  await page.getByLabel("Search keys").fill("");
  await page.screenshot({ path: join(SHOTS, "console-keys.png") });
});

test("the key's records are in the audit view, and the chain verifies", async () => {
  const page = main.page;
  await nav(page, "Audit").click();
  await page.getByLabel("Key", { exact: true }).fill(keyId);
  await page.getByRole("button", { name: "Apply" }).click();
  const records = page.getByRole("table", { name: "Audit records" });
  for (const op of ["CreateKey", "TagResource", "DisableKey"]) {
    await records.getByRole("cell", { name: op, exact: true }).first().waitFor();
  }
  await page.getByLabel("Chain verification").getByText("Intact").waitFor();
  const head = await page.getByLabel("Head hash").first().innerText();
  assert.match(head, /^head [0-9a-f]{64}$/);
  await page.getByLabel("Key", { exact: true }).fill("");
  await page.getByLabel("Outcome").selectOption("failure");
  await page.getByRole("button", { name: "Apply" }).click();
  await records.getByText("TagException").first().waitFor();
  assert.equal(await records.getByRole("cell", { name: "DisableKey", exact: true }).count(), 0);
  await page.getByLabel("Key", { exact: true }).fill(keyId);
  await page.getByLabel("Outcome").selectOption("any");
  await page.getByRole("button", { name: "Apply" }).click();
  await records.getByRole("cell", { name: "DisableKey", exact: true }).first().waitFor();
  await page.screenshot({ path: join(SHOTS, "console-audit.png") });
});

test("the usage chart renders", async () => {
  const page = main.page;
  await nav(page, "Usage").click();
  const chart = page.getByRole("img", { name: "Requests per hour, by operation" });
  await chart.waitFor();
  // Metering lags the trail by up to a second: reload until counted.
  for (let i = 0; i < 10 && (await chart.locator("rect.bar").count()) === 0; i++) {
    await page.waitForTimeout(500);
    await page.getByLabel("Period").selectOption(String(24 * 7));
    await page.getByLabel("Period").selectOption("24");
    await chart.waitFor();
  }
  assert.ok((await chart.locator("rect.bar").count()) > 0, "no bars");
  await page.getByRole("img", { name: "Requests per key" }).waitFor();
  await page.screenshot({ path: join(SHOTS, "console-usage.png"), fullPage: true });
});

test("the fleet view shows the module, its domain and rewrap progress", async () => {
  const page = main.page;
  await nav(page, "Fleet").click();
  await page.getByText("Healthy").first().waitFor();
  await page.getByText("signature verified").first().waitFor();
  await page.getByRole("heading", { name: /^Domain / }).first().waitFor();
  await page.getByLabel("Rewrap progress").waitFor();
  await page.screenshot({ path: join(SHOTS, "console-fleet.png"), fullPage: true });
  assert.deepEqual(main.problems, []);
});

test("keyboard: skip link, navigation and dialogs work without a mouse", async () => {
  const page = main.page;
  await page.goto(`${admin}/console/#/keys`);
  await page.getByRole("heading", { name: "Keys" }).waitFor();
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Skip to content");
  await page.getByRole("button", { name: "Create key" }).focus();
  await page.keyboard.press("Enter");
  const dialog = page.getByRole("dialog", { name: "Create key" });
  await dialog.waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute("name")), "Description");
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "detached" });
});

test("sign in by access key", async () => {
  const { context, page, problems } = await newPage();
  await signInWithKeys(page, root);
  await page.getByRole("navigation", { name: "Main" }).waitFor();
  await page.getByRole("table", { name: "Keys" }).getByText(keyId).waitFor();
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === "strongroom-console");
  assert.ok(session && session.httpOnly && session.sameSite === "Strict", JSON.stringify(cookies));
  assert.equal(await page.evaluate(() => document.cookie), "");
  assert.deepEqual(problems, []);
  await context.close();
});

test("a wrong secret is refused", async () => {
  const { context, page } = await newPage();
  await signInWithKeys(page, { id: root.id, secret: "wrong" });
  await page.getByRole("alert").filter({ hasText: "UnrecognizedClientException" }).waitFor();
  await context.close();
});

test("a user without permission sees AccessDenied and no data", async () => {
  const { context, page } = await newPage();
  await signInWithKeys(page, viewer);
  await page.getByRole("navigation", { name: "Main" }).waitFor();
  await page.getByRole("alert").filter({ hasText: "AccessDeniedException" }).waitFor();
  assert.equal(await page.getByRole("table", { name: "Keys" }).count(), 0);
  assert.equal(await page.getByText(keyId).count(), 0);
  await nav(page, "Audit").click();
  await page.getByRole("alert").filter({ hasText: "AccessDeniedException" }).first().waitFor();
  assert.equal(await page.getByRole("cell", { name: "CreateKey" }).count(), 0);
  await nav(page, "Fleet").click();
  await page.getByRole("heading", { name: "Fleet" }).waitFor();
  await page.getByRole("alert").filter({ hasText: "AccessDeniedException" }).waitFor();
  await page.screenshot({ path: join(SHOTS, "console-denied.png") });
  await context.close();
});
