// What every browser test needs: the real `veldwerk` binary on a fresh SQLite
// file, set up through its admin commands, and Debian's chromium driven by
// playwright-core, each tablet a browser context with Chromium's virtual
// authenticator (a platform passkey with user verification and, unless a test
// says otherwise, the PRF extension).

import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, mkdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import net from "node:net";
import { chromium } from "playwright-core";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const BIN = process.env.VELDWERK_BIN || join(process.env.CARGO_TARGET_DIR || join(ROOT, "target"), "debug/veldwerk");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
export const ARTIFACTS = join(ROOT, "tests/browser/artifacts");
// Screenshots for the README are written there only when asked.
export const SCREENSHOTS = process.env.VELDWERK_SCREENSHOTS ? join(ROOT, "docs/screenshots") : ARTIFACTS;

async function freePort() {
  return await new Promise((ok, fail) => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
    server.on("error", fail);
  });
}

export class Server {
  static async start() {
    const server = new Server();
    server.dir = mkdtempSync(join(tmpdir(), "veldwerk-browser-"));
    server.port = await freePort();
    server.origin = `http://localhost:${server.port}`;
    server.db = `sqlite://${join(server.dir, "veldwerk.db")}`;
    await server.spawn();
    return server;
  }

  async spawn() {
    this.log = [];
    this.process = spawn(
      BIN,
      ["serve", "--listen", `127.0.0.1:${this.port}`, "--database-url", this.db, "--origin", this.origin,
        "--app-dir", join(ROOT, "client-wasm/dist"), "--auth-rate-per-min", "1000"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    this.process.stdout.on("data", (d) => this.log.push(String(d)));
    this.process.stderr.on("data", (d) => this.log.push(String(d)));
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      try {
        const response = await fetch(`${this.origin}/readyz`);
        if (response.ok) return;
      } catch (_) {}
      if (this.process.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`server did not start:\n${this.log.join("")}`);
  }

  /// Stops the server (SIGTERM, graceful): the tablets lose their network.
  async stop() {
    if (!this.process || this.process.exitCode !== null) return;
    const exited = new Promise((r) => this.process.once("exit", r));
    this.process.kill("SIGTERM");
    await exited;
  }

  async restart() {
    await this.stop();
    await this.spawn();
  }

  admin(...args) {
    return execFileSync(BIN, ["admin", "--database-url", this.db, ...args], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    }).trim();
  }

  organisation(name, kind = "municipality") {
    this.admin("org", "add", "--name", name, "--kind", kind);
  }

  invite(org, role) {
    return this.admin("invite", "--org", org, "--role", role, "--origin", this.origin);
  }

  async close() {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function launch() {
  return await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
}

/// A tablet: a browser context (its own storage) with a virtual platform authenticator.
export async function tablet(browser, { prf = true, viewport = { width: 800, height: 1280 } } = {}) {
  const context = await browser.newContext({ viewport, locale: "nl-NL", hasTouch: true });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      hasPrf: prf,
      automaticPresenceSimulation: true,
    },
  });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  // Failed requests while offline are expected; a panic or an uncaught error is not.
  page.on("console", (m) => {
    if (m.type() === "error" && m.text().startsWith("veldwerk:")) errors.push(m.text());
  });
  return { context, page, cdp, authenticatorId, errors };
}

/// Enrolls through an invite link, as a new worker does; ends on the caseload.
export async function enroll(t, inviteUrl, handle, device = "Tablet 1") {
  await t.page.goto(inviteUrl);
  await t.page.getByLabel("Gebruikersnaam").fill(handle);
  await t.page.getByLabel("Naam van deze tablet").fill(device);
  await t.page.getByRole("button", { name: "Passkey aanmaken" }).click();
}

/// Registers a household from the caseload, as a worker does; ends on its case screen.
export async function registerHousehold(page, label, address) {
  await page.getByRole("button", { name: "Nieuw gezin" }).click();
  await page.getByLabel("Naam van het gezin").fill(label);
  if (address) await page.getByLabel("Adres", { exact: true }).fill(address);
  await page.getByRole("button", { name: "Opslaan" }).click();
  await page.getByRole("heading", { name: label }).waitFor();
}

/// The network goes: the server stops and the tablets' browsers are offline
/// (Chromium's offline mode alone leaves open WebSockets up).
export async function networkDown(server, ...tablets) {
  await server.stop();
  for (const t of tablets) await t.context.setOffline(true);
}

/// The network returns: the same server on the same database, browsers online.
export async function networkUp(server, ...tablets) {
  await server.spawn();
  for (const t of tablets) await t.context.setOffline(false);
}

export async function pending(page) {
  return (await page.getByTestId("pending").textContent()).trim();
}

export async function waitAllSynced(page, timeout = 30_000) {
  await page.getByTestId("pending").filter({ hasText: "Alles staat op de server" }).waitFor({ timeout });
}

let axeSource = null;
/// Runs axe-core on the page; fails on serious or critical violations.
export async function axe(page, screen) {
  axeSource ??= readFileSync(join(ROOT, "tests/browser/node_modules/axe-core/axe.min.js"), "utf8");
  // Through the DevTools protocol, as the page's CSP (rightly) refuses inline scripts.
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () =>
    await window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } }),
  );
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  if (bad.length) {
    const detail = bad.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")}`);
    throw new Error(`axe on ${screen}: ${bad.length} serious/critical violations\n  ${detail.join("\n  ")}`);
  }
  return result.violations.length;
}

export function assert(condition, message) {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}

export function ensureDir(dir) {
  mkdirSync(dir, { recursive: true });
}
