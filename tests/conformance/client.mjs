// The conformance suite's client command: an agent runtime that uses mcp-authlink's Worker,
// not an OAuth client. Run as `node client.mjs <serverUrl>` by the suite (see run.mjs).
//
// It may only: call the Worker's documented routes (discover, create, attach, ticket, runtime
// list, connect and the consent start, access-token, challenge); follow the URLs the Worker
// hands it, as a person's browser would (the consent start's 303 to the provider, the
// provider's 302 back to the callback, with the binding cookie); call the MCP server with the
// token it is given (the MCP SDK client); and hand every 401/403 of the MCP server to the
// challenge route. Every OAuth decision is the Worker's.
//
// Environment: AUTHLINK_WORKER (the Worker's origin), AUTHLINK_ADMIN_KEY, AUTHLINK_APP_ORIGIN
// (an allowed page origin, sent as the consent start's Origin), MCP_CONFORMANCE_CONTEXT (the
// suite's credentials for some scenarios).
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const WORKER = process.env.AUTHLINK_WORKER;
const ADMIN_KEY = process.env.AUTHLINK_ADMIN_KEY;
const APP_ORIGIN = process.env.AUTHLINK_APP_ORIGIN;
const AGENT = "conformance-agent";
const ACTOR = "conformance-person";
// The most 401/403 answers handed to the Worker for one MCP request: the Worker decides when
// to give up (step-up limit); this only keeps a broken Worker from looping forever.
const MAX_CHALLENGES_PER_REQUEST = 6;

const log = (...a) => console.error("[client]", ...a);

class Stop extends Error {}

/** One call to a Worker route; JSON in and out; the answer's status is checked by `ok`. */
async function worker(path, { method = "GET", body, token = ADMIN_KEY, ok = [200] } = {}) {
  const headers = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${WORKER}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    redirect: "manual",
  });
  const text = await res.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!ok.includes(res.status)) {
    const err = json?.errors?.map((e) => `${e.code}${e.path ? ` (${e.path})` : ""}: ${e.message}`).join("; ");
    throw new Stop(`${method} ${path} answered ${res.status}: ${err ?? text.slice(0, 300)}`);
  }
  return { status: res.status, json };
}

/**
 * The auth part of the server config: the type the Worker recommended, plus the credentials
 * the suite handed out (pre-registration, client credentials, a private key).
 */
function authConfig(discovery, context) {
  const type = discovery.recommended_auth_mode;
  if (!type) throw new Stop(`the Worker recommends no auth mode: ${discovery.message}`);
  const auth = { type };
  if (context.client_id) auth.client_id = context.client_id;
  if (context.client_secret) auth.client_secret = context.client_secret;
  if (context.private_key_pem) {
    auth.token_endpoint_auth_method = "private_key_jwt";
    auth.private_key = context.private_key_pem;
    auth.signing_algorithm = context.signing_algorithm;
  }
  return auth;
}

/** Follows one redirect the way a browser does (manual, to read Location and cookies). */
async function follow(url, init = {}) {
  const res = await fetch(url, { redirect: "manual", ...init });
  const location = res.headers.get("location");
  const cookies = res.headers.getSetCookie?.() ?? [];
  const text = await res.text();
  return { status: res.status, location: location && new URL(location, url).toString(), cookies, text };
}

/**
 * The person's side of a consent: connect, then the consent start (a form POST from an allowed
 * page), the provider (which approves at once in the suite), and the callback with the cookie
 * the start set.
 */
async function consent(ticket, serverId) {
  const { json: c } = await worker(`/service/mcp/agents/${AGENT}/servers/${serverId}/connect`, {
    method: "POST",
    token: ticket,
    body: {},
  });
  if (!c.requires_oauth) return;
  let providerUrl;
  let cookie = "";
  if (c.consent) {
    const start = await follow(new URL(c.consent.url, WORKER).toString(), {
      method: c.consent.method ?? "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: APP_ORIGIN },
      body: new URLSearchParams(c.consent.fields).toString(),
    });
    if (start.status !== 303 || !start.location) {
      throw new Stop(`consent start answered ${start.status}: ${start.text.slice(0, 300)}`);
    }
    providerUrl = start.location;
    cookie = start.cookies.map((s) => s.split(";")[0]).join("; ");
  } else if (c.oauth_url) {
    providerUrl = c.oauth_url; // the connect answer before the consent form (browser.md §1)
  } else {
    throw new Stop(`connect answered no way to consent: ${JSON.stringify(c)}`);
  }
  const provider = await follow(providerUrl);
  if (!provider.location) {
    throw new Stop(`the provider answered ${provider.status} without a redirect: ${provider.text.slice(0, 300)}`);
  }
  const back = await follow(provider.location, { headers: cookie ? { cookie } : {} });
  if (back.status !== 200) {
    const code = /Error code: <code>([^<]*)<\/code>/.exec(back.text)?.[1];
    throw new Stop(`the callback answered ${back.status}${code ? ` (${code})` : ""}`);
  }
}

