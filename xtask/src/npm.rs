//! `npm ci` for the folders with their own npm lockfile (interop and browser tests, the bench
//! peer, the tablet app's build tools), skipped when node_modules already matches the lockfile;
//! and FNV-1a, the stable hash behind that stamp, which the app build also uses to name the
//! service worker's cache. Both the app build and the test runner need them.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, ensure};

use crate::cmd;

/// Written into node_modules after `npm ci`, so an unchanged lockfile skips the reinstall.
const LOCK_STAMP: &str = "node_modules/.veldwerk-lock-hash";

/// `npm ci` in `dir`, unless its node_modules already matches the lockfile.
pub fn npm_ci(dir: &Path) -> Result<()> {
    let stamp = lock_stamp(dir)?;
    let stamp_path = dir.join(LOCK_STAMP);
    if fs::read_to_string(&stamp_path).is_ok_and(|installed| installed == stamp) {
        eprintln!("node_modules already matches the lockfile; not running npm ci");
        return Ok(());
    }
    ensure_npm()?;
    cmd::run(Command::new("npm").arg("ci").current_dir(dir))?;
    // npm ci makes no node_modules when there is nothing to install.
    fs::create_dir_all(dir.join("node_modules"))
        .and_then(|()| fs::write(&stamp_path, stamp))
        .with_context(|| format!("could not write {}", stamp_path.display()))
}

/// Hashes of the files `npm ci` installs from: a change to either means installing again.
fn lock_stamp(dir: &Path) -> Result<String> {
    let mut stamp = String::new();
    for name in ["package.json", "package-lock.json"] {
        let path = dir.join(name);
        let bytes =
            fs::read(&path).with_context(|| format!("could not read {}", path.display()))?;
        writeln!(stamp, "{name} fnv1a64:{:016x}", fnv1a64(&bytes))?;
    }
    Ok(stamp)
}

/// FNV-1a: stable across Rust versions (unlike `DefaultHasher`), and plenty to notice a change.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn ensure_npm() -> Result<()> {
    if cmd::on_path("npm") {
        return Ok(());
    }
    ensure!(
        cmd::is_root()?,
        "npm is missing: install Node.js and npm (Debian: `apt-get install nodejs npm`)"
    );
    cmd::apt_install(&["nodejs", "npm"])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_the_reference_values() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
