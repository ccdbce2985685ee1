// Types of `mcp-authlink/react` (browser.md §3). React is an optional peer dependency.
import type { ConnectOptions, ConnectOutcome, ErrorCode, RuntimeServer } from "./index.js";
import type { McpAuthlinkClient } from "./client.js";

export interface AgentMcpServers {
  servers: readonly RuntimeServer[];
  loading: boolean;
  error: { code: ErrorCode; message: string } | null;
  connect(serverId: string, options?: ConnectOptions): Promise<ConnectOutcome>;
  disconnect(serverId: string): Promise<void>;
  refresh(): Promise<RuntimeServer[]>;
}

export function useAgentMcpServers(client: McpAuthlinkClient | null | undefined, agentId: string | null | undefined): AgentMcpServers;
