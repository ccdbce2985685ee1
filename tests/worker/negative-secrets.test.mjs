// No secret leaks: a full run through the fault proxy (confidential, public, token and client
// credentials servers; discovery, DCR, consent, refreshes, failures of the token and
// registration endpoints, rename, disconnect) records every control- and runtime-plane
// response except the access-token route's, and every line the Worker logs. None may contain a
// client secret, registration access token, auth_token, access/refresh/id token, PKCE
// verifier, authorization code, client authentication header, or the Worker's keys. The
// secrets are known from the provider side: the proxy saw every registration and token
// exchange. D1 is checked too: secrets are stored sealed only.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { ADMIN_KEY, DEV_BINDINGS } from "./harness.mjs";
import {
  CALLBACK,
  CONFIDENTIAL,
  PUBLIC,
  attach,
  callback,
  consentParams,
  registerClient,
  snapshot,
  startStack,
  ticketFor,
} from "./scenario.mjs";

let s, w;
const seen = []; // {what, text} of every recorded response
const granted = []; // access-token route answers (they hold tokens by design)
const codes = []; // authorization codes handed to the callback

before(async () => {
  // Every access-token call refreshes (leeway longer than the token lifetime).
  s = await startStack({ proxy: true, accessTokenTtl: 600, bindings: { REFRESH_LEEWAY_SECONDS: "3600" } });
  w = s.w;
  const call = w.call;
  w.call = async (path, init = {}) => {
    const r = await call(path, init);
    if (/\/access-token$/.test(path)) granted.push(r.json);
    else seen.push({ what: `${init.method ?? "GET"} ${path} -> ${r.status}`, text: `${[...r.headers].join("\n")}\n${r.text}` });
    if (path.startsWith(CALLBACK)) codes.push(new URLSearchParams(path.split("?")[1]).get("code"));
    return r;
  };
  w.admin = (path, init = {}) => w.call(path, { ...init, token: ADMIN_KEY });
});

after(() => s?.close());

const AGENT = "agent-s";
const AUTH_TOKEN = `sk-static-${randomBytes(16).toString("hex")}`;

async function create(name, auth) {
  const r = await w.admin("/ai/mcp-servers", { method: "POST", body: { name, config: { endpoint: s.endpoint, auth } } });
  assert.equal(r.status, 201, r.text);
  await attach(w, AGENT, r.json.server.id);
  return r.json.server;
}

const token = (id, actor = "sam") => w.admin(`/ai/agents/${AGENT}/mcp-servers/${id}/access-token`, { method: "POST", body: { actor_id: actor } });
const isRefresh = (req) => req.form.get("grant_type") === "refresh_token";
const isCode = (req) => req.form.get("grant_type") === "authorization_code";

