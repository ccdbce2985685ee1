// `mcp-authlink/client`: the runtime client a frontend uses to show an agent's MCP servers and
// let the signed-in person connect or disconnect their own account (browser.md §2). It talks
// to the Worker's runtime plane with a session ticket; the tokens never reach the browser.
// Plain JavaScript: it imports no wasm, so a page that only needs this loads a few KB.
import { McpAuthlinkError } from "./error.js";

export { McpAuthlinkError };

/** How often the flow status is asked while a consent window is open. */
const POLL_MS = 1000;
/** After the window is seen closed, how long the flow may stay pending before it counts as cancelled. */
const GRACE_MS = 2000;
/**
 * A provider that answers `Cross-Origin-Opener-Policy` severs the opener's handle on the
 * window as soon as its page loads, and the handle then reports `closed` although the person
 * is still logging in. A window that turns "closed" this soon after the consent form was
 * submitted may be such a window, so only the Worker's flow status ends the wait for it.
 */
const SEVER_MS = 8000;
const MESSAGE_TYPE = "mcp-authlink:consent";

const MESSAGES = {
  consent_denied: "Access was denied at the provider, so the server was not connected.",
  consent_cancelled: "The consent window was closed before consent was given.",
  consent_expired: "The consent took too long and expired: connect again.",
  // Read by the person; the developer's side of it (call connect() inside the click handler,
  // or offer { mode: "redirect" }) is in the README.
  popup_blocked: "The browser blocked the sign-in window: allow pop-ups for this site, or continue in this tab.",
  aborted: "The connect was aborted.",
  not_attached: "This server is not attached to the agent.",
};

/** @param {string} code @param {string} [message] @param {object} [detail] */
function fail(code, message, detail) {
  return new McpAuthlinkError(code, message ?? MESSAGES[code] ?? code, detail);
}

const enc = encodeURIComponent;

/**
 * The runtime client.
 *
 * @example
 * const client = new McpAuthlinkClient({ baseUrl: "https://authlink.example.com", getTicket });
 * const servers = await client.listServers("agent-1");
 * await client.connect("agent-1", servers[0].id); // inside a click handler
 */
export class McpAuthlinkClient {
  /** @type {string} */ #base;
  /** @type {() => unknown} */ #getTicket;
  /** @type {typeof fetch} */ #fetch;
  /** @type {{promise: Promise<string>, value?: string} | null} */ #ticket = null;
  /** agent id -> store state */
  #agents = new Map();
  /** `${agent}\n${server}` -> the open connect */
  #connects = new Map();

  /**
   * @param {{baseUrl: string, getTicket: () => string | {ticket: string} | Promise<string | {ticket: string}>, fetch?: typeof fetch}} options
   */
  constructor(options) {
    const { baseUrl, getTicket, fetch: fetchImpl } = options ?? {};
    if (typeof baseUrl !== "string" || !URL.canParse(baseUrl)) {
      throw fail("invalid_argument", "baseUrl must be the Worker's absolute URL, e.g. https://authlink.example.com");
    }
    if (typeof getTicket !== "function") {
      throw fail("invalid_argument", "getTicket must be a function returning a session ticket (from your backend)");
    }
    if (fetchImpl !== undefined && typeof fetchImpl !== "function") throw fail("invalid_argument", "fetch must be a function");
    this.#base = baseUrl.replace(/\/+$/, "");
    this.#getTicket = getTicket;
    this.#fetch = fetchImpl ?? ((url, init) => globalThis.fetch(url, init));
  }

