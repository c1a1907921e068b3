//! The HSM adapter and the inventory against real SoftHSM2 tokens (no mock PKCS#11).

mod common;

use common::Env;
use std::collections::HashMap;
use tdekey::hsm::KeyTemplate;
use tdekey::hsm::{Hsm, HsmError, LoginOutcome};
use tdekey::inventory::{self, Severity};
use tdekey::model::{PinFormat, TokenSelector};
use tdekey::secret::Secret;
use tdekey::tde::labels::{MasterKeyId, SUPPORTED_IDEN, hsm_key_id, key_metadata_label};

const MK_GOOD: &str = "ORACLE.TDE.HSM.MK.0615A5142C9E2D3C2F18FD435814257DFD";
const MK_CLOUDHSM_CLI: &str = "ORACLE.TDE.HSM.MK.06000102030405060708090A0B0C0D0E0F";
const MK_WEAK: &str = "ORACLE.TDE.HSM.MK.06AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
const MK_NO_CRYPT: &str = "ORACLE.TDE.HSM.MK.06BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";
const MK_DUP: &str = "ORACLE.TDE.HSM.MK.06CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC";
const MK_MALFORMED: &str = "ORACLE.TDE.HSM.MK.06cccc";

fn codes(rows: &[inventory::InventoryRow], label: &str) -> Vec<Vec<&'static str>> {
    rows.iter()
        .filter(|r| r.object.label == label)
        .map(|r| r.health.iter().map(|h| h.code).collect())
        .collect()
}

#[test]
fn inventory_decodes_every_kind_and_flags_each_flaw() {
    let env = Env::new();
    let hsm = env.token("inventory", "user-pin-1");
    let t = KeyTemplate::ORACLE_MASTER_KEY;
    hsm.generate_aes_key(MK_GOOD, t).unwrap();
    hsm.generate_aes_key(MK_CLOUDHSM_CLI, KeyTemplate::CLOUDHSM_CLI_DEFAULT)
        .unwrap();
    hsm.generate_aes_key(
        MK_WEAK,
        KeyTemplate {
            bytes: 16,
            sensitive: false,
            ..t
        },
    )
    .unwrap();
    hsm.generate_aes_key(
        MK_NO_CRYPT,
        KeyTemplate {
            encrypt_decrypt: false,
            ..t
        },
    )
    .unwrap();
    hsm.generate_aes_key(MK_DUP, t).unwrap();
    hsm.generate_aes_key(MK_DUP, t).unwrap();
    hsm.generate_aes_key(MK_MALFORMED, t).unwrap();
    let legacy = format!("ORACLE.TSE.HSM.MK.{}", "0A".repeat(19));
    hsm.generate_aes_key(&legacy, t).unwrap();
    hsm.generate_aes_key("payments-app-key", KeyTemplate::CLOUDHSM_CLI_DEFAULT)
        .unwrap();
    let id = MasterKeyId([0x15; 16]);
    let km = key_metadata_label(&hsm_key_id(&id));
    hsm.create_data_object(&km, "ORACLE", b"metadata").unwrap();
    hsm.create_data_object(SUPPORTED_IDEN, "ORACLE", b"x")
        .unwrap();

    let mut progress = Vec::new();
    let objects = hsm.inventory(&mut |d, n| progress.push((d, n))).unwrap();
    assert_eq!(objects.len(), 11);
    assert_eq!(progress.last(), Some(&(11, 11)));
    assert!(objects.iter().all(|o| o.flags.token == Some(true)));
    let rows = inventory::analyze(objects);

    let kinds: HashMap<&str, &str> = rows
        .iter()
        .map(|r| (r.object.label.as_str(), r.kind))
        .collect();
    assert_eq!(kinds[MK_GOOD], "tde-master-key");
    assert_eq!(kinds[km.as_str()], "oracle-key-metadata");
    assert_eq!(kinds[SUPPORTED_IDEN], "oracle-supported-iden");
    assert_eq!(kinds[legacy.as_str()], "legacy-tablespace-master-key");
    assert_eq!(kinds[MK_MALFORMED], "malformed-tde-master-key");
    assert_eq!(kinds["payments-app-key"], "other");

    let good = rows.iter().find(|r| r.object.label == MK_GOOD).unwrap();
    assert_eq!(good.object.class, "CKO_SECRET_KEY");
    assert_eq!(good.object.key_type.as_deref(), Some("CKK_AES"));
    assert_eq!(good.object.value_len, Some(32));
    assert_eq!(good.object.flags.extractable, Some(false));
    assert_eq!(good.object.flags.never_extractable, Some(true));
    assert_eq!(good.object.flags.always_sensitive, Some(true));
    assert_eq!(good.object.flags.local, Some(true));
    assert_eq!(
        good.master_key_id.as_deref(),
        Some("0615A5142C9E2D3C2F18FD435814257DFD")
    );

    assert_eq!(codes(&rows, MK_GOOD), [Vec::<&str>::new()]);
    assert_eq!(codes(&rows, MK_CLOUDHSM_CLI), [vec!["extractable"]]);
    assert_eq!(
        codes(&rows, MK_WEAK),
        [vec!["not-aes-256", "not-sensitive"]]
    );
    assert_eq!(codes(&rows, MK_NO_CRYPT), [vec!["no-encrypt-decrypt"]]);
    assert_eq!(
        codes(&rows, MK_DUP),
        [vec!["duplicate-label"], vec!["duplicate-label"]]
    );
    assert_eq!(codes(&rows, MK_MALFORMED), [vec!["malformed-label"]]);
    assert_eq!(
        codes(&rows, "payments-app-key"),
        [Vec::<&str>::new()],
        "only master keys are held to the master-key rules"
    );
    let km_row = rows.iter().find(|r| r.object.label == km).unwrap();
    assert_eq!(km_row.master_key_id, Some(id.use_key_id()));
    assert_eq!(km_row.object.application.as_deref(), Some("ORACLE"));

    let s = inventory::summarize(&rows);
    assert_eq!(s.master_keys, 6);
    assert!(
        rows.iter()
            .filter(|r| r.worst() == Some(Severity::Critical))
            .all(|r| r.object.label.starts_with("ORACLE.TDE.HSM.MK.06"))
    );
}

