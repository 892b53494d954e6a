//! `cargo xtask tidy`, also the second step of `cargo xtask test`: the architecture invariants
//! ARCHITECTURE.md states, checked against the source so that breaking one fails the build with
//! the file and line, instead of waiting for a reader to notice.
//!
//! The checks read text, not syntax: comments are left out and test-only items
//! (`#[cfg(test)]` and the modules declared under it) are recognised by their braces. That is
//! enough for code written the way `cargo fmt` writes it, and keeps the rules quick to read.

use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::Workspace;

/// Every crate of the workspace, whose Rust files the size rule covers.
const CRATES: &[&str] = &[
    "core",
    "store",
    "server",
    "client-wasm",
    "bench",
    "xtask",
    "tests/e2e",
    "fuzz",
];
/// Where sqlx must not appear: all SQL is in `store/`.
const WITHOUT_SQLX: &[&str] = &["server/src", "core/src", "client-wasm/src", "bench/src"];
/// The pure crate: no clock, no randomness.
const PURE: &str = "core/src";
/// The source folders whose every module ARCHITECTURE.md's code map names, each in its crate's
/// section: the crates' `src/`, and the fuzz crate's targets beside its `src/`.
const MAPPED: &[(&str, &str)] = &[
    ("core", "src"),
    ("store", "src"),
    ("server", "src"),
    ("client-wasm", "src"),
    ("fuzz", "src"),
    ("fuzz", "fuzz_targets"),
];
const MAP: &str = "ARCHITECTURE.md";
/// Beyond this a file is split; the largest files we keep are well under it.
const MAX_LINES: usize = 700;
/// Ways to read the time or draw randomness. `core` takes both from its caller.
const CLOCK_OR_RANDOMNESS: &[&str] = &[
    "SystemTime",
    "UNIX_EPOCH",
    "Instant::now",
    "chrono::",
    "Utc::now",
    "Local::now",
    "js_sys::Date",
    "Date::now",
    "rand::",
    "thread_rng",
    "OsRng",
    "getrandom",
    "Uuid::new_v4",
];
/// Folders that hold no source of ours.
const SKIPPED_DIRS: &[&str] = &["target", "node_modules", "dist", "pkg"];

/// One broken invariant, where it is broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file, relative to the workspace root, with `/` between folders.
    path: String,
    line: usize,
    message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.path, self.line, self.message)
    }
}

impl Problem {
    fn new(path: &str, line: usize, message: impl Into<String>) -> Self {
        Self {
            path: path.to_owned(),
            line,
            message: message.into(),
        }
    }
}

/// Checks the workspace and prints every problem, failing if there is one.
pub fn run(workspace: &Workspace) -> Result<()> {
    let problems = check(workspace.root())?;
    if problems.is_empty() {
        eprintln!("tidy: every invariant holds");
        return Ok(());
    }
    for problem in &problems {
        eprintln!("{problem}");
    }
    bail!(
        "tidy found {} problem(s); ARCHITECTURE.md's invariants say why each rule exists",
        problems.len()
    )
}

/// Every problem in the workspace at `root`, in the order of the files.
fn check(root: &Path) -> Result<Vec<Problem>> {
    let map_path = root.join(MAP);
    let map = fs::read_to_string(&map_path)
        .with_context(|| format!("could not read {}", map_path.display()))?;
    let mut files = Vec::new();
    for krate in CRATES {
        let dir = root.join(krate);
        if dir.is_dir() {
            rust_files(&dir, &mut files)?;
        }
    }
    let sources = files
        .into_iter()
        .map(|file| {
            let text = fs::read_to_string(&file)
                .with_context(|| format!("could not read {}", file.display()))?;
            let relative = file
                .strip_prefix(root)
                .expect("found under the root")
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            Ok((relative, text))
        })
        .collect::<Result<Vec<_>>>()?;

    let test_only: BTreeSet<String> = sources
        .iter()
        .flat_map(|(path, text)| test_only_children(path, text))
        .collect();
    let mut problems = Vec::new();
    for (path, text) in &sources {
        problems.extend(too_long(path, text));
        let is_test_only = test_only.contains(path);
        if WITHOUT_SQLX.iter().any(|dir| in_dir(path, dir)) && !is_test_only {
            problems.extend(uses_sqlx(path, text));
        }
        if in_dir(path, PURE) && !is_test_only {
            problems.extend(reads_clock_or_randomness(path, text));
        }
        if let Some((krate, folder)) = MAPPED
            .iter()
            .find(|(krate, folder)| in_dir(path, &format!("{krate}/{folder}")))
        {
            problems.extend(missing_from_map(path, krate, folder, &map));
        }
    }
    Ok(problems)
}

