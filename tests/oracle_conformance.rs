//! Conformance: the Rehearsal held against outputs real databases printed
//! (tests/fixtures/oracle/, each with its source in SOURCES.md). The Rehearsal is driven into
//! the state each real output was taken in, and its answer to the same query must have the same
//! columns and the same values, row for row (the root, a PDB, a non-CDB), as the real one; its
//! feedback lines and ORA- texts must be the ones real databases printed; and what it prints
//! must read back through the parsers that read the real outputs. Where no real output shows a
//! value (an HSM row of V$ENCRYPTION_KEYS, WALLET_ORDER PRIMARY/SECONDARY), the value comes from
//! reference/oracle-tde.md and is named below as such.

mod common;

use common::Env;
use std::path::{Path, PathBuf};
use tdekey::hsm::Hsm;
use tdekey::model::{Multitenant, PinFormat};
use tdekey::oracle::Connector;
use tdekey::oracle::rehearsal::{self, Rehearsal};
use tdekey::secret::Secret;
use tdekey::tde::output::{Row, View, ora_errors, parse_view};
use tdekey::tde::render::{Layout, render_reply};
use tdekey::tde::request::{KEYSTORE_ALTERED, Reply, Request, SYSTEM_ALTERED, interpret};
use tdekey::tde::sql::{Credential, Options};

const PIN: &str = "user-pin-C1";
const WALLET_PW: &str = "Wallet-Pw-C2";
const ROOT: &str = "/opt/oracle/admin/FREE/wallet";

fn fixtures(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/oracle")
        .join(dir)
}

fn real(dir: &str, name: &str) -> String {
    std::fs::read_to_string(fixtures(dir).join(name))
        .unwrap_or_else(|e| panic!("{dir}/{name}: {e}"))
}

fn real_rows(name: &str, view: View) -> Vec<Row> {
    let text = real(
        if view == View::EncryptionWallet {
            "wallet"
        } else {
            "keys"
        },
        name,
    );
    parse_view(&text, view).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn open<'h>(env: &Env, name: &str, mt: Multitenant, hsm: &'h mut Hsm) -> Rehearsal<'h, Hsm> {
    let path = rehearsal::state_path(env.data.root(), name);
    Rehearsal::open(&path, name, mt, hsm, PinFormat::Plain).unwrap()
}

fn run(r: &mut Rehearsal<'_, Hsm>, req: &Request) -> Reply {
    let reply = r
        .run(req)
        .unwrap_or_else(|e| panic!("{}: {e}", req.title()))
        .reply;
    // Whatever the Rehearsal answers reads back, as SQL*Plus would print it, through the
    // parsers that read the real outputs, in both layouts.
    for layout in [Layout::DEFAULT, Layout::Csv] {
        let text = render_reply(req, &reply, layout);
        assert_eq!(
            interpret(req, &text).as_ref(),
            Ok(&reply),
            "{} in {layout:?}:\n{text}",
            req.title()
        );
    }
    reply
}

fn done(r: &mut Rehearsal<'_, Hsm>, req: &Request) {
    let reply = run(r, req);
    assert!(
        matches!(reply, Reply::Done { .. }),
        "{}: {reply:?}",
        req.title()
    );
}

fn rows(r: &mut Rehearsal<'_, Hsm>, req: &Request) -> Vec<Row> {
    match run(r, req) {
        Reply::Rows { rows } => rows,
        other => panic!("{}: {other:?}", req.title()),
    }
}

fn wallet_rows(r: &mut Rehearsal<'_, Hsm>) -> Vec<Row> {
    rows(r, &Request::QueryWallet)
}

/// A row's place: the non-CDB (CON_ID 0 or absent), the root (1), PDB$SEED (2, which the
/// Rehearsal does not simulate) or a PDB; with its keystore type.
fn role(row: &Row) -> (String, &'static str) {
    let place = match row.get("CON_ID").map(str::trim) {
        None | Some("0") => "non-CDB",
        Some("1") => "root",
        Some("2") => "PDB$SEED",
        Some(_) => "PDB",
    };
    (row.get("WRL_TYPE").unwrap_or("FILE").to_owned(), place)
}

/// WRL_PARAMETER's form: empty, or a directory path ending with `/`.
fn path_form(v: &str) -> &'static str {
    match v.trim() {
        "" => "empty",
        p if p.starts_with('/') && p.ends_with('/') => "a directory ending with /",
        _ => "something else",
    }
}

