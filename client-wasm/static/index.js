// Loads the wasm app and mounts it. Everything else is Rust (client-wasm/src/).
import init, { start } from "/pkg/veldwerk_app.js";

await init({ module_or_path: "/pkg/veldwerk_app_bg.wasm" });
start();
