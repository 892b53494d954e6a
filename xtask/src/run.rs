//! `cargo xtask run`: one command that builds everything the server serves and starts it locally.

use std::ffi::OsString;

use anyhow::Result;

use crate::{Workspace, cmd};

/// Builds and runs `veldwerk serve` on its embedded defaults (SQLite under ./data/), passing
/// `server_args` on.
pub fn run(workspace: &Workspace, server_args: &[OsString]) -> Result<()> {
    build_web_app(workspace)?;
    let mut server = workspace.cargo([
        "run",
        "--package",
        "veldwerk-server",
        "--bin",
        "veldwerk",
        "--",
        "serve",
    ]);
    server.args(server_args);
    cmd::run(&mut server)
}

/// Builds the tablet app (`client-wasm/`) before the server starts, so the server serves the
/// current build from `client-wasm/dist/` (its default `--app-dir`).
fn build_web_app(workspace: &Workspace) -> Result<()> {
    crate::app::build(workspace).map(drop)
}