#[test]
fn library_slots_and_mechanisms_are_reported() {
    let env = Env::new();
    drop(env.token("info", "pin-info"));
    let hsm = Hsm::load(&env.module).unwrap();
    let lib = hsm.library().unwrap();
    assert_eq!(lib.manufacturer, "SoftHSM");
    let slots = hsm.slots().unwrap();
    let t = slots
        .iter()
        .find_map(|s| s.token.as_ref().filter(|t| t.label == "info"))
        .expect("token listed");
    assert!(t.flags.contains(&"TOKEN_INITIALIZED"));
    assert_eq!(t.model, "SoftHSM v2");
    let names: Vec<_> = t.mechanisms.iter().map(|m| (m.name, m.present)).collect();
    assert_eq!(
        names,
        [("CKM_AES_KEY_GEN", true), ("CKM_SHA256_HMAC", true)]
    );
}

#[test]
fn bad_module_paths_are_named_clearly() {
    let env = Env::new();
    let dir = env.dir.path();
    let cases: Vec<(std::path::PathBuf, &str)> = vec![
        (dir.join("missing.so"), "No file at"),
        (dir.to_path_buf(), "is a directory"),
        (
            {
                let p = dir.join("notes.so");
                std::fs::write(&p, "not a library").unwrap();
                p
            },
            "not a shared library",
        ),
    ];
    for (path, needle) in cases {
        let e = Hsm::load(&path).unwrap_err();
        assert!(e.to_string().contains(needle), "{}: {e}", path.display());
    }
    let libc = [
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
        "/lib/aarch64-linux-gnu/libc.so.6",
        "/usr/lib64/libc.so.6",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).is_file())
    .expect("a libc to load");
    let e = Hsm::load(std::path::Path::new(libc)).unwrap_err();
    assert!(matches!(e, HsmError::NotPkcs11 { .. }), "{e}");
    assert!(e.to_string().contains("C_GetFunctionList"), "{e}");
}

#[test]
fn failing_c_initialize_says_where_softhsm_looks() {
    let env = Env::new();
    let missing = env.dir.path().join("no-such-softhsm2.conf");
    // SAFETY: this test runs alone in its process (nextest) and has started no thread.
    unsafe { std::env::set_var("SOFTHSM2_CONF", &missing) };
    let e = Hsm::load(&env.module).unwrap_err();
    assert!(matches!(e, HsmError::InitializeFailed { .. }), "{e}");
    let s = e.to_string();
    assert!(s.contains("failed to initialize"), "{s}");
    assert!(s.contains(&missing.display().to_string()), "{s}");
}

