// Types of `mcp-authlink/client` (declared with the rest in index.d.ts).
export {
  McpAuthlinkClient,
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
