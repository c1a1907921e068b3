//! The layer rules of DESIGN.md, checked on the source text (in the spirit of rust-analyzer's
//! tidy test). Each failure names the file and the line.
//!
//! Layers, top to bottom: front ends (`cli`, `ui`) → `engine` → workflows (`audit`, `session`,
//! `databases`, later `migration`, `rotation`) → adapters (`hsm`, `oracle`, `store`, `wallet`)
//! → pure knowledge and plain types (`tde`, `model`, `inventory`, `secret`, `paths`).
//!
//! Comments, string literals and `#[cfg(test)]` items are not code for these rules: only what
//! compiles into the program counts.

use std::path::{Path, PathBuf};

const FRONT_ENDS: &[&str] = &["cli", "ui"];
const ENGINE: &[&str] = &["engine"];
const WORKFLOWS: &[&str] = &[
    "audit",
    "session",
    "databases",
    "migration",
    "rotation",
    "recover",
];
const ADAPTERS: &[&str] = &["hsm", "oracle", "store", "wallet"];
const PURE: &[&str] = &["tde", "model", "inventory", "secret", "paths"];

/// Crates only `src/store/` may name, like rusqlite: the PostgreSQL client, its TLS, its runtime.
const POSTGRES_CRATES: &[&str] = &[
    "postgres",
    "tokio_postgres",
    "postgres_native_tls",
    "native_tls",
    "tokio",
];

/// The most lines one file in `src/` may have: a longer one holds several concerns.
const MAX_LINES: usize = 700;

/// One line of a source file with comments and the insides of string and char literals blanked.
struct Line {
    number: usize,
    code: String,
    /// Inside a `#[cfg(test)]` item.
    test: bool,
}

/// Blanks comments, strings (raw ones too, over several lines) and char literals, keeping the
/// quotes, so that what remains is code.
fn code_lines(text: &str) -> Vec<String> {
    #[derive(PartialEq)]
    enum S {
        Code,
        Str,
        RawStr(usize),
        Block(usize),
    }
    let mut state = S::Code;
    let mut out = Vec::new();
    for line in text.lines() {
        let c: Vec<char> = line.chars().collect();
        let mut o = String::with_capacity(line.len());
        let mut i = 0;
        while i < c.len() {
            match state {
                S::Code => {
                    if c[i] == '/' && c.get(i + 1) == Some(&'/') {
                        break;
                    } else if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                        state = S::Block(1);
                        i += 2;
                        continue;
                    } else if c[i] == '"' {
                        o.push('"');
                        state = S::Str;
                    } else if c[i] == 'r'
                        && (c.get(i + 1) == Some(&'#') || c.get(i + 1) == Some(&'"'))
                        && (i == 0 || !(c[i - 1].is_alphanumeric() || c[i - 1] == '_'))
                    {
                        let mut j = i + 1;
                        let mut hashes = 0;
                        while c.get(j) == Some(&'#') {
                            hashes += 1;
                            j += 1;
                        }
                        if c.get(j) == Some(&'"') {
                            o.push('"');
                            state = S::RawStr(hashes);
                            i = j + 1;
                            continue;
                        }
                        o.push(c[i]);
                    } else if c[i] == '\'' {
                        // A char literal ('x', '\n', '\u{7f}'), not a lifetime ('a).
                        let end = if c.get(i + 1) == Some(&'\\') {
                            (i + 2..c.len()).find(|&j| c[j] == '\'')
                        } else if c.get(i + 2) == Some(&'\'') {
                            Some(i + 2)
                        } else {
                            None
                        };
                        match end {
                            Some(e) => {
                                o.push_str("' '");
                                i = e + 1;
                                continue;
                            }
                            None => o.push('\''),
                        }
                    } else {
                        o.push(c[i]);
                    }
                }
                S::Str => {
                    if c[i] == '\\' {
                        i += 2;
                        continue;
                    }
                    if c[i] == '"' {
                        o.push('"');
                        state = S::Code;
                    }
                }
                S::RawStr(h) => {
                    if c[i] == '"' && (1..=h).all(|k| c.get(i + k) == Some(&'#')) {
                        o.push('"');
                        state = S::Code;
                        i += h + 1;
                        continue;
                    }
                }
                S::Block(depth) => {
                    if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                        state = if depth == 1 {
                            S::Code
                        } else {
                            S::Block(depth - 1)
                        };
                        i += 2;
                        continue;
                    }
                    if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                        state = S::Block(depth + 1);
                        i += 2;
                        continue;
                    }
                }
            }
            i += 1;
        }
        out.push(o);
    }
    out
}