#[test]
fn token_selection_errors() {
    let env = Env::new();
    drop(env.token("alpha", "pin-a"));
    let hsm = Hsm::load(&env.module).unwrap();
    let e = hsm
        .resolve(&TokenSelector::Label("beta".into()))
        .unwrap_err();
    assert!(
        e.to_string().contains("No token is labelled \"beta\""),
        "{e}"
    );
    assert!(
        e.to_string().contains("\"alpha\""),
        "lists what exists: {e}"
    );
    let e = hsm.resolve(&TokenSelector::Slot(987_654_321)).unwrap_err();
    assert!(matches!(e, HsmError::SlotNotFound { .. }), "{e}");
    // SoftHSM2 keeps one slot with an uninitialized token.
    let free = hsm
        .slots()
        .unwrap()
        .into_iter()
        .find(|s| {
            s.token
                .as_ref()
                .is_some_and(|t| !t.flags.contains(&"TOKEN_INITIALIZED"))
        })
        .unwrap();
    let e = hsm.resolve(&TokenSelector::Slot(free.slot_id)).unwrap_err();
    assert!(matches!(e, HsmError::NoTokenInSlot { .. }), "{e}");
    assert_eq!(hsm.resolve(&TokenSelector::Only).unwrap().label, "alpha");
}

