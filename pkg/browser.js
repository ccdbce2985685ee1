// Browser and bundler entry: fetches the wasm file relative to this module (bundlers see the
// `new URL(..., import.meta.url)` and ship the file) and instantiates it with top-level await.
import init from "./wasm/mcp_authlink.js";

await init({ module_or_path: new URL("./wasm/mcp_authlink_bg.wasm", import.meta.url) });

export * from "./core.js";
