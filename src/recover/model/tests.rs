use super::*;
use crate::inventory::Severity;

fn id(n: u8) -> MasterKeyId {
    MasterKeyId([n; 16])
}

fn hsm(label: &str, health: Vec<HealthFlag>) -> Place {
    Place::Hsm {
        token: "tok".into(),
        label: label.into(),
        health,
        shared: Shared::Yes,
        user: "cu".into(),
    }
}

fn wallet(dir: &str) -> Place {
    Place::CurrentWallet {
        path: PathBuf::from(dir).join("ewallet.p12"),
        entry: "e".into(),
    }
}

fn ts(name: &str) -> Need {
    Need::Tablespace {
        con_id: 0,
        container: "the database".into(),
        name: name.into(),
        ts: Some(4),
        encrypted: true,
    }
}

#[test]
fn a_key_something_needs_and_found_nowhere_is_missing_with_exit_4() {
    let mut b = Builder::default();
    b.need(id(1), ts("USERS"));
    b.place(id(1), hsm(&id(1).hsm_label(), vec![]));
    b.need(id(2), ts("ARCHIVE"));
    // Found but nothing depends on it: listed, not missing.
    b.place(id(3), wallet("/w/tde"));
    let r = b.finish("DB", "now".into(), 9);
    assert_eq!(r.keys.len(), 3);
    assert_eq!(r.keys[0].key, id(2), "missing keys first");
    let missing: Vec<_> = r.missing().iter().map(|k| k.key).collect();
    assert_eq!(missing, vec![id(2)]);
    assert_eq!(r.exit_code(), EXIT_MISSING);
    assert!(r.summary().contains("MISSING"), "{}", r.summary());
    assert!(r.summary().contains(&id(2).raw_hex()), "{}", r.summary());
    assert!(
        !r.summary().contains("could not be read"),
        "{}",
        r.summary()
    );
    assert!(!r.summary().contains(".."), "{}", r.summary());

    // A wallet left unread may hold it: the summary says so.
    let mut b = Builder::default();
    b.need(id(2), ts("ARCHIVE"));
    b.unread("/w/tde/ewallet.p12", "no wallet password was given", false);
    let r = b.finish("DB", "now".into(), 0);
    assert_eq!(r.exit_code(), EXIT_MISSING);
    assert!(
        r.summary().contains("1 place could not be read"),
        "{}",
        r.summary()
    );
    assert!(!r.summary().contains(".."), "{}", r.summary());
}

#[test]
fn every_key_found_exits_0_and_an_unread_view_makes_it_incomplete() {
    let mut b = Builder::default();
    b.need(id(1), ts("USERS"));
    b.need(id(1), ts("USERS"));
    b.place(id(1), wallet("/w/tde"));
    let r = b.finish("DB", "now".into(), 0);
    assert_eq!(r.keys[0].needs.len(), 1, "the same need is kept once");
    assert_eq!(r.exit_code(), EXIT_ALL_FOUND);
    assert!(r.summary().contains("can still be decrypted"));

    let mut b = Builder::default();
    b.need(id(1), ts("USERS"));
    b.place(id(1), wallet("/w/tde"));
    b.unread("V$ENCRYPTED_TABLESPACES", "ORA-00942", true);
    b.unread("ewallet_2026.p12", "no password", false);
    let r = b.finish("DB", "now".into(), 0);
    assert!(!r.complete());
    assert_eq!(r.exit_code(), EXIT_INCOMPLETE);
    assert!(r.summary().contains("incomplete"));
}

#[test]
fn a_key_only_on_the_hsm_in_a_state_oracle_cannot_use_counts_as_not_found() {
    let mut b = Builder::default();
    b.need(id(1), ts("USERS"));
    let flag = HealthFlag {
        severity: Severity::Critical,
        code: "not-aes-256",
        reason: "r".into(),
    };
    b.place(id(1), hsm("L", vec![flag.clone()]));
    let r = b.finish("DB", "now".into(), 0);
    assert!(!r.keys[0].missing());
    assert!(r.keys[0].unusable());
    assert_eq!(r.exit_code(), EXIT_MISSING);
    // A warning is not critical: the key serves.
    let mut b = Builder::default();
    b.need(id(1), ts("USERS"));
    b.place(
        id(1),
        hsm(
            "L",
            vec![HealthFlag {
                severity: Severity::Warning,
                ..flag
            }],
        ),
    );
    assert_eq!(b.finish("DB", "now".into(), 0).exit_code(), EXIT_ALL_FOUND);
}

