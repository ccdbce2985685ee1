// Cloudflare Workers entry: Workers cannot compile wasm from bytes at run time, so the module
// is imported statically (wrangler and miniflare load `.wasm` imports as compiled modules).
import { initSync } from "./wasm/mcp_authlink.js";
import wasmModule from "./wasm/mcp_authlink_bg.wasm";

initSync({ module: wasmModule });

export * from "./core.js";
