// A real OAuth 2.1 / OpenID Connect authorization server for end-to-end tests: oidc-provider,
// listening on a loopback address only.
//
//   const as = await startAuthServer({ accessTokenTtl: 60 });
//   as.issuer  // "http://127.0.0.1:<port>" (also as.url)
//   await as.close();
//
// What it offers (see the configuration in buildConfiguration below):
// - open dynamic client registration (RFC 7591) at /reg;
// - authorization code with PKCE, always required, S256 only (oidc-provider knows no other);
// - `iss` in every authorization response (RFC 9207; oidc-provider 9 always adds it);
// - resource indicators (RFC 8707): any http loopback URL is a resource server (or only the
//   ones given in `resource`); its access tokens are RS256 JWTs (RFC 9068, typ at+jwt) with
//   `aud` = the resource URL and scope limited to the resource's scopes (`mcp:tools`);
// - refresh tokens for every client registered with the refresh_token grant (no offline_access
//   needed), and refreshes keep the granted resource even when the request omits `resource`;
// - client credentials grant, also giving JWTs for the requested resource;
// - client authentication: client_secret_basic, client_secret_post, none;
// - oidc-provider's development login and consent pages: any login and password are accepted,
//   consent is a plain form POST. authorizeByHttp() below drives them without a browser.

import { generateKeyPairSync, randomBytes, randomUUID } from "node:crypto";
import { createServer } from "node:http";
import Provider, { errors } from "oidc-provider";
import { createMemoryStore } from "./store.mjs";

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);
const RESOURCE_SCOPES = ["mcp:tools"];

/**
 * Starts the authorization server.
 * @param {object} [options]
 * @param {number} [options.port=0] TCP port; 0 picks a free one.
 * @param {string} [options.host="127.0.0.1"] loopback address to bind and to name the issuer.
 * @param {string|string[]} [options.resource] accept only these resource indicators (exact
 *   strings); by default any http URL on a loopback host is accepted.
 * @param {number} [options.accessTokenTtl=300] access token lifetime in seconds (both grants).
 * @param {number} [options.refreshTokenTtl=86400] refresh token lifetime in seconds.
 * @param {boolean} [options.quiet=true] drop oidc-provider's development-mode warnings.
 * @param {string[]} [options.resourceScopes=["mcp:tools"]] the scopes a resource server's
 *   tokens may carry (a step-up test adds more).
 * @param {boolean} [options.refreshTokens=true] false: never issue a refresh token.
 * @param {boolean} [options.offlineAccess=true] false: `offline_access` is not a scope here
 *   (absent from `scopes_supported`).
 * @param {boolean} [options.basicRequiresClientIdInBody=false] refuse a token request that
 *   authenticates with HTTP Basic but has no `client_id` in its body (401 invalid_client), as
 *   some real providers do (the official Python MCP SDK's); client_secret_post still works.
 * @param {boolean} [options.privateKeyJwt=false] also accept private_key_jwt client
 *   authentication (RFC 7523; ES256 and RS256), listed in the metadata.
 * @param {(url: string, init: object) => Promise<Response>} [options.cimdFetch] enables client
 *   ID metadata documents (`client_id_metadata_document_supported`); the provider fetches each
 *   https `client_id` URL through this function (a test maps it to a Worker in miniflare).
 * @returns {Promise<{issuer: string, url: string, provider: Provider, close: () => Promise<void>}>}
 */
export async function startAuthServer({
  port = 0,
  host = "127.0.0.1",
  resource,
  accessTokenTtl = 300,
  refreshTokenTtl = 86400,
  quiet = true,
  resourceScopes = RESOURCE_SCOPES,
  refreshTokens = true,
  offlineAccess = true,
  cimdFetch,
  basicRequiresClientIdInBody = false,
  privateKeyJwt = false,
} = {}) {
  const hostInUrl = host.includes(":") ? `[${host}]` : host; // "::1" -> "[::1]"
  if (!LOOPBACK_HOSTS.has(hostInUrl)) {
    throw new Error(`startAuthServer: host must be a loopback address, got ${host}`);
  }
  // The issuer must name the real port, so listen first and attach the provider afterwards.
  const server = createServer();
  await listen(server, port, host);
  const { port: actualPort } = server.address();
  const issuer = `http://${hostInUrl}:${actualPort}`;

  const allowed = resource === undefined ? undefined : new Set([resource].flat());
  const configuration = buildConfiguration({
    allowed,
    accessTokenTtl,
    refreshTokenTtl,
    resourceScopes,
    refreshTokens,
    offlineAccess,
    cimdFetch,
    privateKeyJwt,
  });
  const provider = withoutDevWarnings(quiet, () => new Provider(issuer, configuration));
  // Plain http on loopback: no TLS-terminating proxy in front, so `provider.proxy` stays false;
  // cookies are then simply not marked Secure (oidc-provider follows ctx.secure).
  provider.on("server_error", (_ctx, error) => {
    console.error(`auth-server: server_error: ${error?.stack ?? error}`);
  });
  const callback = withoutDevWarnings(quiet, () => provider.callback());
  server.on("request", basicRequiresClientIdInBody ? requireClientIdWithBasic(callback) : callback);

  return {
    issuer,
    url: issuer,
    provider,
    close: () => closeServer(server),
  };
}