test("a full run, failures included, leaks no secret into responses, logs or D1", async () => {
  const exchanges = []; // the proxy's record, kept across resets
  const keep = () => {
    exchanges.push(...s.proxy.exchanges);
    s.proxy.reset();
  };

  assert.equal((await w.admin("/ai/mcp-servers/discover", { method: "POST", body: { endpoint: s.endpoint } })).status, 200);
  const conf = await create("conf", { type: CONFIDENTIAL });
  const pub = await create("pub", { type: PUBLIC });
  const tok = await create("tok", { type: "token", auth_token: AUTH_TOKEN });
  const machine = await registerClient(s.proxy.origin, {
    grant_types: ["client_credentials"],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: "client_secret_post",
    scope: "mcp:tools",
  });
  const cc = await create("cc", {
    type: "oauth_client_credentials",
    client_id: machine.client_id,
    client_secret: machine.client_secret,
    scopes: ["mcp:tools"],
  });
  const ticket = await ticketFor(w, "sam", [AGENT]);
  const runtime = `/service/mcp/agents/${AGENT}/servers`;

  // Consent for both authorization code servers; the second in redirect mode.
  for (const [server, body] of [[conf, {}], [pub, { return_to: "http://127.0.0.1:3000/app" }]]) {
    const params = await consentParams(w, ticket, AGENT, server.id, body);
    assert.equal((await callback(w, params)).status, body.return_to ? 303 : 200);
    assert.equal((await callback(w, params)).status, 400); // replayed
  }
  assert.equal((await w.call(runtime, { token: ticket })).status, 200);

  // Refreshes (each call refreshes), client credentials, the static token.
  for (const id of [conf.id, conf.id, pub.id, cc.id, cc.id, tok.id]) assert.equal((await token(id)).status, 200);
  keep();

  // Failures: refresh 500 and invalid_grant, an exchange answered with an error echoing the
  // request, DCR refused.
  s.proxy.program({ method: "POST", path: "/token", when: isRefresh, times: 1, respond: { status: 500, body: "oops" } });
  assert.equal((await token(conf.id)).status, 502);
  s.proxy.program({
    method: "POST",
    path: "/token",
    when: isRefresh,
    times: 1,
    respond: { status: 400, json: { error: "invalid_grant", error_description: "refresh token revoked" } },
  });
  assert.equal((await token(pub.id)).status, 409);
  s.proxy.program({
    method: "POST",
    path: "/token",
    when: isCode,
    times: 1,
    respond: { status: 400, headers: { "content-type": "application/x-www-form-urlencoded" }, body: "error=invalid_request&echo=request" },
  });
  const params = await consentParams(w, ticket, AGENT, pub.id);
  assert.equal((await callback(w, params)).status, 400);
  s.proxy.program({ method: "POST", path: "/token", when: isCode, times: 1, drop: true });
  assert.equal((await callback(w, await consentParams(w, ticket, AGENT, conf.id))).status, 400);
  s.proxy.program({ method: "POST", path: "/reg", respond: { status: 400, json: { error: "invalid_client_metadata" } } });
  assert.equal((await w.admin("/ai/mcp-servers", { method: "POST", body: { name: "refused", config: { endpoint: s.endpoint, auth: { type: CONFIDENTIAL } } } })).status, 502);
  keep();
  // Healed: the confidential server refreshes again.
  assert.equal((await token(conf.id)).status, 200);
  keep();

  // Reads and updates of every kind.
  for (const server of [conf, pub, tok, cc]) assert.equal((await w.admin(`/ai/mcp-servers/${server.id}`)).status, 200);
  assert.equal((await w.admin("/ai/mcp-servers?limit=200")).status, 200);
  assert.equal((await w.admin(`/ai/agents/${AGENT}/mcp-servers`)).status, 200);
  assert.equal((await w.admin(`/ai/mcp-servers/${tok.id}`, { method: "PATCH", body: { name: "tok-renamed" } })).status, 200);
  assert.equal((await w.admin(`/ai/mcp-servers/${conf.id}`, { method: "PATCH", body: { name: "conf-renamed" } })).status, 200);
  assert.equal((await w.call(runtime, { token: ticket })).status, 200);
  assert.equal((await w.call(`${runtime}/${conf.id}/disconnect`, { method: "POST", token: ticket })).status, 204);
  keep();

  // The forbidden list, from the provider's side and from the access-token route.
  const forbidden = new Map(); // value -> what it is (first name given)
  const add = (what, value) => {
    if (typeof value === "string" && value.length >= 8 && !forbidden.has(value)) forbidden.set(value, what);
  };
  add("ADMIN_API_KEY", DEV_BINDINGS.ADMIN_API_KEY);
  add("TICKET_KEY", DEV_BINDINGS.TICKET_KEY);
  add("SEAL_KEY", DEV_BINDINGS.SEAL_KEY);
  add("SEAL_KEY (raw)", Buffer.from(DEV_BINDINGS.SEAL_KEY, "base64").toString("latin1"));
  add("auth_token", AUTH_TOKEN);
  add("client_secret", machine.client_secret);
  for (const c of codes) add("authorization code", c);
  for (const e of exchanges) {
    const json = (() => {
      try {
        return JSON.parse(e.response);
      } catch {
        return {};
      }
    })();
    if (e.path === "/reg") {
      add("client_secret", json.client_secret);
      add("registration_access_token", json.registration_access_token);
    }
    if (e.path === "/token") {
      for (const k of ["access_token", "refresh_token", "id_token"]) add(k, json[k]);
      const form = new URLSearchParams(e.body);
      for (const k of ["code_verifier", "refresh_token", "client_secret", "code"]) add(`${k} (token request)`, form.get(k));
      const basic = /^Basic (.+)$/.exec(e.headers.authorization ?? "")?.[1];
      add("client authentication header", basic);
      if (basic) add("client_secret (from Basic)", decodeURIComponent(Buffer.from(basic, "base64").toString().split(":")[1]));
    }
  }
  for (const g of granted) add("access token (access-token route)", g?.access_token);

  const kinds = new Set(forbidden.values());
  for (const kind of ["client_secret", "registration_access_token", "access_token", "refresh_token", "code_verifier (token request)", "authorization code", "auth_token"]) {
    assert.ok(kinds.has(kind), `the run produced a ${kind} to look for (${[...kinds]})`);
  }
  assert.ok(seen.length >= 25, `recorded ${seen.length} responses`);
  const logs = w.logs.join("");
  assert.match(logs, /token exchange: /, "the Worker's logs are captured (the dropped exchange is logged)");

  const leaks = [];
  for (const [value, what] of forbidden) {
    for (const r of seen) if (r.text.includes(value)) leaks.push(`${what} in the response of ${r.what}`);
    if (logs.includes(value)) leaks.push(`${what} in the Worker's logs`);
  }
  const stored = JSON.stringify(await snapshot(w));
  for (const [value, what] of forbidden) {
    if (!what.startsWith("authorization code") && stored.includes(value)) leaks.push(`${what} in D1 in plain text`);
  }
  assert.deepEqual(leaks, []);
});
