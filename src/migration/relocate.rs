//! A database that found its keystore through sqlnet.ora's ENCRYPTION_WALLET_LOCATION (the
//! way before 19c) and moves to WALLET_ROOT: the keystore files must be copied into
//! `<WALLET_ROOT>/tde` and checked (same bytes, same mode, same owner) before
//! TDE_CONFIGURATION=FILE takes effect, or Oracle finds no keystore after the restart
//! (V$ENCRYPTION_WALLET NOT_AVAILABLE) and the encrypted data cannot be read
//! (reference/oracle-tde.md, "Statements"). tdekey shows the host commands, then compares the
//! two directories itself where it reaches the host, or reads the pasted output of a command.

use super::host_output::{PasteError, lines};
use crate::tde::layout;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// One keystore file as a directory listing shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileFacts {
    pub sha256: String,
    /// Octal permission bits, e.g. `600`.
    pub mode: String,
    /// `owner:group`.
    pub owner: String,
}

/// The keystore files (`ewallet.p12`, `cwallet.sso`, Oracle's `ewallet_*.p12` backups) of the
/// old directory and of `<WALLET_ROOT>/tde`, by file name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Listing {
    pub from: BTreeMap<String, FileFacts>,
    pub to: BTreeMap<String, FileFacts>,
}

/// Whether a file name is one of the keystore's.
pub fn is_keystore_file(name: &str) -> bool {
    name == layout::EWALLET
        || name == layout::CWALLET
        || (name.starts_with("ewallet_") && name.ends_with(".p12"))
}

/// The commands that copy the keystore from `from` into `to` (`<WALLET_ROOT>/tde`) keeping
/// modes and owners (`cp -p`, run as the Oracle software owner or root).
pub fn copy_commands(from: &str, to: &str) -> Vec<String> {
    let from = from.trim_end_matches('/');
    let to = to.trim_end_matches('/');
    vec![
        format!("mkdir -p '{to}' && chmod 700 '{to}'"),
        format!(
            "for f in '{from}'/ewallet.p12 '{from}'/cwallet.sso '{from}'/ewallet_*.p12; do [ -f \"$f\" ] && cp -p \"$f\" '{to}'/; done"
        ),
        format!("chown --reference='{from}' '{to}'"),
    ]
}

/// The command that lists both directories for the check, ending with END.
pub fn check_command(from: &str, to: &str) -> String {
    let from = from.trim_end_matches('/');
    let to = to.trim_end_matches('/');
    format!(
        "for d in FROM:'{from}' TO:'{to}'; do for f in \"${{d#*:}}\"/ewallet.p12 \"${{d#*:}}\"/cwallet.sso \"${{d#*:}}\"/ewallet_*.p12; do [ -f \"$f\" ] && echo \"${{d%%:*}} $(sha256sum \"$f\" | cut -d' ' -f1) $(stat -c '%a %U:%G' \"$f\") $(basename \"$f\")\"; done; done; echo END"
    )
}

/// Reads what [`check_command`] printed.
pub fn parse_check(text: &str) -> Result<Listing, PasteError> {
    let mut listing = Listing::default();
    for l in lines(text)? {
        let parts: Vec<&str> = l.split_whitespace().collect();
        match parts.as_slice() {
            [side @ ("FROM" | "TO"), sha, mode, owner, name]
                if sha.len() == 64
                    && sha.bytes().all(|b| b.is_ascii_hexdigit())
                    && mode.bytes().all(|b| (b'0'..=b'7').contains(&b))
                    && is_keystore_file(name) =>
            {
                let facts = FileFacts {
                    sha256: sha.to_ascii_lowercase(),
                    mode: (*mode).to_owned(),
                    owner: (*owner).to_owned(),
                };
                let map = if *side == "FROM" {
                    &mut listing.from
                } else {
                    &mut listing.to
                };
                map.insert((*name).to_owned(), facts);
            }
            _ if l.contains("for d in ") || l.contains("No such file") => {}
            _ => {
                return Err(PasteError::Foreign(format!(
                    "the line {l:?} is not one it prints"
                )));
            }
        }
    }
    Ok(listing)
}

/// Reads both directories on a host tdekey reaches (`from` and `to` as tdekey reaches them).
pub fn list_local(from: &Path, to: &Path) -> Listing {
    let read = |dir: &Path| {
        let mut out = BTreeMap::new();
        let Ok(entries) = std::fs::read_dir(dir) else {
            return out;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !is_keystore_file(&name) {
                continue;
            }
            let (Ok(meta), Ok(bytes)) = (e.metadata(), std::fs::read(e.path())) else {
                continue;
            };
            let mode =
                crate::paths::mode_of(&meta).map_or("?".into(), |m| format!("{:o}", m & 0o777));
            let owner = crate::paths::owner_of(&meta).map_or("?".into(), |(u, g)| {
                format!(
                    "{}:{}",
                    crate::paths::user_name(u),
                    crate::paths::group_name(g)
                )
            });
            out.insert(
                name,
                FileFacts {
                    sha256: crate::databases::sha256_hex(&bytes),
                    mode,
                    owner,
                },
            );
        }
        out
    };
    Listing {
        from: read(from),
        to: read(to),
    }
}