function buildConfiguration({
  allowed,
  accessTokenTtl,
  refreshTokenTtl,
  resourceScopes = RESOURCE_SCOPES,
  refreshTokens = true,
  offlineAccess = true,
  cimdFetch,
  privateKeyJwt = false,
}) {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const signingKey = { ...privateKey.export({ format: "jwk" }), kid: randomUUID(), alg: "RS256", use: "sig" };

  return {
    adapter: createMemoryStore(),
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomBytes(32).toString("base64url")] },
    scopes: ["openid", ...(offlineAccess ? ["offline_access"] : []), ...resourceScopes],
    ...(cimdFetch && { fetch: cimdFetch }),
    responseTypes: ["code"],
    clientAuthMethods: ["client_secret_basic", "client_secret_post", "none", ...(privateKeyJwt ? ["private_key_jwt"] : [])],
    ...(privateKeyJwt && { enabledJWA: { clientAuthSigningAlgValues: ["ES256", "RS256"] } }),
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: true },
      registration: { enabled: true, initialAccessToken: false },
      clientCredentials: { enabled: true },
      revocation: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId,
      },
      rpInitiatedLogout: { enabled: false },
      ...(cimdFetch && {
        clientIdMetadataDocument: { enabled: true, ack: "draft-02", allowFetch: async () => true },
      }),
      resourceIndicators: {
        enabled: true,
        // A single requested resource is the default for the token request.
        defaultResource: async (_ctx, _client, oneOf) => oneOf,
        // Code exchange and refresh without `resource` still yield a token for the resource
        // that was granted (oidc-provider otherwise issues an opaque userinfo token when the
        // scope holds openid).
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, indicator) => {
          if (!acceptsResource(indicator, allowed)) {
            throw new errors.InvalidTarget(`resource not served by this test server: ${indicator}`);
          }
          return {
            scope: resourceScopes.join(" "),
            audience: indicator,
            accessTokenTTL: accessTokenTtl,
            accessTokenFormat: "jwt",
            jwt: { sign: { alg: "RS256" } },
          };
        },
      },
    },
    // Refresh tokens whenever the client may use them, without the offline_access dance.
    issueRefreshToken: async (_ctx, client) => refreshTokens && client.grantTypeAllowed("refresh_token"),
    expiresWithSession: async () => false,
    ttl: {
      AccessToken: () => accessTokenTtl,
      ClientCredentials: () => accessTokenTtl,
      AuthorizationCode: () => 60,
      IdToken: () => 3600,
      RefreshToken: () => refreshTokenTtl,
      Interaction: () => 600,
      Session: () => 86400,
      Grant: () => 86400,
    },
    findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
    // Loopback test peer: let any browser origin call the token endpoint.
    clientBasedCORS: () => true,
    renderError: async (ctx, out) => {
      ctx.type = "html";
      ctx.body = `<!doctype html><title>error</title><pre>${escapeHtml(JSON.stringify(out, null, 2))}</pre>`;
    },
  };
}

// A token endpoint that wants client_id in the body even with HTTP Basic: the body is read
// here and handed on as `req.body` (oidc-provider accepts an already read body).
function requireClientIdWithBasic(handler) {
  return async (req, res) => {
    const basic = /^basic /i.test(req.headers.authorization ?? "");
    if (req.method === "POST" && new URL(req.url, "http://x").pathname === "/token" && basic) {
      const chunks = [];
      for await (const chunk of req) chunks.push(chunk);
      const text = Buffer.concat(chunks).toString("utf8");
      if (!new URLSearchParams(text).has("client_id")) {
        res.writeHead(401, { "content-type": "application/json", "www-authenticate": 'Basic realm="token"' });
        res.end(JSON.stringify({ error: "invalid_client", error_description: "client_id is required in the request body" }));
        return;
      }
      req.body = text;
    }
    return handler(req, res);
  };
}

function acceptsResource(indicator, allowed) {
  if (allowed) return allowed.has(indicator);
  const url = URL.parse(indicator);
  return url !== null && url.protocol === "http:" && LOOPBACK_HOSTS.has(url.hostname) && !url.hash;
}

// oidc-provider announces its quick-start features (devInteractions) with console.warn when the
// provider and its request handler are built. Those are expected here; anything else passes.
function withoutDevWarnings(quiet, build) {
  if (!quiet) return build();
  const original = console.warn;
  console.warn = (...args) => {
    if (String(args[0]).includes("quick start development-only feature devInteractions")) return;
    original(...args);
  };
  try {
    return build();
  } finally {
    console.warn = original;
  }
}