#[test]
fn two_tokens_with_one_label_are_refused_by_label() {
    let env = Env::new();
    for _ in 0..2 {
        let st = std::process::Command::new("softhsm2-util")
            .args([
                "--init-token",
                "--free",
                "--label",
                "twin",
                "--so-pin",
                "1234",
                "--pin",
                "5678",
            ])
            .env("SOFTHSM2_CONF", &env.conf)
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
    }
    let hsm = Hsm::load(&env.module).unwrap();
    let e = hsm
        .resolve(&TokenSelector::Label("twin".into()))
        .unwrap_err();
    assert!(
        matches!(e, HsmError::TokenAmbiguous { count: 2, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("by slot id"), "{e}");
    let e = hsm.resolve(&TokenSelector::Only).unwrap_err();
    assert!(
        matches!(e, HsmError::TokenNotChosen { count: 2, .. }),
        "{e}"
    );
}

#[test]
fn wrong_pins_are_counted_and_cloudhsm_lockout_is_explained() {
    let env = Env::new();
    drop(env.token("pins", "right-pin"));
    let mut hsm = Hsm::load(&env.module).unwrap();
    hsm.open(&TokenSelector::Label("pins".into())).unwrap();
    let e = hsm
        .login("", &Secret::from("wrong-1"), PinFormat::Plain)
        .unwrap_err();
    assert!(
        matches!(
            e,
            HsmError::PinIncorrect {
                failures: 1,
                cloudhsm: false
            }
        ),
        "{e}"
    );
    let e = hsm
        .login("cu1", &Secret::from("wrong-2"), PinFormat::CloudHsm)
        .unwrap_err();
    let s = e.to_string();
    assert!(
        s.contains("CKR_PIN_INCORRECT") && s.contains("2 failed attempts"),
        "{s}"
    );
    assert!(
        s.contains("CloudHSM locks a crypto user after 5 failures"),
        "{s}"
    );
    assert!(
        !s.contains("wrong-2"),
        "the message must not echo the password: {s}"
    );
    assert!(matches!(
        hsm.login("", &Secret::from(""), PinFormat::Plain),
        Err(HsmError::EmptyPassword)
    ));
    assert!(matches!(
        hsm.login("a:b", &Secret::from("x"), PinFormat::CloudHsm),
        Err(HsmError::BadCloudHsmUser)
    ));
    assert_eq!(
        hsm.login("cu", &Secret::from("right-pin"), PinFormat::Plain)
            .unwrap(),
        LoginOutcome::LoggedIn
    );
    assert_eq!(
        hsm.login("cu", &Secret::from("right-pin"), PinFormat::Plain)
            .unwrap(),
        LoginOutcome::AlreadyLoggedIn,
        "CKR_USER_ALREADY_LOGGED_IN is reported, not an error"
    );
    assert_eq!(hsm.user(), Some("cu"));
}

#[test]
fn a_session_that_went_away_offers_reconnect() {
    let env = Env::new();
    let hsm = env.token("lost", "pin-lost");
    // Another context finalizing the module tears down every session of the process.
    let other = Hsm::load(&env.module).unwrap();
    other.close().unwrap();
    let e = hsm.inventory(&mut |_, _| {}).unwrap_err();
    assert!(e.offers_reconnect(), "{e}");
    assert!(e.to_string().contains("Reconnect"), "{e}");
    // Reconnecting works.
    drop(hsm);
    let mut again = Hsm::load(&env.module).unwrap();
    again.open(&TokenSelector::Label("lost".into())).unwrap();
    again
        .login("", &Secret::from("pin-lost"), PinFormat::Plain)
        .unwrap();
    assert!(again.inventory(&mut |_, _| {}).unwrap().is_empty());
}

#[test]
fn a_label_cloudhsm_would_refuse_is_refused_before_the_call() {
    let env = Env::new();
    drop(env.token("cloudhsm-named", "pin-c1"));
    // SoftHSM2 under CloudHSM's library name: tdekey applies CloudHSM's limits to it.
    let dir = env.dir.path().join("opt/cloudhsm/lib");
    std::fs::create_dir_all(&dir).unwrap();
    let module = dir.join("libcloudhsm_pkcs11.so");
    std::fs::copy(&env.module, &module).unwrap();
    let mut hsm = Hsm::load(&module).unwrap();
    assert!(hsm.is_cloudhsm());
    hsm.open(&TokenSelector::Label("cloudhsm-named".into()))
        .unwrap();
    hsm.login("", &Secret::from("pin-c1"), PinFormat::Plain)
        .unwrap();
    let longest = "L".repeat(127);
    let too_long = "L".repeat(128);
    assert_eq!(hsm.count_label(&longest).unwrap(), 0);
    let e = hsm.count_label(&too_long).unwrap_err();
    assert!(matches!(e, HsmError::LabelTooLong { len: 128, .. }), "{e}");
    assert!(e.to_string().contains("at most 127"), "{e}");
    let e = hsm
        .generate_aes_key(&too_long, KeyTemplate::ORACLE_MASTER_KEY)
        .unwrap_err();
    assert!(e.to_string().contains("Nothing was sent to the HSM"), "{e}");
    assert!(
        hsm.inventory(&mut |_, _| {}).unwrap().is_empty(),
        "nothing made"
    );
    hsm.generate_aes_key(&longest, KeyTemplate::ORACLE_MASTER_KEY)
        .unwrap();
    assert_eq!(hsm.count_label(&longest).unwrap(), 1);
}

/// CKR_PIN_LOCKED ("a wrong or locked PIN … is shown as a sentence that says what to do").
/// SoftHSM2 never locks a user PIN: twenty wrong logins, then the right PIN still logs in
/// (checked here, so that the day it locks, this test says to test the lock for real). So the
/// mapping of the code is tested at unit level: a locked PIN is its own error, whose sentence
/// says the PIN is locked, who can unlock it, and that tdekey will not try again.
#[test]
fn a_locked_pin_is_a_sentence_that_says_what_to_do() {
    use cryptoki::error::RvError;
    let env = Env::new();
    drop(env.token("lock", "right-pin"));
    let mut hsm = Hsm::load(&env.module).unwrap();
    hsm.open(&TokenSelector::Label("lock".into())).unwrap();
    for n in 1..=20 {
        let e = hsm
            .login("", &Secret::from("wrong-pin"), PinFormat::Plain)
            .unwrap_err();
        assert!(
            matches!(e, HsmError::PinIncorrect { failures, .. } if failures == n),
            "SoftHSM2 answered {e} at failure {n}: it may lock PINs now; test CKR_PIN_LOCKED on it"
        );
    }
    assert_eq!(
        hsm.login("", &Secret::from("right-pin"), PinFormat::Plain)
            .unwrap(),
        LoginOutcome::LoggedIn,
        "SoftHSM2 does not lock a user PIN"
    );

    let e = HsmError::from_rv("Logging in", RvError::PinLocked);
    assert!(matches!(e, HsmError::PinLocked), "{e:?}");
    let s = e.to_string();
    assert!(s.contains("CKR_PIN_LOCKED"), "{s}");
    assert!(s.contains("locked"), "{s}");
    assert!(s.contains("administrator must unlock or reset"), "{s}");
    assert!(s.contains("will not try again"), "{s}");
    assert!(
        matches!(e.retry(), tdekey::model::Retry::AfterFix),
        "retrying alone does not help"
    );
    assert!(!e.offers_reconnect(), "reconnecting does not help either");
    // The other codes stay what they are.
    assert!(matches!(
        HsmError::from_rv("Logging in", RvError::PinIncorrect),
        HsmError::Pkcs11 { .. }
    ));
}