/// The code lines of a file, each marked when it belongs to a `#[cfg(test)]` item.
fn lines(text: &str) -> Vec<Line> {
    let code = code_lines(text);
    let mut out = Vec::with_capacity(code.len());
    let mut armed = false;
    let mut depth: i64 = 0;
    let mut test_until: Option<i64> = None;
    for (i, l) in code.into_iter().enumerate() {
        let trimmed = l.trim();
        let starts_test = trimmed.starts_with("#[cfg(test)]");
        if starts_test {
            armed = true;
        }
        let in_test = test_until.is_some() || armed;
        let opens = l.matches('{').count() as i64;
        let closes = l.matches('}').count() as i64;
        if armed && !starts_test && !trimmed.starts_with("#[") && !trimmed.is_empty() {
            // The item the attribute applies to: one line (`mod tests;`) or a braced block.
            armed = false;
            if opens > closes {
                test_until = Some(depth);
            }
        }
        depth += opens - closes;
        out.push(Line {
            number: i + 1,
            code: l,
            test: in_test,
        });
        if let Some(d) = test_until
            && depth <= d
        {
            test_until = None;
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("src/ is readable")
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

struct Source {
    /// Path relative to the crate root, `src/hsm/mod.rs`.
    rel: String,
    /// Top-level module: `hsm`, or `lib`/`main` for the crate root files.
    module: String,
    /// A file that is all test code (`tests.rs`, included by `#[cfg(test)] mod tests;`).
    test_file: bool,
    lines: Vec<Line>,
    raw_lines: usize,
}

fn sources() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    files
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(root)
                .expect("inside the crate")
                .to_string_lossy()
                .into_owned();
            let inner = rel.trim_start_matches("src/");
            let module = inner
                .split('/')
                .next()
                .unwrap_or("")
                .trim_end_matches(".rs")
                .to_owned();
            let text = std::fs::read_to_string(&p).expect("source is UTF-8");
            Source {
                test_file: p.file_name().is_some_and(|n| n == "tests.rs"),
                module,
                raw_lines: text.lines().count(),
                lines: lines(&text),
                rel,
            }
        })
        .collect()
}

/// The identifier `name` (a crate), not a longer one that starts with it (`cryptoki_version`).
fn names_crate(code: &str, name: &str) -> bool {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    code.match_indices(name).any(|(i, _)| {
        !code[..i].chars().next_back().is_some_and(ident)
            && !code[i + name.len()..].chars().next().is_some_and(ident)
    })
}

/// `crate::hsm`, `crate::hsm::…` and `use crate::{hsm, …}` name the module `hsm`.
fn names_module(code: &str, module: &str) -> bool {
    let direct = format!("crate::{module}");
    let mut found = code.match_indices(&direct).any(|(i, _)| {
        let after = code[i + direct.len()..].chars().next();
        !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
    });
    if let Some(start) = code.find("crate::{") {
        let group = &code[start + 8..];
        let group = &group[..group.find('}').unwrap_or(group.len())];
        found |= group
            .split(',')
            .any(|part| part.trim().split("::").next() == Some(module));
    }
    found
}

fn check(sources: &[Source], problems: &mut Vec<String>) {
    for s in sources {
        let is = |set: &[&str]| set.contains(&s.module.as_str());
        if s.raw_lines > MAX_LINES {
            problems.push(format!(
                "{}: {} lines (at most {MAX_LINES}): split it by concern",
                s.rel, s.raw_lines
            ));
        }
        for l in &s.lines {
            if l.test || s.test_file {
                continue;
            }
            let code = l.code.as_str();
            let at = format!("{}:{}", s.rel, l.number);
            let mut bad = |why: String| problems.push(format!("{at}: {why}: {}", code.trim()));
            if names_crate(code, "cryptoki") && s.module != "hsm" {
                bad("names cryptoki (only src/hsm/ may)".into());
            }
            if names_crate(code, "rusqlite") && s.module != "store" {
                bad("names rusqlite (only src/store/ may)".into());
            }
            // The PostgreSQL client and what it runs on: the shared store's alone (issue #21).
            for krate in POSTGRES_CRATES {
                // TLS to the log server is the SIEM transport's too (issue #22).
                let siem_tls = *krate == "native_tls" && s.rel == "src/audit/forward/transport.rs";
                if names_crate(code, krate) && s.module != "store" && !siem_tls {
                    bad(format!("names {krate} (only src/store/ may)"));
                }
            }
            let process_command = code.contains("process::Command")
                || (code.contains("std::process::{") && code.contains("Command"));
            if process_command && s.module != "oracle" {
                bad("starts processes with std::process::Command (only src/oracle/ may)".into());
            }
            if code.contains(".unwrap()") || code.contains(".expect(") {
                bad(
                    "unwrap/expect outside #[cfg(test)]: return an error that says what to do"
                        .into(),
                );
            }
            let forbidden: Vec<&str> = if is(PURE) {
                ADAPTERS
                    .iter()
                    .chain(WORKFLOWS)
                    .chain(ENGINE)
                    .chain(FRONT_ENDS)
                    .copied()
                    .collect()
            } else if is(ADAPTERS) {
                ADAPTERS
                    .iter()
                    .filter(|a| **a != s.module)
                    .chain(WORKFLOWS)
                    .chain(ENGINE)
                    .chain(FRONT_ENDS)
                    .copied()
                    .collect()
            } else if is(WORKFLOWS) {
                ENGINE.iter().chain(FRONT_ENDS).copied().collect()
            } else if is(ENGINE) {
                FRONT_ENDS.to_vec()
            } else {
                Vec::new()
            };
            for m in forbidden {
                if names_module(code, m) {
                    let layer = |x: &str| {
                        if ADAPTERS.contains(&x) {
                            "an adapter"
                        } else if WORKFLOWS.contains(&x) {
                            "a workflow"
                        } else if ENGINE.contains(&x) {
                            "the engine"
                        } else if FRONT_ENDS.contains(&x) {
                            "a front end"
                        } else {
                            "pure knowledge"
                        }
                    };
                    bad(format!(
                        "{} ({}) imports {m} ({})",
                        s.module,
                        layer(&s.module),
                        layer(m)
                    ));
                }
            }
            if is(FRONT_ENDS) || is(ENGINE) {
                let who = if is(ENGINE) {
                    "the engine"
                } else {
                    "a front end"
                };
                for token in [
                    "Hsm::load",
                    "Hsm::open",
                    "Store::open",
                    "Auditor::new",
                    "SqlPlus::new",
                    "Manual::new",
                    "Rehearsal::open",
                ] {
                    if code.contains(token) {
                        bad(format!(
                            "{who} calls {token}: a workflow does that (the CLI calls it, the engine runs it for the window)"
                        ));
                    }
                }
                for token in [".record(", ".record_batch(", ".begin(", ".finish(", ".act("] {
                    if code.contains(token) {
                        bad(format!(
                            "{who} writes an audit entry ({token}…): workflows audit what they do"
                        ));
                    }
                }
            }
        }
    }
}