fn in_dir(path: &str, dir: &str) -> bool {
    path.strip_prefix(dir)
        .is_some_and(|rest| rest.starts_with('/'))
}

/// The `.rs` files under `dir`, sorted so the report reads in a stable order.
fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries = fs::read_dir(dir)
        .with_context(|| format!("could not list {}", dir.display()))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<std::io::Result<Vec<_>>>()?;
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if !SKIPPED_DIRS.contains(&name) && !name.starts_with('.') {
                rust_files(&path, files)?;
            }
        } else if name.ends_with(".rs") {
            files.push(path);
        }
    }
    Ok(())
}

/// A file longer than [`MAX_LINES`], named at its first line past the limit.
fn too_long(path: &str, text: &str) -> Option<Problem> {
    let lines = text.lines().count();
    (lines > MAX_LINES).then(|| {
        Problem::new(
            path,
            MAX_LINES + 1,
            format!("{lines} lines; a file holds at most {MAX_LINES}, split it along its concerns"),
        )
    })
}

/// sqlx named in code (not in a comment) outside test-only items.
fn uses_sqlx(path: &str, text: &str) -> Vec<Problem> {
    production_lines(text)
        .filter(|(_, code)| find_word(code, "sqlx").is_some())
        .map(|(line, _)| {
            Problem::new(
                path,
                line,
                "sqlx outside the store: SQL belongs in the veldwerk-store crate",
            )
        })
        .collect()
}

/// A clock read or a random draw in code outside test-only items.
fn reads_clock_or_randomness(path: &str, text: &str) -> Vec<Problem> {
    production_lines(text)
        .filter_map(|(line, code)| {
            let found = CLOCK_OR_RANDOMNESS
                .iter()
                .find(|pattern| find_word(&code, pattern).is_some())?;
            Some(Problem::new(
                path,
                line,
                format!("`{found}` in core: the time and random bytes are the caller's to pass in"),
            ))
        })
        .collect()
}

/// A module in `folder` of `krate` that ARCHITECTURE.md's section for it does not name.
fn missing_from_map(path: &str, krate: &str, folder: &str, map: &str) -> Option<Problem> {
    let in_src = path.strip_prefix(&format!("{krate}/{folder}/"))?;
    let Some(section) = map_section(map, krate) else {
        return Some(Problem::new(
            path,
            1,
            format!("{MAP} has no code map heading naming `{krate}/`"),
        ));
    };
    let (folder, file) = match in_src.rsplit_once('/') {
        Some((folder, file)) => (Some(folder), file),
        None => (None, in_src),
    };
    let named = match (folder, file) {
        // The crate root is named by the crate's own heading.
        (None, "lib.rs" | "main.rs") => true,
        // A folder's root module is named by the folder: `sync/` or, deeper, `b/` of `a/b/`.
        (Some(folder), "mod.rs" | "lib.rs" | "main.rs") => {
            let last = folder.rsplit('/').next().unwrap_or(folder);
            mentions(section, &format!("{folder}/")) || mentions(section, &format!("{last}/"))
        }
        _ => mentions(section, in_src) || mentions(section, file),
    };
    (!named).then(|| {
        Problem::new(
            path,
            1,
            format!("not in {MAP}'s code map: name `{in_src}` under its `{krate}/` heading"),
        )
    })
}

/// The text of the `###` section whose heading names `` `krate/` ``, up to the next heading.
fn map_section<'a>(map: &'a str, krate: &str) -> Option<&'a str> {
    let heading = format!("`{krate}/`");
    let mut start = None;
    let mut offset = 0;
    for line in map.split_inclusive('\n') {
        if line.starts_with('#') {
            if let Some(start) = start {
                return Some(&map[start..offset]);
            }
            if line.starts_with("### ") && line.contains(&heading) {
                start = Some(offset + line.len());
            }
        }
        offset += line.len();
    }
    start.map(|start| &map[start..])
}