function listen(server, port, host) {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

/** Closes an HTTP server, including idle keep-alive connections, so the process can exit. */
export function closeServer(server) {
  return new Promise((resolve, reject) => {
    if (!server.listening) return resolve();
    server.close((error) => (error ? reject(error) : resolve()));
    server.closeAllConnections();
  });
}

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function unescapeHtml(text) {
  return text
    .replace(/&#(\d+);/g, (_, code) => String.fromCharCode(Number(code)))
    .replace(/&#x([0-9a-f]+);/gi, (_, code) => String.fromCharCode(parseInt(code, 16)))
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

/**
 * Completes an authorization request the way a person at a browser would, over plain HTTP:
 * follows the provider's redirects by hand (keeping its cookies), submits the login form with
 * `login` and any password, then the consent form, and returns the final redirect target (the
 * client's redirect_uri with code, state and iss, or with error) WITHOUT fetching it.
 * The final redirect is the first one that leaves the authorization endpoint's origin.
 * @param {string} authorizationUrl a complete authorization request URL.
 * @param {{login?: string, password?: string, maxSteps?: number}} [options]
 * @returns {Promise<string>}
 */
export async function authorizeByHttp(authorizationUrl, { login = "alice", password = "any", maxSteps = 12 } = {}) {
  const origin = new URL(authorizationUrl).origin;
  const jar = new CookieJar();
  let request = { url: new URL(authorizationUrl).href, method: "GET", body: undefined };

  for (let step = 0; step < maxSteps; step += 1) {
    const headers = { cookie: jar.headerFor(request.url) };
    if (request.body !== undefined) headers["content-type"] = "application/x-www-form-urlencoded";
    const response = await fetch(request.url, { method: request.method, body: request.body, headers, redirect: "manual" });
    jar.store(request.url, response.headers.getSetCookie());

    if (response.status >= 300 && response.status < 400) {
      await response.body?.cancel();
      const location = new URL(response.headers.get("location"), request.url);
      if (location.origin !== origin) return location.href;
      request = { url: location.href, method: "GET", body: undefined };
      continue;
    }
    const html = await response.text();
    if (response.status !== 200) {
      throw new Error(`authorizeByHttp: ${request.method} ${request.url} answered ${response.status}: ${html.slice(0, 800)}`);
    }
    const form = readForm(html, request.url);
    if (!form) throw new Error(`authorizeByHttp: no form on ${request.url}: ${html.slice(0, 800)}`);
    if (form.fields.prompt === "login") Object.assign(form.fields, { login, password });
    request = { url: form.action, method: "POST", body: new URLSearchParams(form.fields).toString() };
  }
  throw new Error(`authorizeByHttp: no redirect out of ${origin} after ${maxSteps} steps`);
}

// The first POST form of a page: its absolute action and its named inputs that carry a value.
function readForm(html, pageUrl) {
  const match = /<form\b([^>]*)>([\s\S]*?)<\/form>/i.exec(html);
  if (!match) return undefined;
  const action = attribute(match[1], "action");
  const fields = {};
  for (const [, attrs] of match[2].matchAll(/<input\b([^>]*)>/gi)) {
    const name = attribute(attrs, "name");
    if (name !== undefined) fields[name] = attribute(attrs, "value") ?? "";
  }
  return { action: new URL(action ?? pageUrl, pageUrl).href, fields };
}

function attribute(attrs, name) {
  const match = new RegExp(`\\b${name}\\s*=\\s*"([^"]*)"`, "i").exec(attrs);
  return match ? unescapeHtml(match[1]) : undefined;
}

// Just enough of RFC 6265 for one origin: name, value, Path, expiry by Max-Age/Expires.
class CookieJar {
  #cookies = new Map(); // `${path}\n${name}` -> {name, value, path}

  store(requestUrl, setCookieHeaders) {
    for (const header of setCookieHeaders) {
      const [pair, ...attrs] = header.split(";").map((part) => part.trim());
      const eq = pair.indexOf("=");
      if (eq <= 0) continue;
      const cookie = { name: pair.slice(0, eq), value: pair.slice(eq + 1), path: defaultPath(requestUrl) };
      let expired = false;
      for (const attr of attrs) {
        const [key, value = ""] = attr.split("=");
        const lower = key.toLowerCase();
        if (lower === "path" && value.startsWith("/")) cookie.path = value;
        if (lower === "max-age" && Number(value) <= 0) expired = true;
        if (lower === "expires" && Date.parse(value) <= Date.now()) expired = true;
      }
      const key = `${cookie.path}\n${cookie.name}`;
      if (expired) this.#cookies.delete(key);
      else this.#cookies.set(key, cookie);
    }
  }

  headerFor(requestUrl) {
    const { pathname } = new URL(requestUrl);
    return [...this.#cookies.values()]
      .filter(({ path }) => pathname === path || pathname.startsWith(path.endsWith("/") ? path : `${path}/`))
      .sort((a, b) => b.path.length - a.path.length)
      .map(({ name, value }) => `${name}=${value}`)
      .join("; ");
  }
}

function defaultPath(requestUrl) {
  const { pathname } = new URL(requestUrl);
  const slash = pathname.lastIndexOf("/");
  return slash <= 0 ? "/" : pathname.slice(0, slash);
}