/// What differs between the two directories: one sentence per file, empty when every keystore
/// file of the old directory is in the new one with the same bytes, mode and owner.
pub fn differences(l: &Listing) -> Vec<String> {
    let mut out = Vec::new();
    if !l.from.contains_key(layout::EWALLET) {
        out.push(format!(
            "the old directory holds no {}: check the directory sqlnet.ora names",
            layout::EWALLET
        ));
    }
    for (name, f) in &l.from {
        match l.to.get(name) {
            None => out.push(format!("{name} is not in WALLET_ROOT/tde yet")),
            Some(t) if t.sha256 != f.sha256 => out.push(format!(
                "{name} differs from the original (SHA-256 {} here, {} there)",
                t.sha256, f.sha256
            )),
            Some(t) if t.mode != f.mode => out.push(format!(
                "{name} has mode {} in WALLET_ROOT/tde, {} in the old directory",
                t.mode, f.mode
            )),
            Some(t) if t.owner != f.owner => out.push(format!(
                "{name} is owned by {} in WALLET_ROOT/tde, {} in the old directory",
                t.owner, f.owner
            )),
            Some(_) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a7988";
    const B: &str = "aaaa3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a7988";

    #[test]
    fn the_pasted_listing_is_read_and_each_difference_named() {
        let text = format!(
            "$ for d in FROM:'/u01/old' TO:'/u01/wr/tde'; do …\nFROM {A} 600 oracle:oinstall ewallet.p12\nFROM {A} 600 oracle:oinstall cwallet.sso\nTO {A} 600 oracle:oinstall ewallet.p12\nTO {B} 644 oracle:oinstall cwallet.sso\nEND\n"
        );
        let l = parse_check(&text).unwrap();
        assert_eq!(l.from.len(), 2);
        let d = differences(&l);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].starts_with("cwallet.sso differs"), "{d:?}");
        let fixed = text.replace(&format!("TO {B} 644"), &format!("TO {A} 644"));
        let d = differences(&parse_check(&fixed).unwrap());
        assert!(d[0].contains("mode 644"), "{d:?}");
        let same = fixed.replace(" 644 ", " 600 ");
        assert!(differences(&parse_check(&same).unwrap()).is_empty());
        // Missing files, a foreign line, a paste cut short.
        let missing = format!("FROM {A} 600 oracle:oinstall ewallet.p12\nEND");
        assert_eq!(
            differences(&parse_check(&missing).unwrap()),
            ["ewallet.p12 is not in WALLET_ROOT/tde yet"]
        );
        assert!(matches!(
            parse_check("total 8\nEND"),
            Err(PasteError::Foreign(_))
        ));
        assert_eq!(
            parse_check(&format!("FROM {A} 600 o:g ewallet.p12")),
            Err(PasteError::Incomplete)
        );
    }

    #[test]
    fn a_local_copy_is_compared_file_by_file() {
        let dir = tempfile::tempdir().unwrap();
        let (from, to) = (dir.path().join("old"), dir.path().join("wr/tde"));
        std::fs::create_dir_all(&from).unwrap();
        std::fs::create_dir_all(&to).unwrap();
        std::fs::write(from.join("ewallet.p12"), b"p12").unwrap();
        std::fs::write(from.join("ewallet_2024_pre.p12"), b"old").unwrap();
        std::fs::write(from.join("sqlnet.ora"), b"not a keystore file").unwrap();
        let d = differences(&list_local(&from, &to));
        assert_eq!(d.len(), 2, "{d:?}");
        std::fs::copy(from.join("ewallet.p12"), to.join("ewallet.p12")).unwrap();
        std::fs::copy(
            from.join("ewallet_2024_pre.p12"),
            to.join("ewallet_2024_pre.p12"),
        )
        .unwrap();
        crate::paths::set_mode(&to.join("ewallet.p12"), 0o644).unwrap();
        crate::paths::set_mode(&from.join("ewallet.p12"), 0o600).unwrap();
        let d = differences(&list_local(&from, &to));
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].contains("mode 644"), "{d:?}");
        crate::paths::set_mode(&to.join("ewallet.p12"), 0o600).unwrap();
        assert!(differences(&list_local(&from, &to)).is_empty());
    }

    #[test]
    fn the_commands_name_both_directories_and_end_with_end() {
        let c = copy_commands("/u01/old/", "/u01/wr/tde");
        assert!(c[1].contains("cp -p") && c[1].contains("'/u01/old'/ewallet.p12"));
        let k = check_command("/u01/old", "/u01/wr/tde");
        assert!(k.ends_with("echo END") && k.contains("TO:'/u01/wr/tde'"));
    }
}
