// Types of `mcp-authlink/client` (browser.md §2); the shapes it shares with the rest of the
// package are declared in index.d.ts.
import type {
  AgentServersSnapshot,
  ConnectOptions,
  ConnectOutcome,
  DiscoveryResult,
  McpAuthlinkClientOptions,
  RuntimeServer,
} from "./index.js";

export {
  McpAuthlinkError,
  type AgentServersSnapshot,
  type ClientErrorCode,
  type ConnectOptions,
  type ConnectOutcome,
  type ConnectionStatus,
  type ErrorCode,
  type McpAuthlinkClientOptions,
  type RuntimeServer,
  type TicketSource,
} from "./index.js";

export class McpAuthlinkClient {
  constructor(options: McpAuthlinkClientOptions);
  /** The Worker's origin. */
  readonly origin: string;
  listServers(agentId: string, options?: { signal?: AbortSignal }): Promise<RuntimeServer[]>;
  refresh(agentId: string): Promise<RuntimeServer[]>;
  /** Call it synchronously inside a click handler (the popup opens before any await). */
  connect(agentId: string, serverId: string, options?: ConnectOptions): Promise<ConnectOutcome>;
  /** Redirect mode: reads and removes the outcome in the URL fragment; null when there is none. */
  completeRedirect(): Promise<{ status: "connected"; server_id: string; flow_id?: string } | null>;
  disconnect(agentId: string, serverId: string): Promise<void>;
  subscribe(agentId: string, listener: (servers: readonly RuntimeServer[], snapshot: AgentServersSnapshot) => void): () => void;
  /** The same object until something changes. */
  snapshot(agentId: string): AgentServersSnapshot;
  /** `POST /service/mcp/discover`: discovery run by the Worker. */
  discoverAtEdge(endpoint: string, options?: { signal?: AbortSignal }): Promise<DiscoveryResult>;
}