#[test]
fn retiring_the_only_place_of_a_needed_key_is_blocked_and_a_copy_elsewhere_frees_it() {
    let mut b = Builder::default();
    // The pre-migration key: only in the file keystore, a READ ONLY tablespace needs it.
    b.need(id(1), ts("ARCHIVE"));
    b.place(id(1), wallet("/w/tde"));
    // The current key: on the HSM only.
    b.need(
        id(2),
        Need::Current {
            con_id: 0,
            container: "the database".into(),
        },
    );
    b.place(id(2), hsm(&id(2).hsm_label(), vec![]));
    // Nothing needs this one.
    b.place(id(3), wallet("/w/tde"));
    b.kind(id(1), KeyKind::Software);
    b.kind(id(2), KeyKind::Software);
    b.kind(id(2), KeyKind::Hsm);
    b.kind(id(2), KeyKind::Software);
    let r = b.finish("DB", "now".into(), 0);
    let k1 = r.keys.iter().find(|k| k.key == id(1)).unwrap();
    assert_eq!(
        k1.id,
        id(1).software_key_id(),
        "a file key goes by its base64 KEY_ID"
    );
    let k2 = r.keys.iter().find(|k| k.key == id(2)).unwrap();
    assert_eq!(k2.kind, KeyKind::Hsm, "HSM wins");
    assert_eq!(k2.id, id(2).use_key_id());

    let wallet_dir = Retiring::FileWallet {
        dir: PathBuf::from("/w/tde"),
    };
    let v = r.before_retiring(&wallet_dir);
    assert!(!v.safe());
    assert_eq!(v.blocking.len(), 1);
    assert_eq!(v.blocking[0].key, id(1).software_key_id());
    assert!(v.sentence.contains("ARCHIVE"), "{}", v.sentence);
    assert!(v.sentence.starts_with("Do not retire"), "{}", v.sentence);
    assert!(!v.sentence.contains("Not read"), "{}", v.sentence);

    let key = Retiring::HsmKey {
        label: id(2).hsm_label(),
    };
    assert!(!r.before_retiring(&key).safe());
    assert!(
        r.before_retiring(&Retiring::HsmKey {
            label: id(9).hsm_label()
        })
        .safe()
    );
    assert!(
        !r.before_retiring(&Retiring::Hsm {
            token: "tok".into()
        })
        .safe()
    );

    // A sealed backup holds the file key too: the wallet may go.
    let mut b = Builder::default();
    b.need(id(1), ts("ARCHIVE"));
    b.place(id(1), wallet("/w/tde"));
    b.place(
        id(1),
        Place::SealedBackup {
            file: PathBuf::from("/backups/b.tdkb"),
            inner: "tde/ewallet.p12".into(),
            entry: "e".into(),
        },
    );
    let r = b.finish("DB", "now".into(), 0);
    let v = r.before_retiring(&wallet_dir);
    assert!(v.safe(), "{}", v.sentence);
    assert!(
        v.sentence
            .contains("also in tdekey's wallet backup /backups/b.tdkb"),
        "{}",
        v.sentence
    );
    // A keystore file there left unread: not known to be safe.
    let mut b = Builder::default();
    b.need(id(1), ts("ARCHIVE"));
    b.place(id(1), hsm(&id(1).hsm_label(), vec![]));
    b.unread("/w/tde/ewallet.p12", "no wallet password was given", false);
    let unknown = b.finish("DB", "now".into(), 0).before_retiring(&wallet_dir);
    assert!(unknown.unknown && !unknown.safe(), "{}", unknown.sentence);
    assert!(
        unknown.sentence.starts_with("Not known yet"),
        "{}",
        unknown.sentence
    );
    // A wallet elsewhere is not the one retired.
    assert!(
        r.before_retiring(&Retiring::FileWallet {
            dir: PathBuf::from("/w/other")
        })
        .safe()
    );
}

#[test]
fn the_json_names_every_form_and_the_html_escapes() {
    let mut b = Builder::default();
    b.need(
        id(1),
        Need::Recorded {
            what: "<script>".into(),
            at_ms: 0,
        },
    );
    let r = b.finish("D<B>", "now".into(), 0);
    let j: serde_json::Value = serde_json::from_str(&r.json().unwrap()).unwrap();
    let k = &j["keys"][0];
    assert_eq!(k["forms"]["hsm_key_id"], id(1).use_key_id());
    assert_eq!(
        k["id"],
        id(1).raw_hex(),
        "nothing says which keystore made it"
    );
    assert_eq!(k["kind"], "unknown");
    assert_eq!(k["forms"]["masterkeyid"], id(1).raw_hex());
    assert_eq!(k["needs"][0]["kind"], "recorded");
    let h = r.html();
    assert!(!h.contains("<script>"));
    assert!(h.contains("D&lt;B&gt;"));
    assert!(h.contains("MISSING"));
}

#[test]
fn a_key_left_on_the_other_hsm_is_not_missing_but_unchecked_and_blocks_retiring_that_hsm() {
    let mut b = Builder::default();
    b.need(
        id(4),
        Need::Recorded {
            what: "a key on the other HSM before migration #1".into(),
            at_ms: 0,
        },
    );
    b.place(
        id(4),
        Place::OtherHsm {
            migration: 1,
            label: id(4).hsm_label(),
        },
    );
    b.unread(
        "the other HSM (path B, migration #1)",
        "not connected",
        true,
    );
    let r = b.finish("DB", "now".into(), 0);
    assert!(r.missing().is_empty());
    assert_eq!(r.exit_code(), EXIT_INCOMPLETE, "not proven, not missing");
    let v = r.before_retiring(&Retiring::OtherHsm);
    assert!(!v.safe(), "{}", v.sentence);
    assert!(
        r.before_retiring(&Retiring::FileWallet {
            dir: PathBuf::from("/w/tde")
        })
        .safe()
    );
}

#[test]
fn a_key_not_looked_up_on_the_hsm_is_unchecked_not_missing() {
    let mut b = Builder::default();
    b.need(id(5), ts("USERS"));
    b.unchecked(id(5));
    b.unread("HSM token \"t\"", "looking up failed", true);
    let r = b.finish("DB", "now".into(), 0);
    assert!(r.missing().is_empty());
    assert_eq!(r.unchecked().len(), 1);
    assert_eq!(r.found(), 0);
    assert_eq!(r.exit_code(), EXIT_INCOMPLETE);
    assert!(
        r.summary().contains("1 not looked up on the HSM"),
        "{}",
        r.summary()
    );
}
