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

/// Where the tablet web app (`client-wasm/`) will be built before the server starts, so that the
/// server serves the current build. There is no web app yet, so there is nothing to build.
fn build_web_app(_workspace: &Workspace) -> Result<()> {
    Ok(())
}
