// `mcp-authlink/react`: `useAgentMcpServers`, the runtime client's per-agent store read through
// React's useSyncExternalStore (React 18 and 19). SSR-safe: nothing here touches `window` at
// import or during render; on the server the hook renders the loading state.
import { useCallback, useMemo, useSyncExternalStore } from "react";

const SERVER_SNAPSHOT = Object.freeze({ servers: Object.freeze([]), loading: true, error: null });
const noop = () => () => {};

/**
 * The MCP servers attached to an agent, with this person's connection status.
 *
 * @param {import("./client.js").McpAuthlinkClient | null | undefined} client
 * @param {string | null | undefined} agentId
 * @returns {{servers: object[], loading: boolean, error: {code: string, message: string} | null,
 *   connect: (serverId: string, options?: object) => Promise<object>,
 *   disconnect: (serverId: string) => Promise<void>, refresh: () => Promise<object[]>}}
 */
export function useAgentMcpServers(client, agentId) {
  const ready = client != null && typeof agentId === "string" && agentId !== "";
  const subscribe = useMemo(() => (ready ? (onChange) => client.subscribe(agentId, onChange) : noop), [ready, client, agentId]);
  const getSnapshot = useCallback(() => (ready ? client.snapshot(agentId) : SERVER_SNAPSHOT), [ready, client, agentId]);
  const snap = useSyncExternalStore(subscribe, getSnapshot, () => SERVER_SNAPSHOT);
  // connect must stay synchronous up to window.open, so it is passed straight through.
  const connect = useCallback((serverId, options) => client.connect(agentId, serverId, options), [client, agentId]);
  const disconnect = useCallback((serverId) => client.disconnect(agentId, serverId), [client, agentId]);
  const refresh = useCallback(() => client.refresh(agentId), [client, agentId]);
  return { servers: snap.servers, loading: snap.loading, error: snap.error, connect, disconnect, refresh };
}