/// Every column the real output shows, row for row by role, must hold what the Rehearsal
/// shows in the same state (WRL_PARAMETER by its form: its directory is the site's own).
fn same_as_real(state: &str, ours: &[Row], name: &str) {
    let theirs = real_rows(name, View::EncryptionWallet);
    assert!(!theirs.is_empty(), "{name}");
    let mut compared = 0;
    for t in &theirs {
        let r = role(t);
        if r.1 == "PDB$SEED" {
            continue;
        }
        let o = ours
            .iter()
            .find(|o| role(o) == r)
            .unwrap_or_else(|| panic!("{state}: no {r:?} row like {name}'s: {ours:?}"));
        for (col, value) in &t.0 {
            let Some(mine) = o.get(col) else {
                panic!("{state}: the Rehearsal has no {col} ({name} has)")
            };
            if col == "WRL_PARAMETER" {
                assert_eq!(
                    path_form(mine),
                    path_form(value),
                    "{state} vs {name}: {col}"
                );
            } else if col != "CON_ID" && col != "INST_ID" {
                assert_eq!(
                    mine.trim(),
                    value.trim(),
                    "{state} vs {name}: {col} of {r:?}"
                );
            }
            compared += 1;
        }
    }
    assert!(
        compared >= 3,
        "{state} vs {name}: compared {compared} values"
    );
}

#[test]
fn v_encryption_wallet_has_the_real_columns_and_values_in_each_state() {
    // SELECT * as 19c and 23ai print it (23ai's CSV shows every name whole).
    let real_columns: Vec<String> = real_rows(
        "23ai-free-cdb-3-containers-file-open-password-csv.txt",
        View::EncryptionWallet,
    )[0]
    .0
    .iter()
    .map(|(c, _)| c.clone())
    .collect();
    assert_eq!(real_columns, tdekey::tde::output::WALLET_COLUMNS);

    let env = Env::new();
    let mut hsm = env.token("conform", PIN);
    let wallet_pw = || Credential::Password(Secret::from(WALLET_PW));
    let config = |v: &str| Request::SetTdeConfiguration {
        value: v.into(),
        all_instances: false,
    };

    // A non-CDB with WALLET_ROOT set and no TDE_CONFIGURATION: NOT_AVAILABLE, no directory.
    {
        let mut r = open(&env, "NONCDB", Multitenant::NonCdb, &mut hsm);
        done(
            &mut r,
            &Request::SetWalletRoot {
                dir: ROOT.into(),
                all_instances: false,
            },
        );
        done(&mut r, &Request::Restart);
        let ours = wallet_rows(&mut r);
        same_as_real(
            "WALLET_ROOT without TDE_CONFIGURATION",
            &ours,
            "19c-noncdb-file-not-available-unknown-wallet-root-set-no-tde-configuration.txt",
        );
        done(&mut r, &config("FILE"));
        done(
            &mut r,
            &Request::CreateKeystore {
                password: Secret::from(WALLET_PW),
            },
        );
        done(
            &mut r,
            &Request::OpenKeystore {
                credential: wallet_pw(),
                all_containers: false,
            },
        );
        done(
            &mut r,
            &Request::SetKey {
                tag: None,
                credential: wallet_pw(),
                options: Options {
                    backup: Some(None),
                    all_containers: false,
                },
            },
        );
        let ours = wallet_rows(&mut r);
        same_as_real(
            "a non-CDB's password keystore open",
            &ours,
            "rds-file-open-password-con-id-0-wrapped.txt",
        );
    }

    // A united CDB through its life: created, open with no key, open, auto-login.
    let mut r = open(&env, "FREE", Multitenant::CdbUnited, &mut hsm);
    done(
        &mut r,
        &Request::SetWalletRoot {
            dir: ROOT.into(),
            all_instances: false,
        },
    );
    done(&mut r, &Request::Restart);
    done(&mut r, &config("FILE"));
    done(
        &mut r,
        &Request::CreateKeystore {
            password: Secret::from(WALLET_PW),
        },
    );
    let ours = wallet_rows(&mut r);
    same_as_real(
        "created, closed",
        &ours,
        "23ai-free-cdb-3-containers-file-closed-unknown-after-restart-csv.txt",
    );
    done(
        &mut r,
        &Request::OpenKeystore {
            credential: wallet_pw(),
            all_containers: true,
        },
    );
    let ours = wallet_rows(&mut r);
    for name in [
        "19c-cdb-3-containers-keystore-mode-open-no-master-key-password-livelabs.txt",
        "19c-cdb-3-containers-open-no-master-key-password-linhong.txt",
    ] {
        same_as_real("open, no master key", &ours, name);
    }
    done(
        &mut r,
        &Request::SetKey {
            tag: Some("initial".into()),
            credential: wallet_pw(),
            options: Options {
                backup: Some(Some("initial".into())),
                all_containers: true,
            },
        },
    );
    let ours = wallet_rows(&mut r);
    for name in [
        "19c-cdb-3-containers-keystore-mode-open-password-livelabs.txt",
        "19c-cdb-3-containers-open-password-linhong.txt",
        "23ai-free-cdb-3-containers-file-open-password-csv.txt",
    ] {
        same_as_real("open with its master key", &ours, name);
    }
    // CREATE AUTO_LOGIN while the password keystore is open: it stays PASSWORD until closed.
    done(
        &mut r,
        &Request::CreateAutoLogin {
            dir: format!("{ROOT}/tde"),
            password: Secret::from(WALLET_PW),
            local: false,
        },
    );
    let ours = wallet_rows(&mut r);
    same_as_real(
        "auto-login made, password keystore still open",
        &ours,
        "23ai-free-cdb-3-containers-file-open-password-csv.txt",
    );
    done(&mut r, &Request::Restart);
    let ours = wallet_rows(&mut r);
    for name in [
        "23ai-free-cdb-3-containers-file-open-autologin-after-restart-csv.txt",
        "19c-cdb-3-containers-open-autologin-after-close-password-linhong.txt",
    ] {
        same_as_real("auto-login after a restart", &ours, name);
    }
    drop(r);

    // The HSM alone (TDE_CONFIGURATION=HSM): the real outputs show SINGLE, an empty
    // WRL_PARAMETER and WALLET_TYPE HSM.
    let mut r = open(&env, "HSMONLY", Multitenant::NonCdb, &mut hsm);
    r.seed(ROOT, &Secret::from(WALLET_PW)).unwrap();
    done(&mut r, &config("HSM|FILE"));
    done(&mut r, &Request::Restart);
    done(
        &mut r,
        &Request::OpenKeystore {
            credential: wallet_pw(),
            all_containers: false,
        },
    );
    done(
        &mut r,
        &Request::Migrate {
            hsm_user: "cu".into(),
            hsm_password: Secret::from(PIN),
            wallet_password: Secret::from(WALLET_PW),
            backup: Some(None),
        },
    );
    // With HSM|FILE the Rehearsal shows PRIMARY and SECONDARY, as Oracle's reference says;
    // no unedited real output shows that state (SOURCES.md, "Not found").
    let ours = wallet_rows(&mut r);
    let orders: Vec<&str> = ours.iter().filter_map(|x| x.get("WALLET_ORDER")).collect();
    assert_eq!(orders, ["PRIMARY", "SECONDARY"]);
    done(&mut r, &config("HSM"));
    done(&mut r, &Request::Restart);
    done(
        &mut r,
        &Request::OpenKeystore {
            credential: Credential::Hsm {
                user: "cu".into(),
                password: Secret::from(PIN),
            },
            all_containers: false,
        },
    );
    let ours = wallet_rows(&mut r);
    same_as_real(
        "the HSM alone, open",
        &ours,
        "19c-hsm-open-single-securosys.txt",
    );
}

