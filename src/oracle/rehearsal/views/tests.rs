//! The Rehearsal's V$DATABASE_KEY_INFO and V$ENCRYPTED_TABLESPACES, as Oracle keeps them (issue
//! 23): each container's database key and each tablespace key wrapped by the container's
//! current master key after a migration and rotations each way, a READ ONLY tablespace left
//! wrapped by the key it had, per-PDB keys in a united CDB, an old state file made consistent
//! with its history; and what it prints read back by the parsers real outputs are read with.

use super::super::state::TablespaceRecord;
use super::super::tests::{NAME, ROOT, TOKEN_PIN, WALLET_PW, World, configuration, hsm};
use super::super::{HsmKeystore, Rehearsal, seed_requests, state_path};
use crate::model::{Multitenant, PinFormat};
use crate::oracle::Connector;
use crate::secret::Secret;
use crate::tde::labels::{MasterKeyId, parse_key_id};
use crate::tde::render::{Layout, render_reply};
use crate::tde::request::{Reply, Request, interpret};
use crate::tde::sql::Options;
use crate::tde::views::{DatabaseKeyRow, TablespaceRow};

fn open(w: &mut World, multitenant: Multitenant) -> Rehearsal<'_, super::super::tests::Token> {
    let path = state_path(w.dir.path(), NAME);
    Rehearsal::open(&path, NAME, multitenant, &mut w.token, PinFormat::Plain).unwrap()
}

fn ok(r: &mut Rehearsal<'_, super::super::tests::Token>, req: &Request) {
    let reply = r.run(req).unwrap().reply;
    assert!(!reply.is_error(), "{}: {reply:?}", req.title());
}

/// The rows of a query as SQL*Plus would print them, read back by `interpret` in the default
/// column layout and as CSV: both must give what the rehearsal answered.
fn rows(
    r: &mut Rehearsal<'_, super::super::tests::Token>,
    req: &Request,
) -> Vec<crate::tde::output::Row> {
    let reply = r.run(req).unwrap().reply;
    let Reply::Rows { rows } = &reply else {
        panic!("{}: {reply:?}", req.title())
    };
    for layout in [Layout::DEFAULT, Layout::Csv] {
        let text = render_reply(req, &reply, layout);
        assert_eq!(
            interpret(req, &text).as_ref(),
            Ok(&reply),
            "{layout:?}:\n{text}"
        );
    }
    rows.clone()
}

fn database_keys(
    r: &mut Rehearsal<'_, super::super::tests::Token>,
) -> Vec<(u32, Option<MasterKeyId>)> {
    rows(r, &Request::QueryDatabaseKey)
        .iter()
        .map(|x| {
            let d = DatabaseKeyRow::from_row(x).unwrap();
            assert_eq!(d.activated, Some(d.master_key.is_some()));
            (d.con_id, d.master_key)
        })
        .collect()
}

fn tablespaces(
    r: &mut Rehearsal<'_, super::super::tests::Token>,
) -> Vec<(u32, String, Option<MasterKeyId>)> {
    rows(r, &Request::QueryTablespaces)
        .iter()
        .map(|x| {
            let t = TablespaceRow::from_row(x).unwrap();
            assert!(t.encrypted && t.status == "NORMAL" && t.key_version == Some(1));
            (t.con_id, t.name, t.master_key)
        })
        .collect()
}

/// The current key of each container, from V$ENCRYPTION_KEYS (latest activation).
fn current_keys(r: &mut Rehearsal<'_, super::super::tests::Token>) -> Vec<(u32, MasterKeyId)> {
    let mut keys: Vec<(u32, String, MasterKeyId)> = rows(r, &Request::QueryKeys)
        .iter()
        .map(|x| {
            let k = crate::tde::views::KeyRow::from_row(x).unwrap();
            let id = parse_key_id(&k.key_id).unwrap().1;
            (k.con_id, format!("{:020}", k.activated_ms), id)
        })
        .collect();
    keys.sort();
    let mut out: Vec<(u32, MasterKeyId)> = Vec::new();
    for (con, _, id) in keys {
        out.retain(|(c, _)| *c != con);
        out.push((con, id));
    }
    out
}

fn migrate() -> Request {
    Request::Migrate {
        hsm_user: "cu".into(),
        hsm_password: Secret::from(TOKEN_PIN),
        wallet_password: Secret::from(WALLET_PW),
        backup: None,
    }
}

