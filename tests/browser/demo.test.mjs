// The demo frontend in Debian's Chromium against the real Worker (workerd via miniflare) and the
// real demo peers, driven as a person would: connect through the popup (log in and consent at
// oidc-provider), disconnect; a popup opened outside a gesture is blocked and the redirect mode
// works; a provider answering Cross-Origin-Opener-Policy still completes; closing the popup is
// consent_cancelled; Cancel at the provider is consent_denied, shown in words; an expired ticket
// is renewed through getTicket; "check a server" runs in the browser or, when CORS hides the
// answer, at the Worker; no wasm is fetched until a check runs. With UPDATE_SCREENSHOTS=1 the
// screenshots are written to docs/screenshots/ (else build/screenshots/).
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { build } from "esbuild";
import { chromium } from "playwright-core";
import { root } from "../node/fixtures.mjs";
import { ADMIN_KEY } from "../worker/harness.mjs";
import { startDemoStack } from "./demo-stack.mjs";

const SHOTS = join(root, process.env.UPDATE_SCREENSHOTS ? "docs/screenshots" : "build/screenshots");
let stack, browser;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  stack = await startDemoStack();
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    // A real browser's popup blocker (Playwright turns it off by default).
    ignoreDefaultArgs: ["--disable-popup-blocking"],
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await browser?.close();
  await stack?.close();
});

/** A fresh person (own cookies) on the demo page; every request and page error recorded. */
async function openDemo(search = "") {
  const context = await browser.newContext({ viewport: { width: 980, height: 640 } });
  const page = await context.newPage();
  const requests = [];
  const errors = [];
  context.on("request", (r) => requests.push(r.url()));
  page.on("pageerror", (e) => errors.push(e));
  await page.goto(stack.demo.url + search);
  return { context, page, requests, errors };
}

const row = (page, name) => page.locator(`tr[data-server="${name}"]`);

async function waitStatus(page, name, status, timeout = 20_000) {
  await page.waitForSelector(`tr[data-server="${name}"][data-status="${status}"]`, { timeout });
}

/** oidc-provider's development login and consent pages, as a person fills them in. */
async function logInAndConsent(win, login = "alice") {
  await win.waitForSelector('input[name="login"]', { timeout: 15_000 });
  await win.fill('input[name="login"]', login);
  await win.fill('input[name="password"]', "any password");
  await win.click('button[type="submit"]');
  await win.waitForSelector('button[type="submit"]:has-text("Continue")', { timeout: 15_000 });
  await win.click('button[type="submit"]:has-text("Continue")');
}

async function shot(page, name, fullPage = false) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage });
}

async function adminTicket() {
  const r = await fetch(`${stack.front.origin}/ai/session-tickets`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ actor_id: "demo-person", agent_ids: ["demo-agent"] }),
  });
  return (await r.json()).ticket;
}

test("connect through the popup (log in and consent at the provider), see connected, disconnect; no wasm loaded", async () => {
  const { context, page, requests, errors } = await openDemo();
  try {
    await waitStatus(page, "demo-oauth", "not_connected");
    assert.equal(await row(page, "demo-token").getAttribute("data-status"), "ready");
    await shot(page, "demo-servers");
    const popupOpened = page.waitForEvent("popup");
    await row(page, "demo-oauth").locator("button.connect").click();
    const popup = await popupOpened;
    await waitStatus(page, "demo-oauth", "connecting", 5_000);
    await logInAndConsent(popup);
    await waitStatus(page, "demo-oauth", "connected");
    assert.equal(await row(page, "demo-oauth").locator("td.status").textContent(), "connected");
    assert.equal(await row(page, "demo-oauth").locator("td.error").textContent(), "");
    await shot(page, "demo-connected");
    await row(page, "demo-oauth").locator("button.disconnect").click();
    await waitStatus(page, "demo-oauth", "not_connected");
    assert.deepEqual(errors, []);
    assert.deepEqual(requests.filter((u) => u.endsWith(".wasm") || u.includes("/pkg/")), [], "the client and the hook load no wasm");
  } finally {
    await context.close();
  }
});

