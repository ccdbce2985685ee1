// The demo frontend: what a platform's page built on mcp-authlink/react looks like. An agent's
// MCP servers with this person's connection status, Connect / Disconnect, the error of a failed
// connect in words, and a "check a server" box running discovery in the browser with the Worker
// as fallback. The wasm core loads only when a check runs (dynamic import).
import { StrictMode, useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import { McpAuthlinkClient } from "mcp-authlink/client";
import { useAgentMcpServers } from "mcp-authlink/react";

const config = await fetch("/api/config").then((r) => r.json());
let ticketsFetched = 0;
const ticketListeners = new Set();

// The Worker is called with a session ticket that this demo's backend mints (a real backend
// checks who is signed in first, and keeps the admin key to itself).
const client = new McpAuthlinkClient({
  baseUrl: config.workerUrl,
  getTicket: async () => {
    const res = await fetch("/api/ticket", { method: "POST" });
    if (!res.ok) throw new Error(`the demo backend answered ${res.status}`);
    ticketsFetched += 1;
    for (const fn of ticketListeners) fn(ticketsFetched);
    return res.json();
  },
});

const STATUS_WORDS = {
  ready: "ready (no sign-in needed)",
  not_connected: "not connected",
  connecting: "connecting…",
  connected: "connected",
  needs_consent: "needs more consent",
  expired: "expired: connect again",
};

function ServerRow({ server, connect, disconnect, redirect }) {
  const [busy, setBusy] = useState(false);
  const canConnect = server.requires_user_connection && server.connection_status !== "connected";
  const onConnect = () => {
    // Called straight from the click: the popup opens inside the gesture.
    connect(server.id, redirect ? { mode: "redirect" } : undefined).catch(() => {});
  };
  const onRedirect = () => connect(server.id, { mode: "redirect" }).catch(() => {});
  const onDisconnect = () => {
    setBusy(true);
    disconnect(server.id).catch(() => {}).finally(() => setBusy(false));
  };
  return (
    <tr data-server={server.name} data-status={server.connection_status}>
      <td className="name">{server.name}</td>
      <td className="endpoint">{server.endpoint}</td>
      <td className={`status ${server.connection_status}`}>{STATUS_WORDS[server.connection_status] ?? server.connection_status}</td>
      <td>
        {canConnect && (
          // Stays enabled while connecting: a second click shows the open window again, or
          // starts afresh when that window was closed.
          <button className="connect" onClick={onConnect}>
            Connect
          </button>
        )}
        {server.connection_status === "connected" && (
          <button className="disconnect" disabled={busy} onClick={onDisconnect}>
            Disconnect
          </button>
        )}
      </td>
      <td className="error" data-code={server.error?.code ?? ""}>
        {server.error && (
          <>
            {server.error.message}
            {server.error.code === "popup_blocked" && (
              <>
                {" "}
                <button className="use-redirect" onClick={onRedirect}>
                  Continue in this tab
                </button>
              </>
            )}
          </>
        )}
      </td>
    </tr>
  );
}

function Servers({ agentId }) {
  const { servers, loading, error, connect, disconnect, refresh } = useAgentMcpServers(client, agentId);
  const [redirect, setRedirect] = useState(false);
  const [banner, setBanner] = useState(null);

  useEffect(() => {
    // Redirect mode's return: the outcome is in the fragment.
    client.completeRedirect().then(
      (done) => done && setBanner({ ok: true, serverId: done.server_id }),
      (e) => setBanner({ ok: false, text: e.message, code: e.code }),
    );
  }, []);

  useEffect(() => {
    // A page that asks for a connect by itself, outside any click: browsers block its popup.
    const name = new URLSearchParams(location.search).get("autoconnect");
    const server = name && servers.find((s) => s.name === name);
    if (server && !sessionStorage.getItem(`autoconnect:${name}`)) {
      sessionStorage.setItem(`autoconnect:${name}`, "1");
      connect(server.id).catch(() => {});
    }
  }, [servers, connect]);

  return (
    <section>
      <h2>
        MCP servers of agent <code>{agentId}</code>
      </h2>
      {banner && (
        <p id="banner" className={banner.ok ? "banner ok" : "banner bad"} data-code={banner.code ?? ""}>
          {banner.ok ? `Connected: ${servers.find((s) => s.id === banner.serverId)?.name ?? banner.serverId}.` : banner.text}
        </p>
      )}
      {loading && <p id="loading">Loading…</p>}
      {error && (
        <p id="list-error" className="banner bad" data-code={error.code}>
          Could not load the servers: {error.message}
        </p>
      )}
      <table id="servers">
        <thead>
          <tr>
            <th>server</th>
            <th>endpoint</th>
            <th>status</th>
            <th></th>
            <th>last error</th>
          </tr>
        </thead>
        <tbody>
          {servers.map((s) => (
            <ServerRow key={s.id} server={s} connect={connect} disconnect={disconnect} redirect={redirect} />
          ))}
        </tbody>
      </table>
      <p className="controls">
        <label>
          <input id="redirect-mode" type="checkbox" checked={redirect} onChange={(e) => setRedirect(e.target.checked)} /> connect in
          this tab (redirect mode) instead of a popup
        </label>{" "}
        <button id="refresh" onClick={() => refresh().catch(() => {})}>
          Refresh
        </button>
      </p>
    </section>
  );
}

function Check() {
  const [endpoint, setEndpoint] = useState("");
  const [running, setRunning] = useState(false);
  const [steps, setSteps] = useState([]);
  const [result, setResult] = useState(null);
  const [failure, setFailure] = useState(null);
  const run = async (ev) => {
    ev.preventDefault();
    setRunning(true);
    setSteps([]);
    setResult(null);
    setFailure(null);
    try {
      // The core (wasm) loads here, on first use, not with the page.
      const { discover } = await import("mcp-authlink");
      const r = await discover(endpoint.trim(), { edge: client, onStep: (e) => setSteps((list) => [...list, e]) });
      setResult(r);
    } catch (e) {
      setFailure({ code: e.code ?? "error", message: e.message });
    } finally {
      setRunning(false);
    }
  };
  const trace = result ? result.trace : steps;
  return (
    <section>
      <h2>Check a server</h2>
      <p className="hint">
        Discovery runs in this browser; when CORS hides an answer it runs again at the Worker (<code>via: "edge"</code>).
      </p>
      <form id="check" onSubmit={run}>
        <input id="endpoint" type="url" required placeholder="https://mcp.example.com/mcp" value={endpoint} onChange={(e) => setEndpoint(e.target.value)} />
        <button id="check-go" disabled={running}>
          {running ? "Checking…" : "Check"}
        </button>
      </form>
      {failure && (
        <p id="check-error" className="banner bad" data-code={failure.code}>
          {failure.message}
        </p>
      )}
      {result && (
        <div id="check-result" className="banner ok">
          <div>
            Ran in: <b id="via">{result.via}</b>
          </div>
          <div>
            Recommended auth mode: <b id="mode">{result.recommended_auth_mode ?? (result.requires_auth ? "none usable" : "no auth needed")}</b>
          </div>
          <div id="message">{result.message}</div>
        </div>
      )}
      {trace.length > 0 && (
        <table id="trace">
          <thead>
            <tr>
              <th>method</th>
              <th>url</th>
              <th>status</th>
              <th>ms</th>
              <th>outcome</th>
            </tr>
          </thead>
          <tbody>
            {trace.map((e, i) => (
              <tr key={i}>
                <td>{e.method}</td>
                <td className="url">{e.url}</td>
                <td>{e.status ?? "—"}</td>
                <td>{e.ms}</td>
                <td className={e.outcome}>{e.outcome}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function Tickets() {
  const [n, setN] = useState(ticketsFetched);
  useEffect(() => {
    ticketListeners.add(setN);
    setN(ticketsFetched);
    return () => ticketListeners.delete(setN);
  }, []);
  return (
    <footer>
      Session tickets fetched from the demo backend: <span id="tickets">{n}</span>
    </footer>
  );
}

function App() {
  return (
    <>
      <h1>mcp-authlink demo</h1>
      <p className="hint">
        Signed in as <b id="actor">{config.actorId}</b>. The Worker: <code>{config.workerUrl}</code>
      </p>
      <Servers agentId={config.agentId} />
      <Check />
      <Tickets />
    </>
  );
}

createRoot(document.getElementById("root")).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