#[test]
fn tablespace_and_database_keys_follow_every_rekey_but_a_read_only_tablespace_keeps_its_key() {
    let mut w = World::new();
    let mut r = open(&mut w, Multitenant::NonCdb);
    assert!(database_keys(&mut r) == vec![(0, None)], "no key yet");
    assert!(
        tablespaces(&mut r).is_empty(),
        "nothing encrypted before a key"
    );
    for req in &seed_requests(ROOT, &Secret::from(WALLET_PW)) {
        ok(&mut r, req);
    }
    let file_key = current_keys(&mut r)[0].1;
    assert_eq!(database_keys(&mut r), vec![(0, Some(file_key))]);
    assert_eq!(
        tablespaces(&mut r),
        vec![(0, "USERS".to_owned(), Some(file_key))]
    );
    // An archive made READ ONLY under the file wallet's key (as a DBA would).
    r.state
        .tablespaces
        .get_or_insert_with(Vec::new)
        .push(TablespaceRecord {
            con_id: 0,
            ts: 6,
            name: "ARCHIVE_2025".into(),
            algorithm: "AES256".into(),
            key_id: file_key.software_key_id(),
            key_version: 1,
            read_only: true,
        });
    r.save().unwrap();
    assert_eq!(tablespaces(&mut r).len(), 2);
    // The migration re-keys: a new key on the HSM wraps USERS and the database key.
    ok(&mut r, &configuration("HSM|FILE"));
    ok(&mut r, &Request::Restart);
    ok(&mut r, &migrate());
    let migrated = current_keys(&mut r)[0].1;
    assert_ne!(migrated, file_key);
    // Oracle's way: SET KEY makes a new key on the HSM.
    ok(
        &mut r,
        &Request::SetKey {
            tag: Some("q1".into()),
            credential: hsm("cu", TOKEN_PIN),
            options: Options::default(),
        },
    );
    let set = current_keys(&mut r)[0].1;
    assert_ne!(set, migrated);
    assert_eq!(database_keys(&mut r), vec![(0, Some(set))]);
    // tdekey's way: a key made on the HSM first, then USE KEY.
    let made = r.keystore().generate_master_key().unwrap();
    ok(
        &mut r,
        &Request::UseKey {
            id: made,
            tag: Some("q2".into()),
            credential: hsm("cu", TOKEN_PIN),
        },
    );
    assert_eq!(current_keys(&mut r)[0].1, made);
    assert_eq!(database_keys(&mut r), vec![(0, Some(made))]);
    assert_eq!(
        tablespaces(&mut r),
        vec![
            (0, "USERS".to_owned(), Some(made)),
            (0, "ARCHIVE_2025".to_owned(), Some(file_key)),
        ]
    );
    // Every MASTERKEYID is a key V$ENCRYPTION_KEYS shows: the read-only one is the file
    // wallet's, which must therefore not be retired.
    let shown: Vec<MasterKeyId> = rows(&mut r, &Request::QueryKeys)
        .iter()
        .map(|x| parse_key_id(x.get("KEY_ID").unwrap()).unwrap().1)
        .collect();
    for id in [file_key, migrated, set, made] {
        assert!(shown.contains(&id), "{id:?} in {shown:?}");
    }
    // Back to the file wallet: a new software key wraps USERS again.
    ok(&mut r, &configuration("FILE|HSM"));
    ok(&mut r, &Request::Restart);
    ok(
        &mut r,
        &Request::OpenKeystore {
            credential: crate::tde::sql::Credential::Password(Secret::from(WALLET_PW)),
            all_containers: false,
        },
    );
    ok(
        &mut r,
        &Request::OpenKeystore {
            credential: hsm("cu", TOKEN_PIN),
            all_containers: false,
        },
    );
    ok(
        &mut r,
        &Request::ReverseMigrate {
            wallet_password: Secret::from(WALLET_PW),
            hsm_user: Some("cu".into()),
            hsm_password: Secret::from(TOKEN_PIN),
        },
    );
    let reversed = current_keys(&mut r)[0].1;
    assert!(![file_key, migrated, set, made].contains(&reversed));
    assert_eq!(
        tablespaces(&mut r)[0],
        (0, "USERS".to_owned(), Some(reversed))
    );
    // Kept across a reopening of the state file.
    drop(r);
    let mut r = open(&mut w, Multitenant::NonCdb);
    assert_eq!(
        tablespaces(&mut r)[1],
        (0, "ARCHIVE_2025".to_owned(), Some(file_key))
    );
}

#[test]
fn a_united_cdb_has_a_database_key_per_container_and_the_pdb_its_own_tablespace_key() {
    let mut w = World::new();
    let mut r = open(&mut w, Multitenant::CdbUnited);
    for req in &seed_requests(ROOT, &Secret::from(WALLET_PW)) {
        ok(&mut r, req);
    }
    ok(&mut r, &configuration("HSM|FILE"));
    ok(&mut r, &Request::Restart);
    ok(&mut r, &migrate());
    let current = current_keys(&mut r);
    assert_eq!(current.len(), 2, "{current:?}");
    let (root, pdb) = (current[0], current[1]);
    assert_eq!((root.0, pdb.0), (1, 3));
    assert_ne!(root.1, pdb.1, "each container has its own key");
    assert_eq!(
        database_keys(&mut r),
        vec![(1, Some(root.1)), (3, Some(pdb.1))]
    );
    // The root keeps nothing encrypted; PDB1's USERS is wrapped by PDB1's key.
    assert_eq!(
        tablespaces(&mut r),
        vec![(3, "USERS".to_owned(), Some(pdb.1))]
    );
    let ts = rows(&mut r, &Request::QueryTablespaces);
    assert_eq!(ts[0].get("TS#"), Some("5"));
}

#[test]
fn a_state_file_from_before_the_tablespaces_gets_them_from_its_key_history() {
    let mut w = World::new();
    let mut r = open(&mut w, Multitenant::NonCdb);
    for req in &seed_requests(ROOT, &Secret::from(WALLET_PW)) {
        ok(&mut r, req);
    }
    let current = current_keys(&mut r)[0].1;
    drop(r);
    // The same state as an older tdekey wrote it: no "tablespaces".
    let path = state_path(w.data(), NAME);
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert!(json["tablespaces"].is_array());
    json.as_object_mut().unwrap().remove("tablespaces");
    std::fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
    let mut r = open(&mut w, Multitenant::NonCdb);
    assert_eq!(
        tablespaces(&mut r),
        vec![(0, "USERS".to_owned(), Some(current))]
    );
    assert_eq!(database_keys(&mut r), vec![(0, Some(current))]);
}