test("a connect outside a user gesture is popup_blocked, shown in words; the redirect mode then works", async () => {
  // The page calls connect() by itself once the list arrives: nothing is evaluated in it first
  // (Playwright's evaluations would count as a gesture).
  const { context, page, errors } = await openDemo("?autoconnect=demo-oauth");
  try {
    await page.waitForTimeout(4_000);
    const error = row(page, "demo-oauth").locator("td.error");
    assert.equal(await error.getAttribute("data-code"), "popup_blocked");
    assert.match(await error.textContent(), /^The browser blocked the sign-in window: allow pop-ups for this site, or continue in this tab\./);
    assert.equal(context.pages().length, 1, "no window opened");
    await shot(page, "demo-popup-blocked");
    await row(page, "demo-oauth").locator("button.use-redirect").click();
    await logInAndConsent(page, "bob");
    await page.waitForSelector("#banner", { timeout: 20_000 });
    assert.equal(await page.textContent("#banner"), "Connected: demo-oauth.");
    await waitStatus(page, "demo-oauth", "connected");
    assert.equal(new URL(page.url()).hash, "", "the outcome is removed from the address bar");
    await row(page, "demo-oauth").locator("button.disconnect").click();
    await waitStatus(page, "demo-oauth", "not_connected");
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test("a provider answering Cross-Origin-Opener-Policy: same-origin still completes", async () => {
  const { context, page } = await openDemo();
  try {
    await waitStatus(page, "demo-coop", "not_connected");
    const popupOpened = page.waitForEvent("popup");
    await row(page, "demo-coop").locator("button.connect").click();
    const popup = await popupOpened;
    const coop = popup.waitForResponse((r) => r.url().startsWith(stack.coopAs.issuer) && r.headers()["cross-origin-opener-policy"] === "same-origin");
    await popup.waitForSelector('input[name="login"]', { timeout: 15_000 });
    await coop;
    // The policy really severed the window from the demo page.
    assert.equal(await popup.evaluate(() => window.opener), null);
    await logInAndConsent(popup);
    await waitStatus(page, "demo-coop", "connected", 30_000);
    await row(page, "demo-coop").locator("button.disconnect").click();
    await waitStatus(page, "demo-coop", "not_connected");
  } finally {
    await context.close();
  }
});

test("the person closes the consent window: consent_cancelled within a few seconds", async () => {
  const { context, page } = await openDemo();
  try {
    await waitStatus(page, "demo-oauth", "not_connected");
    const popupOpened = page.waitForEvent("popup");
    await row(page, "demo-oauth").locator("button.connect").click();
    const popup = await popupOpened;
    await popup.waitForSelector('input[name="login"]', { timeout: 15_000 });
    // A person reads the sign-in page for a while, then closes the window (after the first
    // seconds, in which a window reported closed may only have lost its opener to COOP).
    await page.waitForTimeout(10_000);
    await popup.close();
    const closedAt = Date.now();
    await page.waitForSelector('tr[data-server="demo-oauth"] td.error[data-code="consent_cancelled"]', { timeout: 10_000 });
    assert.ok(Date.now() - closedAt < 6_000, `cancelled after ${Date.now() - closedAt} ms`);
    assert.equal(await row(page, "demo-oauth").locator("td.error").textContent(), "The consent window was closed before consent was given.");
    assert.equal(await row(page, "demo-oauth").getAttribute("data-status"), "not_connected");
  } finally {
    await context.close();
  }
});

test("Cancel at the provider (access_denied) is consent_denied, shown in words", async () => {
  const { context, page } = await openDemo();
  try {
    await waitStatus(page, "demo-oauth", "not_connected");
    const popupOpened = page.waitForEvent("popup");
    await row(page, "demo-oauth").locator("button.connect").click();
    const popup = await popupOpened;
    await popup.waitForSelector('input[name="login"]', { timeout: 15_000 });
    await popup.click("text=[ Cancel ]");
    await page.waitForSelector('tr[data-server="demo-oauth"] td.error[data-code="consent_denied"]', { timeout: 20_000 });
    const words = await row(page, "demo-oauth").locator("td.error").textContent();
    assert.match(words, /^Access was not granted \(access_denied\), so nothing was connected\./);
    assert.match(words, /End-User aborted interaction/, "the provider's own words, labelled");
    assert.equal(await row(page, "demo-oauth").getAttribute("data-status"), "not_connected");
    await shot(page, "demo-denied");
  } finally {
    await context.close();
  }
});

test("a ticket that expires mid-session is renewed through getTicket", async () => {
  stack.demo.settings.ticketTtlSeconds = 2;
  const { context, page } = await openDemo();
  try {
    await waitStatus(page, "demo-oauth", "not_connected");
    assert.equal(await page.textContent("#tickets"), "1");
    await page.waitForTimeout(3_000);
    const before = stack.demo.stats.tickets;
    const listed = page.waitForResponse((r) => r.url().endsWith("/servers") && r.status() === 200);
    await page.click("#refresh");
    await listed;
    await page.waitForFunction(() => document.getElementById("tickets").textContent === "2");
    assert.equal(stack.demo.stats.tickets, before + 1);
    assert.equal(await page.locator("#list-error").count(), 0);
    await waitStatus(page, "demo-oauth", "not_connected");
  } finally {
    stack.demo.settings.ticketTtlSeconds = 3600;
    await context.close();
  }
});

test("check a server: in the browser when CORS allows, at the Worker when it hides the answer; the wasm loads only then", async () => {
  const { context, page, requests } = await openDemo();
  try {
    await waitStatus(page, "demo-oauth", "not_connected");
    assert.equal(requests.filter((u) => u.endsWith(".wasm")).length, 0);

    await page.fill("#endpoint", stack.mcp.endpoint);
    await page.click("#check-go");
    await page.waitForSelector("#check-result", { timeout: 20_000 });
    assert.equal(await page.textContent("#via"), "browser");
    assert.ok(requests.some((u) => u.endsWith("/pkg/wasm/mcp_authlink_bg.wasm")), "the core loads on first use");
    const browserMode = await page.textContent("#mode");

    // The same server discovered by the Worker gives the same answer.
    const edge = await fetch(`${stack.front.origin}/service/mcp/discover`, {
      method: "POST",
      headers: { authorization: `Bearer ${await adminTicket()}`, "content-type": "application/json" },
      body: JSON.stringify({ endpoint: stack.mcp.endpoint }),
    }).then((r) => r.json());
    assert.equal(browserMode, edge.recommended_auth_mode);

    await page.fill("#endpoint", stack.noCors.endpoint);
    await page.click("#check-go");
    await page.waitForFunction(() => document.getElementById("via")?.textContent === "edge", null, { timeout: 20_000 });
    assert.equal(await page.textContent("#mode"), "oauth_authorization_code_confidential_pkce");
    const trace = await page.$$eval("#trace tbody tr", (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
    assert.ok(trace.some((r) => r[0] === "POST" && r[1] === stack.noCors.endpoint && r[2] === "401"), JSON.stringify(trace));
    assert.ok(trace.some((r) => r[1].startsWith(stack.as.issuer) && r[4] === "used"), JSON.stringify(trace));
    await shot(page, "demo-check-edge", true);
  } finally {
    await context.close();
  }
});

test("React 18: the hook renders the Worker's list in a real page", async () => {
  const out = await build({
    stdin: {
      contents: `
        import { createElement as h, version } from "react";
        import { createRoot } from "react-dom/client";
        import { McpAuthlinkClient } from "mcp-authlink/client";
        import { useAgentMcpServers } from "mcp-authlink/react";
        const client = new McpAuthlinkClient({ baseUrl: ${JSON.stringify(stack.front.origin)}, getTicket: () => fetch("/api/ticket", { method: "POST" }).then((r) => r.json()) });
        function App() {
          const { servers, loading } = useAgentMcpServers(client, "demo-agent");
          return h("ul", { id: "list", "data-loading": String(loading), "data-react": version }, servers.map((s) => h("li", { key: s.id }, s.name + ":" + s.connection_status)));
        }
        createRoot(document.getElementById("root")).render(h(App));`,
      resolveDir: root,
      loader: "js",
    },
    bundle: true,
    format: "esm",
    platform: "browser",
    alias: { react: "react-18", "react-dom": "react-dom-18" },
    define: { "process.env.NODE_ENV": '"production"' },
    write: false,
    logLevel: "silent",
  });
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  try {
    // Served by the demo's own server: a page Playwright fulfilled itself would count as
    // public, and Chromium then refuses its requests to the loopback Worker.
    stack.demo.extra.set("/react18.html", { type: "text/html", body: '<div id="root"></div><script type="module" src="/react18.js"></script>' });
    stack.demo.extra.set("/react18.js", { type: "text/javascript", body: out.outputFiles[0].text });
    await page.goto(`${stack.demo.origin}/react18.html`);
    await page.waitForSelector('#list[data-loading="false"] li', { timeout: 10_000 }).catch((e) => {
      throw new Error(`${e.message}\npage errors: ${errors.join("\n")}`);
    });
    assert.match(await page.getAttribute("#list", "data-react"), /^18\./);
    const items = await page.$$eval("#list li", (lis) => lis.map((li) => li.textContent).sort());
    assert.deepEqual(items, ["demo-coop:not_connected", "demo-oauth:not_connected", "demo-token:ready"]);
  } finally {
    await context.close();
  }
});

test("one connect per server at a time: a second call focuses the open window and returns the same promise; a signal aborts; a closed window is replaced", async () => {
  const out = await build({
    stdin: {
      contents: `
        import { McpAuthlinkClient } from "mcp-authlink/client";
        const client = new McpAuthlinkClient({ baseUrl: ${JSON.stringify(stack.front.origin)}, getTicket: () => fetch("/api/ticket", { method: "POST" }).then((r) => r.json()) });
        const servers = await client.listServers("demo-agent");
        const id = (name) => servers.find((s) => s.name === name).id;
        const settle = (p) => p.then((v) => ({ ok: v }), (e) => ({ code: e.code, message: e.message }));
        window.results = {};
        document.getElementById("twice").onclick = () => {
          const a = client.connect("demo-agent", id("demo-oauth"));
          const b = client.connect("demo-agent", id("demo-oauth"));
          window.results.same = a === b;
          settle(a).then((r) => (window.results.twice = r));
        };
        const controller = new AbortController();
        document.getElementById("abortable").onclick = () => {
          settle(client.connect("demo-agent", id("demo-coop"), { signal: controller.signal })).then((r) => (window.results.aborted = r));
        };
        document.getElementById("abort").onclick = () => controller.abort();
        document.getElementById("coop").onclick = () => {
          const n = (window.results.coop ??= []).length;
          window.results.coop.push(null);
          settle(client.connect("demo-agent", id("demo-coop"))).then((r) => (window.results.coop[n] = r));
        };
        document.body.dataset.ready = "1";`,
      resolveDir: root,
      loader: "js",
    },
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    write: false,
    logLevel: "silent",
  });
  stack.demo.extra.set("/twice.html", { type: "text/html", body: '<button id="twice">twice</button><button id="abortable">abortable</button><button id="abort">abort</button><button id="coop">coop</button><script type="module" src="/twice.js"></script>' });
  stack.demo.extra.set("/twice.js", { type: "text/javascript", body: out.outputFiles[0].text });
  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    await page.goto(`${stack.demo.origin}/twice.html`);
    await page.waitForSelector("body[data-ready]");
    const popupOpened = page.waitForEvent("popup");
    await page.click("#twice");
    const popup = await popupOpened;
    await logInAndConsent(popup);
    await page.waitForFunction(() => window.results.twice, null, { timeout: 20_000 });
    const results = await page.evaluate(() => window.results);
    assert.equal(results.same, true);
    assert.equal(results.twice.ok.status, "connected");
    assert.equal(context.pages().length, 1, "one window was opened, and it closed itself");

    const ticket0 = await adminTicket();
    const second = page.waitForEvent("popup");
    await page.click("#abortable");
    const win = await second;
    await win.waitForSelector('input[name="login"]', { timeout: 15_000 });
    await page.click("#abort");
    await page.waitForFunction(() => window.results.aborted, null, { timeout: 10_000 });
    assert.deepEqual(await page.evaluate(() => window.results.aborted), { code: "aborted", message: "The connect was aborted." });

    // A COOP window reports closed from the start, so closing it is not seen; the person
    // clicks Connect again: a new window opens and the first wait ends as cancelled.
    const first = page.waitForEvent("popup");
    await page.click("#coop");
    const severed = await first;
    await severed.waitForSelector('input[name="login"]', { timeout: 15_000 });
    await page.waitForTimeout(1_500);
    await severed.close();
    await page.waitForTimeout(3_000);
    assert.deepEqual(await page.evaluate(() => window.results.coop), [null], "the closed COOP window went unnoticed");
    const again = page.waitForEvent("popup");
    await page.click("#coop");
    const fresh = await again;
    await page.waitForFunction(() => window.results.coop[0] !== null, null, { timeout: 5_000 });
    assert.deepEqual(await page.evaluate(() => window.results.coop[0]), { code: "consent_cancelled", message: "The consent window was closed before consent was given." });
    await logInAndConsent(fresh, "carol");
    await page.waitForFunction(() => window.results.coop[1] !== null, null, { timeout: 20_000 });
    assert.equal((await page.evaluate(() => window.results.coop[1])).ok.status, "connected");
    await fetch(`${stack.front.origin}/service/mcp/agents/demo-agent/servers/${stack.ids["demo-coop"]}/disconnect`, { method: "POST", headers: { authorization: `Bearer ${ticket0}` } });

    const ticket = await adminTicket();
    await fetch(`${stack.front.origin}/service/mcp/agents/demo-agent/servers/${stack.ids["demo-oauth"]}/disconnect`, { method: "POST", headers: { authorization: `Bearer ${ticket}` } });
  } finally {
    await context.close();
  }
});