/// 52 characters of base64 that decode to 0x01, a 16-byte id and zero padding.
fn software_key_id(id: &str) -> bool {
    id.len() == 52
        && id.starts_with('A')
        && tdekey::tde::labels::parse_key_id(id).is_ok_and(|(b, _)| b == 0x01)
}

#[test]
fn v_encryption_keys_shows_key_ids_types_and_creators_as_real_databases_do() {
    // Every whole KEY_ID of a software key in the real outputs has the form.
    let mut real_ids = 0;
    let mut real_types = std::collections::BTreeSet::new();
    for e in std::fs::read_dir(fixtures("keys")).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Ok(rows) = parse_view(
            &std::fs::read_to_string(e.path()).unwrap(),
            View::EncryptionKeys,
        ) else {
            continue;
        };
        for row in rows {
            if let Some(t) = row.get("KEYSTORE_TYPE") {
                real_types.insert(t.trim().to_owned());
            }
            let id = row.get("KEY_ID").unwrap_or("").trim();
            // One author shortened an id by hand ("AU1kv...AAAA"): not an id as printed.
            if !id.contains("...") {
                assert!(software_key_id(id), "{name}: {id}");
                real_ids += 1;
            }
        }
    }
    assert!(real_ids >= 5, "{real_ids}");
    assert_eq!(
        real_types.into_iter().collect::<Vec<_>>(),
        ["SOFTWARE KEYSTORE"]
    );
    // The 12.1 keys made AS SYSDBA: USER SYS; the newest key not backed up by its own WITH
    // BACKUP, the older ones backed up.
    let real12 = real_rows(
        "12.1-software-keys-3-rows-backed-up-tabs.txt",
        View::EncryptionKeys,
    );
    assert!(real12.iter().all(|k| k.get("USER") == Some("SYS")));

    let env = Env::new();
    let mut hsm = env.token("conform", PIN);
    let mut r = open(&env, "KEYS", Multitenant::NonCdb, &mut hsm);
    r.seed(ROOT, &Secret::from(WALLET_PW)).unwrap();
    let wallet_pw = Credential::Password(Secret::from(WALLET_PW));
    done(
        &mut r,
        &Request::SetKey {
            tag: None,
            credential: wallet_pw,
            options: Options {
                backup: Some(None),
                all_containers: false,
            },
        },
    );
    let keys = rows(&mut r, &Request::QueryKeys);
    assert_eq!(keys.len(), 2);
    for k in &keys {
        assert!(software_key_id(k.get("KEY_ID").unwrap()), "{k:?}");
        assert_eq!(k.get("KEYSTORE_TYPE"), Some("SOFTWARE KEYSTORE"));
        assert_eq!(
            k.get("USER"),
            Some("SYS"),
            "AS SYSDBA, as in the real 12.1 output"
        );
        assert_eq!(k.get("CREATOR"), Some("SYS"));
        assert_eq!(k.get("KEY_USE"), Some("TDE"));
        assert!(tdekey::tde::views::parse_oracle_time(k.get("CREATION_TIME").unwrap()).is_some());
    }
    let backed: Vec<&str> = keys.iter().filter_map(|k| k.get("BACKED_UP")).collect();
    assert_eq!(
        backed,
        ["YES", "NO"],
        "the newest key is not backed up by its own WITH BACKUP"
    );
    // HSM rows (no real output shows one: the form is reference/oracle-tde.md's): KEY_ID the
    // 34 hex digits of its label, KEYSTORE_TYPE HSM.
    done(
        &mut r,
        &Request::SetTdeConfiguration {
            value: "HSM|FILE".into(),
            all_instances: false,
        },
    );
    done(&mut r, &Request::Restart);
    done(
        &mut r,
        &Request::OpenKeystore {
            credential: Credential::Password(Secret::from(WALLET_PW)),
            all_containers: false,
        },
    );
    done(
        &mut r,
        &Request::Migrate {
            hsm_user: "cu".into(),
            hsm_password: Secret::from(PIN),
            wallet_password: Secret::from(WALLET_PW),
            backup: Some(None),
        },
    );
    let keys = rows(&mut r, &Request::QueryKeys);
    let hsm_rows: Vec<&Row> = keys
        .iter()
        .filter(|k| k.get("KEYSTORE_TYPE") == Some("HSM"))
        .collect();
    assert_eq!(hsm_rows.len(), 1);
    let id = hsm_rows[0].get("KEY_ID").unwrap();
    assert!(
        id.len() == 34
            && id.starts_with("06")
            && id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)),
        "{id}"
    );
}