  /** The Worker's origin (where the consent pages and the callback live). */
  get origin() {
    return new URL(this.#base).origin;
  }

  // ---- tickets and requests ----------------------------------------------------------------

  /** The current ticket; a fresh one from getTicket when `stale` is the one just refused. */
  async #currentTicket(stale) {
    if (this.#ticket && stale !== undefined && this.#ticket.value === stale) this.#ticket = null;
    if (!this.#ticket) {
      const slot = { promise: undefined, value: undefined };
      slot.promise = Promise.resolve()
        .then(() => this.#getTicket())
        .then((t) => {
          const value = typeof t === "string" ? t.trim() : t?.ticket;
          if (typeof value !== "string" || value === "") throw new Error("it returned no ticket");
          slot.value = value;
          return value;
        })
        .catch((e) => {
          if (this.#ticket === slot) this.#ticket = null;
          throw fail("invalid_ticket", `getTicket() failed: ${e?.message ?? e}`);
        });
      this.#ticket = slot;
    }
    return this.#ticket.promise;
  }

  /**
   * One runtime-plane request, with the ticket; a 401 `invalid_ticket` gets one retry with a
   * ticket fresh from getTicket.
   */
  async #request(method, path, body, signal) {
    let refused;
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const ticket = await this.#currentTicket(refused);
      if (signal?.aborted) throw fail("aborted");
      let res;
      try {
        res = await this.#fetch(this.#base + path, {
          method,
          headers: body === undefined ? { authorization: `Bearer ${ticket}` } : { authorization: `Bearer ${ticket}`, "content-type": "application/json" },
          body: body === undefined ? undefined : JSON.stringify(body),
          credentials: "omit",
          cache: "no-store",
          signal,
        });
      } catch (e) {
        if (signal?.aborted) throw fail("aborted");
        throw fail("network", `Could not reach the mcp-authlink Worker at ${this.#base}: ${e?.message ?? e}`);
      }
      const text = await res.text().catch(() => "");
      let json;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      if (res.ok) return json;
      const first = json?.errors?.[0];
      let code = typeof first?.code === "string" ? first.code : `http_${res.status}`;
      const message = typeof first?.message === "string" ? first.message : `The Worker answered ${res.status} to ${method} ${path}.`;
      if (res.status === 401 && code === "invalid_ticket" && attempt === 0) {
        refused = ticket;
        continue;
      }
      if (res.status === 404 && code === "not_found" && path.startsWith("/service/mcp/agents/")) code = "not_attached";
      throw fail(code, message, { status: res.status });
    }
    /* c8 ignore next */
    throw fail("invalid_ticket", "The Worker refused two tickets in a row.");
  }

  // ---- the per-agent store (subscribe, snapshot) --------------------------------------------

  #state(agentId) {
    let s = this.#agents.get(agentId);
    if (!s) {
      s = { list: [], loaded: false, loading: false, error: null, connecting: new Set(), errors: new Map(), listeners: new Set(), snapshot: null, load: null };
      this.#agents.set(agentId, s);
    }
    return s;
  }

  #emit(s) {
    s.snapshot = null;
    const snap = this.#snapshotOf(s);
    for (const fn of [...s.listeners]) {
      try {
        fn(snap.servers, snap);
      } catch (e) {
        // A listener's own failure must not stop the others.
        setTimeout(() => {
          throw e;
        });
      }
    }
  }

  #snapshotOf(s) {
    if (!s.snapshot) {
      const servers = s.list.map((server) => ({
        ...server,
        connection_status: s.connecting.has(server.id) ? "connecting" : server.connection_status,
        error: s.errors.get(server.id) ?? null,
      }));
      s.snapshot = Object.freeze({ servers, loading: !s.loaded && s.error === null, error: s.error });
    }
    return s.snapshot;
  }

  /**
   * The agent's servers as last seen, with `connecting` and the last failed connect's error
   * folded in. The same object until something changes (for `useSyncExternalStore`).
   * @param {string} agentId
   */
  snapshot(agentId) {
    return this.#snapshotOf(this.#state(agentId));
  }

  /**
   * Calls `fn(servers, snapshot)` whenever the agent's servers change; loads them first if
   * nobody has yet. Returns the function that unsubscribes.
   * @param {string} agentId
   * @param {(servers: object[], snapshot: object) => void} fn
   */
  subscribe(agentId, fn) {
    const s = this.#state(agentId);
    s.listeners.add(fn);
    if (!s.loaded && !s.load) this.refresh(agentId).catch(() => {});
    return () => {
      s.listeners.delete(fn);
    };
  }

  // ---- the runtime routes -------------------------------------------------------------------

  /**
   * `GET /service/mcp/agents/{agent}/servers`: the servers attached to the agent, with this
   * person's connection status. Subscribers see the new list too.
   * @param {string} agentId
   * @param {{signal?: AbortSignal}} [options]
   */
  async listServers(agentId, { signal } = {}) {
    const s = this.#state(agentId);
    const run = this.#request("GET", `/service/mcp/agents/${enc(agentId)}/servers`, undefined, signal).then(
      (json) => {
        s.list = Array.isArray(json?.items) ? json.items : [];
        s.loaded = true;
        s.error = null;
        this.#emit(s);
        return this.#snapshotOf(s).servers;
      },
      (e) => {
        s.error = { code: e.code ?? "network", message: e.message };
        this.#emit(s);
        throw e;
      },
    );
    s.load = run;
    const clear = () => {
      if (s.load === run) s.load = null;
    };
    run.then(clear, clear);
    return run;
  }

  /** listServers for the store; resolves to the servers. */
  refresh(agentId) {
    return this.listServers(agentId);
  }

  /**
   * Connects this person's account to a server. Call it directly inside the user's gesture
   * (a click handler): the consent window is opened before anything is awaited.
   * Resolves `{status: "connected"}` (or `"ready"` when the server needs no consent, and
   * `"redirecting"` in redirect mode); rejects with an McpAuthlinkError whose `code` is one of
   * consent_denied, consent_cancelled, popup_blocked, consent_expired, invalid_ticket,
   * agent_not_in_scope, not_attached, network, aborted (or another code the Worker gave).
   * @param {string} agentId
   * @param {string} serverId
   * @param {{mode?: "popup" | "redirect", returnTo?: string, signal?: AbortSignal}} [options]
   */
  connect(agentId, serverId, options = {}) {
    const { mode = "popup", returnTo, signal } = options ?? {};
    const key = `${agentId}\n${serverId}`;
    const open = this.#connects.get(key);
    if (open) {
      let gone = false;
      try {
        gone = open.win?.closed === true;
      } catch {
        gone = false;
      }
      if (!gone) {
        open.win?.focus();
        return open.promise;
      }
      // Its window reports closed (really closed, or cut off by a provider's COOP while the
      // wait cannot tell): the person asks again, so the old wait ends as cancelled and a new
      // consent starts.
      open.supersede();
    }
    const s = this.#state(agentId);
    if (mode !== "popup" && mode !== "redirect") {
      return Promise.reject(fail("invalid_argument", 'mode must be "popup" or "redirect"'));
    }
    if (signal?.aborted) return Promise.reject(fail("aborted"));
    if (typeof window === "undefined" || typeof document === "undefined") {
      return Promise.reject(fail("invalid_argument", "connect() runs in a browser page: it opens the consent window there."));
    }
    // The wait's own signal: the caller's aborts it, and so does a newer connect that replaces it.
    const inner = new AbortController();
    signal?.addEventListener("abort", () => inner.abort(), { once: true });
    const entry = { win: null, name: "", promise: undefined, superseded: false };
    entry.supersede = () => {
      entry.superseded = true;
      inner.abort();
    };
    if (mode === "popup") {
      // Synchronously, inside the gesture: the window exists before the first await.
      entry.name = `mcp-authlink-${Math.random().toString(36).slice(2)}`;
      let win = null;
      try {
        win = window.open("about:blank", entry.name, "popup,width=520,height=720");
      } catch {
        win = null;
      }
      if (!win) {
        const e = fail("popup_blocked", undefined, { serverId });
        s.errors.set(serverId, { code: e.code, message: e.message });
        this.#emit(s);
        return Promise.reject(e);
      }
      entry.win = win;
      try {
        win.document.title = "Connecting…";
        win.document.body.textContent = "Opening the provider's sign-in page…";
      } catch {
        // Not readable (an unusual browser): the window simply stays blank until it navigates.
      }
    }
    s.connecting.add(serverId);
    s.errors.delete(serverId);
    this.#emit(s);
    const mine = () => this.#connects.get(key) === entry;
    entry.promise = this.#runConnect(agentId, serverId, mode, returnTo, inner.signal, entry).then(
      async (outcome) => {
        if (!mine()) return outcome;
        s.connecting.delete(serverId);
        this.#connects.delete(key);
        if (outcome.status === "redirecting") return outcome;
        await this.listServers(agentId).catch(() => this.#emit(s));
        return outcome;
      },
      (e) => {
        if (entry.superseded) throw fail("consent_cancelled", undefined, { serverId });
        if (!mine()) throw e;
        s.connecting.delete(serverId);
        this.#connects.delete(key);
        if (!(e instanceof McpAuthlinkError)) e = fail("network", String(e?.message ?? e));
        if (e.serverId === undefined) e.serverId = serverId;
        s.errors.set(serverId, { code: e.code, message: e.message });
        this.#emit(s);
        try {
          if (entry.win && !entry.win.closed) entry.win.close();
        } catch {
          // nothing to close
        }
        throw e;
      },
    );
    this.#connects.set(key, entry);
    return entry.promise;
  }

  async #runConnect(agentId, serverId, mode, returnTo, signal, entry) {
    const body = {};
    if (mode === "redirect") body.return_to = returnTo ?? stripHash(window.location.href);
    const answer = await this.#request("POST", `/service/mcp/agents/${enc(agentId)}/servers/${enc(serverId)}/connect`, body, signal);
    if (!answer?.requires_oauth) {
      entry.win?.close();
      return { status: "ready", server_id: serverId };
    }
    const { flow_id: flowId, consent } = answer;
    if (typeof flowId !== "string" || !consent || typeof consent.url !== "string") {
      throw fail("invalid_response", "The Worker's connect answer lacks flow_id or consent.url: is the Worker up to date?");
    }
    if (entry.win?.closed) throw fail("consent_cancelled");
    submitForm(new URL(consent.url, this.#base + "/").href, consent.method, consent.fields, mode === "popup" ? entry.name : "_self");
    if (mode === "redirect") return { status: "redirecting", server_id: serverId, flow_id: flowId };
    return this.#awaitOutcome(flowId, serverId, entry.win, signal, new URL(consent.url, this.#base + "/").origin);
  }

  /**
   * Waits for the Worker to report the flow's end. The callback page's postMessage only
   * makes the next status check happen at once; the answer always comes from the Worker.
   */
  #awaitOutcome(flowId, serverId, win, signal, consentOrigin) {
    const origins = new Set([this.origin, consentOrigin]);
    const submittedAt = Date.now();
    let lastSeenOpen = submittedAt;
    let closedAt = null;
    let severed = false;
    let wake = null;
    let timer;
    const onMessage = (event) => {
      const data = event.data;
      if (!origins.has(event.origin) || data?.type !== MESSAGE_TYPE || data.flow_id !== flowId) return;
      wake?.();
    };
    const onAbort = () => wake?.();
    window.addEventListener("message", onMessage);
    signal?.addEventListener("abort", onAbort);
    const sleep = (ms) =>
      new Promise((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, ms);
      });
    const run = async () => {
      for (;;) {
        if (signal?.aborted) throw fail("aborted");
        let status;
        try {
          status = await this.#request("GET", `/service/mcp/consent/flows/${enc(flowId)}`, undefined, signal);
        } catch (e) {
          if (e.status === 404) throw fail("consent_expired", undefined, { serverId });
          throw e;
        }
        if (status?.status === "connected") return { status: "connected", server_id: serverId, flow_id: flowId };
        if (status?.status === "error") throw flowError(status.error, serverId);
        const now = Date.now();
        if (win && !win.closed) lastSeenOpen = now;
        if (win?.closed && closedAt === null) {
          closedAt = now;
          severed = lastSeenOpen - submittedAt < SEVER_MS;
        }
        if (closedAt !== null && !severed && now - closedAt >= GRACE_MS) throw fail("consent_cancelled", undefined, { serverId });
        await sleep(closedAt !== null && !severed ? GRACE_MS / 4 : POLL_MS);
      }
    };
    return run().finally(() => {
      clearTimeout(timer);
      window.removeEventListener("message", onMessage);
      signal?.removeEventListener("abort", onAbort);
    });
  }

  /**
   * Redirect mode's second half: reads the outcome the callback put in the URL fragment,
   * removes it from the address bar, and confirms it with the Worker. Resolves null when the
   * page was not opened by a consent callback.
   * @returns {Promise<null | {status: "connected", server_id: string, flow_id?: string}>}
   */
  async completeRedirect() {
    if (typeof window === "undefined") return null;
    const outcome = readOutcome(window.location.hash);
    if (!outcome) return null;
    const rest = new URLSearchParams(window.location.hash.slice(1));
    rest.delete(FRAGMENT_KEY);
    const hash = rest.toString();
    window.history.replaceState(window.history.state, "", stripHash(window.location.href) + (hash ? `#${hash}` : ""));
    // The fragment is only a hint (anyone can link here with one): the Worker decides, and a
    // flow it does not know (another person's, or one ended over an hour ago) connected nothing.
    let status = "error";
    let error = { code: "consent_expired" };
    if (outcome.flow_id) {
      try {
        const answer = await this.#request("GET", `/service/mcp/consent/flows/${enc(outcome.flow_id)}`);
        status = answer?.status;
        error = answer?.error;
      } catch (e) {
        if (e.status !== 404) throw e;
      }
    }
    for (const [, s] of this.#agents) {
      if (outcome.server_id && s.list.some((x) => x.id === outcome.server_id)) {
        if (status === "connected") s.errors.delete(outcome.server_id);
        else s.errors.set(outcome.server_id, flowErrorValue(error));
        this.#emit(s);
      }
    }
    if (status === "connected") return { status: "connected", server_id: outcome.server_id, flow_id: outcome.flow_id };
    throw flowError(error, outcome.server_id);
  }

  /**
   * Deletes this person's connection to the server (tokens included).
   * @param {string} agentId
   * @param {string} serverId
   */
  async disconnect(agentId, serverId) {
    await this.#request("POST", `/service/mcp/agents/${enc(agentId)}/servers/${enc(serverId)}/disconnect`, {});
    const s = this.#state(agentId);
    s.errors.delete(serverId);
    await this.listServers(agentId).catch(() => this.#emit(s));
  }

  /**
   * Discovery at the Worker (`POST /service/mcp/discover`): what `discover(endpoint, {edge})`
   * falls back to when the browser cannot read an answer.
   * @param {string} endpoint
   * @param {{signal?: AbortSignal}} [options]
   */
  discoverAtEdge(endpoint, { signal } = {}) {
    return this.#request("POST", "/service/mcp/discover", { endpoint }, signal);
  }
}