async function main() {
  const serverUrl = process.argv[2];
  if (!serverUrl || !WORKER || !ADMIN_KEY) throw new Stop("usage: AUTHLINK_WORKER=… AUTHLINK_ADMIN_KEY=… node client.mjs <serverUrl>");
  const context = process.env.MCP_CONFORMANCE_CONTEXT ? JSON.parse(process.env.MCP_CONFORMANCE_CONTEXT) : {};
  const scenario = process.env.MCP_CONFORMANCE_SCENARIO ?? "conformance";

  // The platform adds the server: discover, then create with the recommended mode.
  const { json: discovery } = await worker("/ai/mcp-servers/discover", { method: "POST", body: { endpoint: serverUrl } });
  log("discovery:", discovery.recommended_auth_mode, "-", discovery.message);
  const config = { endpoint: serverUrl };
  if (discovery.requires_auth) config.auth = authConfig(discovery, context);
  const name = scenario.replace(/[^A-Za-z0-9-]/g, "-").slice(0, 100);
  const { json: created } = await worker("/ai/mcp-servers", { method: "POST", body: { name, config }, ok: [201] });
  const serverId = created.server.id;
  await worker(`/ai/agents/${AGENT}/mcp-servers/${serverId}/attach`, { method: "POST", ok: [204] });
  const { json: t } = await worker("/ai/session-tickets", {
    method: "POST",
    body: { actor_id: ACTOR, agent_ids: [AGENT] },
    ok: [201],
  });
  const ticket = t.ticket;

  // The person connects when the runtime list says so.
  const entry = async () => {
    const { json } = await worker(`/service/mcp/agents/${AGENT}/servers`, { token: ticket });
    return json.items.find((i) => i.id === serverId);
  };
  const first = await entry();
  if (first?.requires_user_connection && first.connection_status !== "connected") {
    await consent(ticket, serverId);
  }

  // The runtime's token, when the server needs one.
  let token = null;
  const fetchToken = async () => {
    const r = await worker(`/ai/agents/${AGENT}/mcp-servers/${serverId}/access-token`, {
      method: "POST",
      body: { actor_id: ACTOR },
      ok: [200, 409],
    });
    if (r.status === 409) {
      if (r.json?.errors?.[0]?.code === "no_auth_required") return null;
      throw new Stop(`access-token answered 409 ${r.json?.errors?.[0]?.code}: ${r.json?.errors?.[0]?.message}`);
    }
    return r.json.access_token;
  };
  token = await fetchToken();

  // Every MCP request goes through this fetch: the token is attached, and a 401/403 is handed
  // to the Worker, whose answer says what to do.
  const mcpFetch = async (url, init = {}) => {
    for (let i = 0; ; i++) {
      const headers = new Headers(init.headers);
      if (token) headers.set("authorization", `Bearer ${token}`);
      const res = await fetch(url, { ...init, headers });
      if ((res.status !== 401 && res.status !== 403) || i >= MAX_CHALLENGES_PER_REQUEST) return res;
      const challenges = [];
      res.headers.forEach((value, key) => {
        if (key === "www-authenticate") challenges.push(value);
      });
      await res.body?.cancel();
      const r = await worker(`/ai/agents/${AGENT}/mcp-servers/${serverId}/challenge`, {
        method: "POST",
        body: { actor_id: ACTOR, status: res.status, www_authenticate: challenges },
        ok: [200, 429],
      });
      if (r.status === 429) throw new Stop(`the Worker gives up on this server: ${r.json?.errors?.[0]?.message}`);
      const answer = r.json;
      log(`MCP server answered ${res.status}; the Worker says ${answer.action}`);
      if (answer.action === "retry") {
        token = answer.access_token;
      } else if (answer.action === "consent_required" || answer.action === "reconnect") {
        await consent(ticket, serverId);
        token = await fetchToken();
      } else {
        throw new Stop(`unknown challenge answer: ${JSON.stringify(answer)}`);
      }
    }
  };

  const client = new Client({ name: "mcp-authlink-conformance", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(serverUrl), { fetch: mcpFetch });
  await client.connect(transport);
  const { tools } = await client.listTools();
  log("tools:", tools.map((x) => x.name).join(", "));
  if (tools.some((x) => x.name === "test-tool")) {
    await client.callTool({ name: "test-tool", arguments: {} });
  }
  await client.close();
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`[client] gave up: ${e instanceof Stop ? e.message : e?.stack ?? e}`);
    process.exit(1);
  },
);