#[test]
fn feedback_lines_and_error_texts_are_the_real_ones() {
    let dir = fixtures("feedback");
    let mut keystore_altered = 0;
    let mut system_altered = 0;
    let mut texts_checked = 0;
    let catalogue = tdekey::tde::ora::CATALOGUE;
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(e.path()).unwrap();
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        if lines.contains(&"keystore altered.") {
            keystore_altered += 1;
        }
        if lines.contains(&"System altered.") {
            system_altered += 1;
        }
        // A capitalised "Keystore altered." was never printed by a real database.
        assert!(!lines.contains(&"Keystore altered."), "{name}");
        for err in ora_errors(&text) {
            if let Some(c) = catalogue.iter().find(|c| c.code == err.code) {
                // ORA-28407's PKCS#11 value varies: the text up to it must be Oracle's.
                // One vendor's copy ends ORA-28354's text with a full stop, which Oracle's
                // messages do not have (SOURCES.md, "Disagreements"): compared without it.
                let ours = c.text.split(" CKR_").next().unwrap();
                let theirs = err
                    .text
                    .split(" CKR_")
                    .next()
                    .unwrap()
                    .trim_end_matches('.');
                assert_eq!(ours, theirs, "{name}: {}", err.code);
                texts_checked += 1;
            }
        }
    }
    assert!(keystore_altered >= 15, "{keystore_altered}");
    assert!(system_altered >= 4, "{system_altered}");
    assert!(texts_checked >= 6, "{texts_checked}");
    // The Rehearsal's feedback is the real one.
    assert_eq!(Reply::done(KEYSTORE_ALTERED).summary(), "keystore altered.");
    assert_eq!(Reply::done(SYSTEM_ALTERED).summary(), "System altered.");
}