function stripHash(href) {
  const i = href.indexOf("#");
  return i < 0 ? href : href.slice(0, i);
}

/** Submits `fields` as a form to `url` in the window named `target`. */
function submitForm(url, method, fields, target) {
  const form = document.createElement("form");
  form.method = method === "GET" ? "GET" : "POST";
  form.action = url;
  form.target = target;
  form.style.display = "none";
  for (const [name, value] of Object.entries(fields ?? {})) {
    const input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = String(value);
    form.append(input);
  }
  document.body.append(form);
  try {
    form.submit();
  } finally {
    form.remove();
  }
}

function flowErrorValue(error) {
  const e = flowError(error);
  return { code: e.code, message: e.message };
}

/** The Worker's flow error as the client's outcome code. */
function flowError(error, serverId) {
  const raw = typeof error === "string" ? { code: error } : (error ?? {});
  const code = String(raw.code ?? "consent_failed");
  const message = typeof raw.message === "string" && raw.message ? raw.message : undefined;
  if (code === "access_denied" || code === "consent_denied") {
    // The Worker's message already says it in words, with the provider's own words labelled.
    return fail("consent_denied", message, { serverId });
  }
  if (code === "state_expired" || code === "flow_not_found" || code === "consent_expired") return fail("consent_expired", undefined, { serverId });
  return fail("consent_failed", `The consent failed (${code})${message ? `: ${message}` : "."}`, { serverId });
}

/** The fragment's key for the outcome: `#mcp-authlink=<JSON, form-urlencoded>`. */
const FRAGMENT_KEY = "mcp-authlink";

/** The outcome the callback wrote into the fragment (`{flow_id, status, server_id, error?}`), or null. */
function readOutcome(hash) {
  if (!hash || hash.length < 2) return null;
  const text = new URLSearchParams(hash.slice(1)).get(FRAGMENT_KEY);
  if (text === null) return null;
  let v;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (v?.status !== "connected" && v?.status !== "error") return null;
  const str = (x) => (typeof x === "string" ? x : undefined);
  return { status: v.status, flow_id: str(v.flow_id), server_id: str(v.server_id), error: str(v.error) };
}
