//! Running other programs so that every failure names the exact command line that failed.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};

/// Runs `command` with inherited stdio, echoing it first so logs show what ran.
pub fn run(command: &mut Command) -> Result<()> {
    let shown = show(command);
    eprintln!("$ {shown}");
    let status = command
        .status()
        .with_context(|| format!("could not start `{shown}`"))?;
    ensure!(status.success(), "`{shown}` failed ({status})");
    Ok(())
}

/// Runs `command` and returns its stdout; stderr goes to ours.
pub fn read(command: &mut Command) -> Result<String> {
    let shown = show(command);
    let output = command
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("could not start `{shown}`"))?;
    ensure!(
        output.status.success(),
        "`{shown}` failed ({})",
        output.status
    );
    String::from_utf8(output.stdout).with_context(|| format!("`{shown}` printed non-UTF-8 output"))
}

/// Runs a chatty `command` with its output captured, showing the output only when it fails.
pub fn run_quietly(command: &mut Command) -> Result<()> {
    let shown = show(command);
    eprintln!("$ {shown}");
    let output = command
        .output()
        .with_context(|| format!("could not start `{shown}`"))?;
    if !output.status.success() {
        bail!(
            "`{shown}` failed ({})\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// Whether we run as root, which decides between installing missing packages and asking for them.
pub fn is_root() -> Result<bool> {
    Ok(current_uid()? == 0)
}

pub fn current_uid() -> Result<u32> {
    let uid = read(Command::new("id").arg("-u"))?;
    uid.trim()
        .parse()
        .with_context(|| format!("`id -u` printed {uid:?}, not a user id"))
}

/// Whether `program` is an executable file on PATH.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| is_executable(&dir.join(program)))
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// Installs Debian packages; only call this as root.
pub fn apt_install(packages: &[&str]) -> Result<()> {
    run(Command::new("apt-get")
        .arg("update")
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    run(Command::new("apt-get")
        .args(["install", "-y"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

/// The command line as a shell would take it: explicitly set variables, program, arguments.
fn show(command: &Command) -> String {
    let env = command.get_envs().filter_map(|(key, value)| {
        value.map(|value| format!("{}={}", key.to_string_lossy(), quote(value)))
    });
    // By name: the full path of the toolchain's cargo is noise in a log.
    let program = command.get_program();
    let program = Path::new(program).file_name().unwrap_or(program);
    let words = std::iter::once(program)
        .chain(command.get_args())
        .map(quote);
    env.chain(words).collect::<Vec<_>>().join(" ")
}

fn quote(word: &OsStr) -> String {
    let word = word.to_string_lossy();
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
    if plain {
        word.into_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_a_command_line_a_shell_would_accept() {
        let mut command = Command::new("/usr/lib/postgresql/15/bin/pg_ctl");
        command
            .args(["-o", "-k /tmp/x -c listen_addresses=''", "start"])
            .env("URL", "postgres:///postgres?host=/tmp/x&user=postgres");
        assert_eq!(
            show(&command),
            r#"URL='postgres:///postgres?host=/tmp/x&user=postgres' pg_ctl -o '-k /tmp/x -c listen_addresses='\'''\''' start"#
        );
    }
}