/// Whether `text` names `name` as a whole: after a character that cannot be part of a file name
/// (a `/` can: `view.rs` is named in `case/view.rs`), and, for a file, before one that cannot
/// continue it. A folder (`sync/`) is named by any path inside it too.
fn mentions(text: &str, name: &str) -> bool {
    text.match_indices(name).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + name.len()..].chars().next();
        let joins_before = before.is_some_and(|c| is_name_char(c) || c == '.');
        let joins_after =
            !name.ends_with('/') && after.is_some_and(|c| is_name_char(c) || c == '/');
        !joins_before && !joins_after
    })
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Where `pattern` occurs in `code` not as part of a longer identifier.
fn find_word(code: &str, pattern: &str) -> Option<usize> {
    code.match_indices(pattern).map(|(at, _)| at).find(|&at| {
        let before = code[..at].chars().next_back();
        let after = code[at + pattern.len()..].chars().next();
        let starts_ident = pattern.starts_with(is_ident_char);
        let ends_ident = pattern.ends_with(is_ident_char);
        let joins_before = starts_ident && before.is_some_and(is_ident_char);
        let joins_after = ends_ident && after.is_some_and(is_ident_char);
        !joins_before && !joins_after
    })
}

/// The code of each line (numbered from 1) that is not part of a test-only item: comments and
/// the contents of string and character literals blanked out.
fn production_lines(text: &str) -> impl Iterator<Item = (usize, String)> + '_ {
    lines_of_code(text)
        .filter(|line| !line.test_only)
        .map(|line| (line.number, line.code))
}

struct CodeLine {
    number: usize,
    code: String,
    test_only: bool,
}

/// Every line's code, and whether it belongs to an item under `#[cfg(test)]`: from the attribute
/// to the item's closing brace (or its `;`, for `mod tests;` or a `use`).
fn lines_of_code(text: &str) -> impl Iterator<Item = CodeLine> + '_ {
    let mut carry = Carry::Code;
    let mut depth = 0usize;
    // The depth at which a test-only item began, while inside one.
    let mut test_item: Option<usize> = None;
    let mut opened = false;
    text.lines().enumerate().map(move |(index, line)| {
        let code = strip(line, &mut carry);
        let trimmed = code.trim();
        if test_item.is_none() && trimmed.starts_with("#[cfg(test)]") {
            test_item = Some(depth);
            opened = false;
        }
        let test_only = test_item.is_some();
        for c in code.chars() {
            match c {
                '{' => {
                    depth += 1;
                    opened = true;
                }
                '}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        if let Some(start) = test_item {
            let ended_without_body = !opened && trimmed.ends_with(';');
            if (opened && depth <= start) || ended_without_body {
                test_item = None;
            }
        }
        CodeLine {
            number: index + 1,
            code,
            test_only,
        }
    })
}

/// Where a line starts: in code, or inside a comment or literal that an earlier line opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Carry {
    #[default]
    Code,
    BlockComment,
    Str,
    /// A raw string, closed by `"` and this many `#`.
    RawStr(usize),
}

/// One line without its comments, with the contents of string and character literals blanked,
/// so that neither a word in a comment nor a brace in a format string counts as code.
fn strip(line: &str, carry: &mut Carry) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut code = String::with_capacity(line.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match *carry {
            Carry::BlockComment => {
                if c == '*' && next == Some('/') {
                    *carry = Carry::Code;
                    i += 1;
                }
            }
            Carry::Str => match c {
                '\\' => i += 1,
                '"' => {
                    *carry = Carry::Code;
                    code.push('"');
                }
                _ => {}
            },
            Carry::RawStr(hashes) => {
                if c == '"' && chars[i + 1..].iter().take_while(|&&h| h == '#').count() >= hashes {
                    *carry = Carry::Code;
                    code.push('"');
                    i += hashes;
                }
            }
            Carry::Code => match (c, next) {
                ('/', Some('/')) => break,
                ('/', Some('*')) => {
                    *carry = Carry::BlockComment;
                    i += 1;
                }
                ('"', _) => {
                    *carry = Carry::Str;
                    code.push('"');
                }
                ('r', Some('"' | '#')) if !code.chars().next_back().is_some_and(is_ident_char) => {
                    let hashes = chars[i + 1..].iter().take_while(|&&h| h == '#').count();
                    if chars.get(i + 1 + hashes) == Some(&'"') {
                        *carry = Carry::RawStr(hashes);
                        code.push('"');
                        i += 1 + hashes;
                    } else {
                        code.push(c);
                    }
                }
                // A character literal ('{', '\n', '\''); a lifetime has no closing quote.
                ('\'', Some('\\')) => {
                    let close = chars[i + 3..].iter().position(|&c| c == '\'');
                    i += close.map_or(0, |at| at + 3);
                    code.push_str("' '");
                }
                ('\'', Some(_)) if chars.get(i + 2) == Some(&'\'') => {
                    i += 2;
                    code.push_str("' '");
                }
                _ => code.push(c),
            },
        }
        i += 1;
    }
    code
}