#[test]
fn the_layer_rules_hold() {
    let sources = sources();
    assert!(
        sources.iter().any(|s| s.module == "hsm") && sources.len() > 20,
        "tidy did not find the sources"
    );
    let mut problems = Vec::new();
    check(&sources, &mut problems);
    assert!(
        problems.is_empty(),
        "{} layer rule violations:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// The checker itself: each rule fires on a planted violation and not on its look-alikes.
#[test]
fn the_checker_sees_what_it_should() {
    let text = r##"use crate::audit::Auditor; // crate::store in a comment
fn f() {
    let s = "crate::store::Store and cryptoki in a string";
    let r = r#"rusqlite in a raw
string"#;
    let c = '{';
    x.unwrap_or(1);
    y.unwrap();
}
#[cfg(test)]
mod tests {
    fn g() { z.unwrap(); }
}
fn h() -> Option<()> { None }
"##;
    let ls = lines(text);
    let code: Vec<&str> = ls.iter().map(|l| l.code.as_str()).collect();
    assert!(names_module(code[0], "audit"));
    assert!(!names_module(code[0], "store"), "comments are not code");
    assert!(!code[2].contains("crate::store") && !code[2].contains("cryptoki"));
    assert!(!code[3].contains("rusqlite") && !code[4].contains("string"));
    assert!(!ls[6].test && code[7].contains(".unwrap()"));
    assert!(ls[11].test, "inside the cfg(test) module");
    assert!(!ls[13].test, "after the cfg(test) module");
    assert!(names_module("use crate::{hsm::Hsm, store};", "store"));
    assert!(names_crate("use cryptoki::object::Attribute;", "cryptoki"));
    assert!(!names_crate("report.library.cryptoki_version", "cryptoki"));
    assert!(!names_module("use crate::storeroom;", "store"));
    assert!(names_crate(
        "let c = postgres::Client::connect(u, t)?;",
        "postgres"
    ));
    assert!(!names_crate("use tokio_postgres::Config;", "postgres"));
    assert!(!names_crate("Engine::PostgreSql", "postgres"));

    let planted = Source {
        rel: "src/tde/x.rs".into(),
        module: "tde".into(),
        test_file: false,
        lines: lines("use crate::hsm::Hsm;\nfn a() { b.expect(\"no\"); }\n"),
        raw_lines: 2,
    };
    let front = Source {
        rel: "src/cli/x.rs".into(),
        module: "cli".into(),
        test_file: false,
        lines: lines(
            "let h = Hsm::load(p)?;\nauditor.record(a, b, c, d, e)?;\nlet c = std::process::Command::new(\"x\");\nuse postgres_native_tls::MakeTlsConnector;\nlet r = tokio::runtime::Builder::new_current_thread();\n",
        ),
        raw_lines: 5,
    };
    let mut problems = Vec::new();
    check(&[planted, front], &mut problems);
    let all = problems.join("\n");
    for want in [
        "src/tde/x.rs:1: tde (pure knowledge) imports hsm (an adapter)",
        "src/tde/x.rs:2: unwrap/expect",
        "src/cli/x.rs:1: a front end calls Hsm::load",
        "src/cli/x.rs:2: a front end writes an audit entry",
        "src/cli/x.rs:3: starts processes",
        "src/cli/x.rs:4: names postgres_native_tls (only src/store/ may)",
        "src/cli/x.rs:5: names tokio (only src/store/ may)",
    ] {
        assert!(all.contains(want), "missing {want:?} in:\n{all}");
    }
}