/// The files of the modules `path` declares under `#[cfg(test)]` as `mod name;`: they are
/// test-only as a whole.
fn test_only_children(path: &str, text: &str) -> Vec<String> {
    let (dir, stem) = match path.rsplit_once('/') {
        Some((dir, file)) => (dir, file.trim_end_matches(".rs")),
        None => ("", path.trim_end_matches(".rs")),
    };
    // `lib.rs`, `main.rs` and `mod.rs` declare modules beside them; `a.rs` declares them in `a/`.
    let base = if matches!(stem, "lib" | "main" | "mod") {
        dir.to_owned()
    } else {
        format!("{dir}/{stem}")
    };
    lines_of_code(text)
        .filter(|line| line.test_only)
        .filter_map(|line| {
            let declaration = line.code.trim().trim_start_matches("#[cfg(test)]").trim();
            let declaration = declaration
                .strip_prefix("pub(crate) ")
                .or_else(|| declaration.strip_prefix("pub(super) "))
                .or_else(|| declaration.strip_prefix("pub "))
                .unwrap_or(declaration);
            let name = declaration.strip_prefix("mod ")?.strip_suffix(';')?.trim();
            Some(name.to_owned())
        })
        .flat_map(|name| [format!("{base}/{name}.rs"), format!("{base}/{name}/mod.rs")])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_over_the_limit_is_named_at_its_first_line_past_it() {
        let fine = "x\n".repeat(MAX_LINES);
        assert_eq!(too_long("core/src/a.rs", &fine), None);
        let long = "x\n".repeat(MAX_LINES + 5);
        let problem = too_long("core/src/a.rs", &long).unwrap();
        assert_eq!(problem.line, MAX_LINES + 1);
        assert!(
            problem
                .to_string()
                .starts_with("core/src/a.rs:701: 705 lines")
        );
    }

    #[test]
    fn sqlx_in_code_is_found_but_not_in_comments_or_tests() {
        let text = "\
//! Handlers never see sqlx.
use veldwerk_store::Store; // not sqlx
fn f() -> sqlx::Result<()> {
    let s = \"sqlx in a string is still named\";
}
let mysqlx = 1;
#[cfg(test)]
mod tests {
    use sqlx::Row;
}
";
        let lines: Vec<usize> = uses_sqlx("server/src/a.rs", text)
            .iter()
            .map(|p| p.line)
            .collect();
        // The string's contents are blanked: only the path in code counts.
        assert_eq!(lines, vec![3]);
    }

    #[test]
    fn a_clock_or_randomness_in_core_is_found_outside_test_modules() {
        let text = "\
use std::time::SystemTime;
fn now() -> u64 { let _ = std::time::Instant::now(); 0 }
fn id() -> Uuid { Uuid::new_v4() }
fn seed() { let mut rng = rand::rng(); getrandom::fill(&mut b); }
fn operand() { brand::x(); let y = format!(\"{} SystemTime\", 1); }
/// Reads no SystemTime: the caller passes `now`.
fn pure(now: i64) {}
#[cfg(test)]
mod tests {
    fn helper() { let _ = SystemTime::now(); }
    #[test]
    fn t() { let c = '{'; js_sys::Date::now(); }
}
fn after() { chrono::Utc::now(); }
";
        let found: Vec<(usize, String)> = reads_clock_or_randomness("core/src/a.rs", text)
            .into_iter()
            .map(|p| (p.line, p.message))
            .collect();
        let lines: Vec<usize> = found.iter().map(|(line, _)| *line).collect();
        assert_eq!(lines, vec![1, 2, 3, 4, 14], "{found:?}");
        assert!(found[2].1.contains("`Uuid::new_v4`"));
    }

    #[test]
    fn a_test_only_function_or_declared_module_is_skipped() {
        let text = "\
#[cfg(test)]
fn helper() -> u64 {
    SystemTime::now()
}
#[cfg(test)]
mod fixtures;
fn late() { SystemTime::now(); }
";
        let lines: Vec<usize> = reads_clock_or_randomness("core/src/a.rs", text)
            .iter()
            .map(|p| p.line)
            .collect();
        assert_eq!(lines, vec![7]);
        assert_eq!(
            test_only_children("core/src/case.rs", text),
            vec!["core/src/case/fixtures.rs", "core/src/case/fixtures/mod.rs"]
        );
        assert_eq!(
            test_only_children(
                "server/src/sync/mod.rs",
                "#[cfg(test)]\nmod registry_tests;\n"
            ),
            vec![
                "server/src/sync/registry_tests.rs",
                "server/src/sync/registry_tests/mod.rs"
            ]
        );
    }

    const MAP_TEXT: &str = "\
## Code map

### `core/` (veldwerk-core)

- `api/` — the wire: `cases.rs`, `identity.rs`.
- `case.rs` — the record; `case/view.rs` — the view.

### `server/` (veldwerk-server)

- `sync/mod.rs` — the socket; `sync/fanout.rs` — other nodes.
- `showcase.rs` — not core's.

### `fuzz/` (veldwerk-fuzz)

- `fuzz_targets/protocol.rs` — frames.

## Invariants
";

    fn missing(path: &str, krate: &str) -> bool {
        missing_from_map(path, krate, "src", MAP_TEXT).is_some()
    }

    #[test]
    fn every_module_must_be_named_in_its_crates_section_of_the_code_map() {
        assert!(!missing("core/src/lib.rs", "core"));
        assert!(!missing("core/src/api/mod.rs", "core"));
        assert!(!missing("core/src/api/cases.rs", "core"));
        assert!(!missing("core/src/case.rs", "core"));
        assert!(!missing("core/src/case/view.rs", "core"));
        assert!(!missing("server/src/sync/fanout.rs", "server"));
        assert!(!missing("server/src/sync/mod.rs", "server"));
        // Named, but in another crate's section.
        assert!(missing("core/src/showcase.rs", "core"));
        // Part of a longer name only.
        assert!(missing("core/src/case/iew.rs", "core"));
        assert!(missing("core/src/judge.rs", "core"));
        assert!(missing("core/src/case/review.rs", "core"));
        assert!(missing("server/src/sync/outbox.rs", "server"));
        let problem = missing_from_map("core/src/judge.rs", "core", "src", MAP_TEXT).unwrap();
        assert_eq!(problem.line, 1);
        assert!(problem.message.contains("`judge.rs`"), "{problem}");
        // A crate without a section is reported, not skipped.
        assert!(missing("store/src/lib.rs", "store"));
        // Folders other than `src/`, as the fuzz crate's targets.
        let target = |path| missing_from_map(path, "fuzz", "fuzz_targets", MAP_TEXT).is_some();
        assert!(!target("fuzz/fuzz_targets/protocol.rs"));
        assert!(target("fuzz/fuzz_targets/record_edits.rs"));
    }

    #[test]
    fn a_section_ends_at_the_next_heading() {
        let core = map_section(MAP_TEXT, "core").unwrap();
        assert!(core.contains("case/view.rs") && !core.contains("fanout"));
        let server = map_section(MAP_TEXT, "server").unwrap();
        assert!(server.contains("fanout") && !server.contains("Invariants"));
        assert_eq!(map_section(MAP_TEXT, "bench"), None);
    }

    #[test]
    fn comments_and_literals_are_not_code() {
        let mut carry = Carry::Code;
        let mut strip = |line| strip(line, &mut carry);
        assert_eq!(strip("let a = \"{x}\"; // sqlx"), "let a = \"\"; ");
        assert_eq!(
            strip("let c = '{'; let d = '\\''; fn f<'a>()"),
            "let c = ' '; let d = ' '; fn f<'a>()"
        );
        assert_eq!(strip("a /* sqlx"), "a ");
        assert_eq!(strip("still */ b"), " b");
        assert_eq!(strip("let j = r#\"{\"sqlx\": 1}\"#; }"), "let j = \"\"; }");
        assert_eq!(strip("let t = \"two {"), "let t = \"");
        assert_eq!(strip("lines\" { x"), "\" { x");
        assert_eq!(
            strip("let raw = r\"x\"; let var = 1;"),
            "let raw = \"\"; let var = 1;"
        );
    }
}
