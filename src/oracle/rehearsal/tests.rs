//! The rehearsal on a stand-in for tdekey's token (which records every call, so a test sees
//! that nothing of the other HSM reaches it): a database on another vendor's HSM, the library
//! rule that decides which HSM the HSM keystore is, the other HSM's login check, and old state
//! files.

use super::other_hsm::{oracle_libraries, other_vendor_library};
use super::{
    HsmKeystore, LoginRefused, Rehearsal, create_other_hsm, host_root, other_hsm_seed_requests,
    seed_requests, state_path,
};
use crate::model::{Multitenant, PinFormat};
use crate::oracle::{Connector, OracleError};
use crate::secret::Secret;
use crate::tde::labels::{MASTER_KEY_PREFIX, MasterKeyId, parse_key_id};
use crate::tde::request::{Reply, Request};
use crate::tde::sql::{Credential, Options};
use std::cell::RefCell;
use std::path::{Path, PathBuf};

pub(super) const TOKEN_PIN: &str = "token-pin-1";
const OLD_USER: &str = "ov_oracle";
const OLD_PW: &str = "Old-Hsm-Pw-9";
pub(super) const WALLET_PW: &str = "Wallet-Pw-3";
pub(super) const ROOT: &str = "/u01/app/oracle/admin/OTHER/wallet";
pub(super) const NAME: &str = "On other";

/// tdekey's token, as far as the rehearsal sees it.
pub(super) struct Token {
    module: PathBuf,
    logged_in: bool,
    logins: Vec<String>,
    pub(super) labels: RefCell<Vec<String>>,
}

impl HsmKeystore for Token {
    fn token_label(&self) -> Option<String> {
        Some("stand-in token".into())
    }
    fn module_path(&self) -> Option<&Path> {
        Some(&self.module)
    }
    fn logged_in(&self) -> bool {
        self.logged_in
    }
    fn check_login(
        &mut self,
        user: &str,
        password: &Secret,
        _: PinFormat,
    ) -> Result<(), LoginRefused> {
        self.logins.push(user.to_owned());
        if password.expose() == TOKEN_PIN {
            self.logged_in = true;
            Ok(())
        } else {
            Err(LoginRefused::Wrong("CKR_PIN_INCORRECT".into()))
        }
    }
    fn count_label(&self, label: &str) -> Result<usize, OracleError> {
        Ok(self.labels.borrow().iter().filter(|l| *l == label).count())
    }
    fn create_data_object(&self, label: &str, _: &str, _: &[u8]) -> Result<(), OracleError> {
        self.labels.borrow_mut().push(label.to_owned());
        Ok(())
    }
    fn generate_master_key(&self) -> Result<MasterKeyId, OracleError> {
        let n = self.labels.borrow().len() as u8;
        let id = MasterKeyId([n.wrapping_add(1); 16]);
        self.labels.borrow_mut().push(id.hsm_label());
        Ok(id)
    }
}

pub(super) struct World {
    pub(super) dir: tempfile::TempDir,
    pub(super) token: Token,
}

impl World {
    pub(super) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let module = dir.path().join("libtoken_pkcs11.so");
        std::fs::write(&module, b"\x7fELF the module tdekey loads").unwrap();
        World {
            token: Token {
                module,
                logged_in: false,
                logins: Vec::new(),
                labels: RefCell::new(Vec::new()),
            },
            dir,
        }
    }

    pub(super) fn data(&self) -> &Path {
        self.dir.path()
    }

    fn host(&self) -> PathBuf {
        host_root(self.data(), NAME)
    }

    /// A database created on the other HSM and set up by its seeding statements.
    fn on_other_hsm() -> Self {
        let mut w = World::new();
        create_other_hsm(
            w.data(),
            NAME,
            Multitenant::NonCdb,
            OLD_USER,
            &Secret::from(OLD_PW),
        )
        .unwrap();
        let requests = other_hsm_seed_requests(
            ROOT,
            &Secret::from(WALLET_PW),
            OLD_USER,
            &Secret::from(OLD_PW),
        );
        let mut r = w.rehearsal();
        for req in &requests {
            let reply = r.run(req).unwrap().reply;
            assert!(!reply.is_error(), "{}: {reply:?}", req.title());
        }
        drop(r);
        w
    }

    fn rehearsal(&mut self) -> Rehearsal<'_, Token> {
        let path = state_path(self.dir.path(), NAME);
        Rehearsal::open(
            &path,
            NAME,
            Multitenant::NonCdb,
            &mut self.token,
            PinFormat::Plain,
        )
        .unwrap()
    }

    /// Replaces the host's libraries with a copy of tdekey's module, as the wizard's step 4.
    fn put_module_in_place(&self) {
        let hsm = self.host().join("opt/oracle/extapi/64/hsm");
        std::fs::remove_dir_all(&hsm).unwrap();
        let dir = hsm.join("softhsm/2.6");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(&self.token.module, dir.join("libtoken_pkcs11.so")).unwrap();
    }
}

pub(super) fn hsm(user: &str, pw: &str) -> Credential {
    Credential::Hsm {
        user: user.into(),
        password: Secret::from(pw),
    }
}

fn open(credential: Credential) -> Request {
    Request::OpenKeystore {
        credential,
        all_containers: false,
    }
}

fn close(credential: Credential) -> Request {
    Request::CloseKeystore {
        credential: Some(credential),
        all_containers: false,
    }
}

fn reverse(wallet: &str, user: &str, pw: &str) -> Request {
    Request::ReverseMigrate {
        wallet_password: Secret::from(wallet),
        hsm_user: Some(user.into()),
        hsm_password: Secret::from(pw),
    }
}

pub(super) fn configuration(value: &str) -> Request {
    Request::SetTdeConfiguration {
        value: value.into(),
        all_instances: false,
    }
}

/// The ORA- codes of a refusal, in order.
fn codes(reply: &Reply) -> Vec<String> {
    match reply {
        Reply::Error { error, more } => std::iter::once(error)
            .chain(more)
            .map(|e| format!("{}: {}", e.code, e.text))
            .collect(),
        other => panic!("expected an ORA- error, got {other:?}"),
    }
}

fn run(r: &mut Rehearsal<'_, Token>, req: &Request) -> Reply {
    r.run(req).unwrap().reply
}

/// (KEYSTORE_TYPE, HSM label or key id) of each row of V$ENCRYPTION_KEYS.
fn keys(r: &mut Rehearsal<'_, Token>) -> Vec<(String, String)> {
    let Reply::Rows { rows } = run(r, &Request::QueryKeys) else {
        panic!("no rows")
    };
    rows.iter()
        .map(|row| {
            let get = |c: &str| {
                row.0
                    .iter()
                    .find(|(k, _)| k == c)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            let id = get("KEY_ID");
            let label = parse_key_id(&id).map_or(id, |(_, m)| m.hsm_label());
            (get("KEYSTORE_TYPE"), label)
        })
        .collect()
}

fn other_keys(w: &World) -> Vec<String> {
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(state_path(w.data(), NAME)).unwrap()).unwrap();
    json["other_hsm"]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_database_on_the_other_hsm_keeps_its_keys_off_the_token() {
    let mut w = World::on_other_hsm();
    assert_eq!(
        oracle_libraries(&w.host()),
        vec![other_vendor_library(&w.host())]
    );
    let on_other = other_keys(&w);
    assert_eq!(on_other.len(), 1);
    assert!(on_other[0].starts_with(&format!("{MASTER_KEY_PREFIX}06")));
    let mut r = w.rehearsal();
    // HSM only, open; the current key (the only one the view shows) on the other HSM.
    assert_eq!(keys(&mut r), vec![("HSM".to_owned(), on_other[0].clone())]);
    drop(r);
    assert!(w.token.labels.borrow().is_empty(), "nothing on the token");
    assert!(w.token.logins.is_empty(), "no login on the token");
    // The state holds the user and a verifier, never the password.
    let bytes = std::fs::read(state_path(w.data(), NAME)).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.contains(OLD_USER) && text.contains("$argon2id$"));
    assert!(!text.contains(OLD_PW) && !text.contains(WALLET_PW));
}

#[test]
fn the_other_hsm_checks_its_own_user_and_password() {
    let mut w = World::on_other_hsm();
    let mut r = w.rehearsal();
    let refused = vec![
        "ORA-28353: failed to open wallet".to_owned(),
        "ORA-28407: Hardware Security Module failed with PKCS#11 error CKR_PIN_INCORRECT(160)"
            .to_owned(),
    ];
    for (user, pw) in [(OLD_USER, "wrong"), ("someone", OLD_PW), ("cu", TOKEN_PIN)] {
        assert_eq!(codes(&run(&mut r, &close(hsm(user, pw)))), refused);
    }
    assert!(!run(&mut r, &close(hsm(OLD_USER, OLD_PW))).is_error());
    assert_eq!(codes(&run(&mut r, &open(hsm(OLD_USER, "wrong")))), refused);
    assert!(keys(&mut r).is_empty(), "closed: the view shows nothing");
    assert!(!run(&mut r, &open(hsm(OLD_USER, OLD_PW))).is_error());
    assert_eq!(keys(&mut r).len(), 1);
    // SET KEY on the other HSM: a second key there, none on the token.
    let set_key = Request::SetKey {
        tag: Some("rotated".into()),
        credential: hsm(OLD_USER, OLD_PW),
        options: Options::default(),
    };
    assert!(!run(&mut r, &set_key).is_error());
    drop(r);
    assert_eq!(other_keys(&w).len(), 2);
    assert!(w.token.labels.borrow().is_empty() && w.token.logins.is_empty());
}

#[test]
fn the_reverse_migration_logs_in_to_the_other_hsm() {
    let mut w = World::on_other_hsm();
    let mut r = w.rehearsal();
    assert!(!run(&mut r, &configuration("FILE|HSM")).is_error());
    assert!(!run(&mut r, &Request::Restart).is_error());
    let wallet = Credential::Password(Secret::from(WALLET_PW));
    assert!(!run(&mut r, &open(wallet)).is_error());
    assert!(!run(&mut r, &open(hsm(OLD_USER, OLD_PW))).is_error());
    let wrong = run(&mut r, &reverse(WALLET_PW, OLD_USER, "wrong"));
    assert_eq!(codes(&wrong)[0], "ORA-28353: failed to open wallet");
    assert!(codes(&run(&mut r, &reverse(WALLET_PW, "cu", TOKEN_PIN)))[0].starts_with("ORA-28353"));
    assert!(!run(&mut r, &reverse(WALLET_PW, OLD_USER, OLD_PW)).is_error());
    let shown = keys(&mut r);
    let current = shown.last().unwrap();
    assert_eq!(current.0, "SOFTWARE KEYSTORE", "{shown:?}");
    drop(r);
    assert!(w.token.labels.borrow().is_empty() && w.token.logins.is_empty());
}

#[test]
fn no_library_or_more_than_one_answers_ora_28376() {
    let mut w = World::on_other_hsm();
    let host = w.host();
    let library = other_vendor_library(&host);
    let stand_in = std::fs::read(&library).unwrap();
    let mut r = w.rehearsal();
    assert!(!run(&mut r, &close(hsm(OLD_USER, OLD_PW))).is_error());
    std::fs::remove_file(&library).unwrap();
    let no_library = vec!["ORA-28376: cannot find PKCS11 library".to_owned()];
    assert_eq!(
        codes(&run(&mut r, &open(hsm(OLD_USER, OLD_PW)))),
        no_library
    );
    assert_eq!(codes(&run(&mut r, &open(hsm("cu", TOKEN_PIN)))), no_library);
    // Two libraries: the other vendor's and tdekey's.
    std::fs::write(&library, &stand_in).unwrap();
    let ours = host.join("opt/oracle/extapi/64/hsm/softhsm/2.6");
    std::fs::create_dir_all(&ours).unwrap();
    std::fs::write(
        ours.join("libtoken_pkcs11.so"),
        b"\x7fELF the module tdekey loads",
    )
    .unwrap();
    assert_eq!(
        codes(&run(&mut r, &open(hsm(OLD_USER, OLD_PW)))),
        no_library
    );
    // A file that is not a library does not count.
    std::fs::remove_dir_all(&ours).unwrap();
    std::fs::create_dir_all(&ours).unwrap();
    std::fs::write(ours.join("README"), b"not a library").unwrap();
    assert!(!run(&mut r, &open(hsm(OLD_USER, OLD_PW))).is_error());
}

#[test]
fn tdekeys_module_in_place_reaches_the_token_and_hides_the_other_hsm() {
    let mut w = World::on_other_hsm();
    let old_key = other_keys(&w).remove(0);
    let mut r = w.rehearsal();
    assert!(!run(&mut r, &close(hsm(OLD_USER, OLD_PW))).is_error());
    drop(r);
    w.put_module_in_place();
    let mut r = w.rehearsal();
    let refused = codes(&run(&mut r, &open(hsm(OLD_USER, OLD_PW))));
    assert!(refused[1].contains("CKR_PIN_INCORRECT"), "{refused:?}");
    assert!(!run(&mut r, &open(hsm("cu", TOKEN_PIN))).is_error());
    // The token does not hold the other HSM's key: the view does not list it.
    assert!(keys(&mut r).is_empty());
    // Reverse-migrating a key that is on the other HSM now fails: its library is gone.
    assert!(!run(&mut r, &configuration("FILE|HSM")).is_error());
    assert!(!run(&mut r, &Request::Restart).is_error());
    let refused = codes(&run(&mut r, &reverse(WALLET_PW, "cu", TOKEN_PIN)));
    assert_eq!(
        refused[0],
        "ORA-28374: typed master key not found in wallet"
    );
    drop(r);
    assert_eq!(w.token.logins, [OLD_USER, "cu", "cu"]);
    assert!(!w.token.labels.borrow().contains(&old_key));
    // A library that is neither tdekey's module nor the stand-in: the rehearsal says so.
    let lib = oracle_libraries(&w.host()).remove(0);
    std::fs::write(&lib, b"\x7fELF some other build").unwrap();
    let mut r = w.rehearsal();
    let err = r.run(&open(hsm("cu", TOKEN_PIN))).unwrap_err().to_string();
    assert!(err.contains("neither the module tdekey loads"), "{err}");
}

#[test]
fn after_step_4_the_migration_goes_to_the_token() {
    let mut w = World::on_other_hsm();
    let mut r = w.rehearsal();
    for req in [
        configuration("FILE|HSM"),
        Request::Restart,
        open(Credential::Password(Secret::from(WALLET_PW))),
        open(hsm(OLD_USER, OLD_PW)),
        reverse(WALLET_PW, OLD_USER, OLD_PW),
        configuration("FILE"),
        Request::Restart,
    ] {
        let reply = run(&mut r, &req);
        assert!(!reply.is_error(), "{}: {reply:?}", req.title());
    }
    drop(r);
    w.put_module_in_place();
    let mut r = w.rehearsal();
    for req in [
        configuration("HSM|FILE"),
        Request::Restart,
        Request::Migrate {
            hsm_user: "cu".into(),
            hsm_password: Secret::from(TOKEN_PIN),
            wallet_password: Secret::from(WALLET_PW),
            backup: None,
        },
    ] {
        let reply = run(&mut r, &req);
        assert!(!reply.is_error(), "{}: {reply:?}", req.title());
    }
    let shown = keys(&mut r);
    drop(r);
    let on_token: Vec<String> = w
        .token
        .labels
        .borrow()
        .iter()
        .filter(|l| l.starts_with(MASTER_KEY_PREFIX))
        .cloned()
        .collect();
    assert_eq!(on_token.len(), 1);
    assert_eq!(
        shown.last().unwrap(),
        &("HSM".to_owned(), on_token[0].clone())
    );
    assert!(!on_token.contains(&other_keys(&w)[0]));
}

#[test]
fn the_demo_reaches_the_token_whatever_extapi_holds() {
    let mut w = World::new();
    let host = w.host();
    let mut r = w.rehearsal();
    for req in seed_requests(ROOT, &Secret::from(WALLET_PW))
        .iter()
        .chain(&[configuration("HSM|FILE"), Request::Restart])
    {
        assert!(!run(&mut r, req).is_error(), "{}", req.title());
    }
    // No library on its simulated host, yet the migration reaches the token, as before.
    assert!(oracle_libraries(&host).is_empty());
    let migrate = Request::Migrate {
        hsm_user: "cu".into(),
        hsm_password: Secret::from(TOKEN_PIN),
        wallet_password: Secret::from(WALLET_PW),
        backup: None,
    };
    assert!(!run(&mut r, &migrate).is_error());
    drop(r);
    assert_eq!(w.token.logins, ["cu"]);
    assert_eq!(
        w.token
            .labels
            .borrow()
            .iter()
            .filter(|l| l.starts_with(MASTER_KEY_PREFIX))
            .count(),
        1
    );
}

#[test]
fn creating_the_other_hsm_twice_or_with_a_bad_user_is_refused() {
    let w = World::on_other_hsm();
    let again = create_other_hsm(
        w.data(),
        NAME,
        Multitenant::NonCdb,
        OLD_USER,
        &Secret::from(OLD_PW),
    )
    .unwrap_err()
    .to_string();
    assert!(again.contains("exists already"), "{again}");
    for user in ["", "a:b", "a b", "a\"b"] {
        let err = create_other_hsm(
            w.data(),
            "Another",
            Multitenant::NonCdb,
            user,
            &Secret::from(OLD_PW),
        );
        assert!(err.is_err(), "{user:?}");
    }
    assert!(!state_path(w.data(), "Another").exists());
}

#[test]
fn a_state_file_from_before_the_other_hsm_still_loads_and_is_written_alike() {
    let w = World::new();
    let path = state_path(w.data(), NAME);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    // A state as the previous tdekey wrote it: no other_hsm, a secret without on_other_hsm.
    let old = serde_json::json!({
        "format": 1, "database": "OTHER", "created_ms": 1, "restarts": 1,
        "spfile": { "wallet_root": ROOT, "tde_configuration": "HSM|FILE" },
        "memory": { "wallet_root": ROOT, "tde_configuration": "HSM|FILE" },
        "active_configuration": "HSM|FILE",
        "containers": [{ "con_id": 0, "name": "OTHER", "file_open": null, "hsm_open": false }],
        "file": null,
        "seps": { "dir": "/x/tde_seps", "local": false, "user": "cu", "valid": true },
        "keys": [], "hsm_token": null
    });
    std::fs::write(&path, serde_json::to_vec(&old).unwrap()).unwrap();
    let st = super::state::load(&path, NAME, Multitenant::NonCdb).unwrap();
    assert!(st.other_hsm.is_none());
    assert!(st.seps.as_ref().is_some_and(|s| !s.on_other_hsm));
    let written = serde_json::to_value(&st).unwrap();
    assert_eq!(
        written, old,
        "no new field in the file of a database like before"
    );
}

#[test]
fn two_rehearsals_of_one_database_lose_no_update_and_clean_a_killed_write() {
    use crate::tde::request::ParameterName;
    let mut w1 = World::new();
    let dir = w1.dir.path().to_path_buf();
    let path = state_path(&dir, NAME);
    let mut token2 = Token {
        module: w1.token.module.clone(),
        logged_in: false,
        logins: Vec::new(),
        labels: RefCell::new(Vec::new()),
    };
    // Both opened before either ran a statement (the window's console and a command line).
    let mut r1 = w1.rehearsal();
    let mut r2 = Rehearsal::open(
        &path,
        NAME,
        Multitenant::NonCdb,
        &mut token2,
        PinFormat::Plain,
    )
    .unwrap();
    let set = Request::SetWalletRoot {
        dir: ROOT.into(),
        all_instances: false,
    };
    assert!(!r1.run(&set).unwrap().reply.is_error());
    // A write a killed process left beside the state.
    let leftover = path.parent().unwrap().join(format!(
        ".{}.k1LLed.tmp",
        path.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&leftover, b"{\"half\":").unwrap();
    // r2 restarts from what r1 wrote, not from the state it loaded when it opened.
    assert!(!r2.run(&Request::Restart).unwrap().reply.is_error());
    assert!(!leftover.exists(), "removed under the lock");
    drop(r2);
    let shown = r1
        .run(&Request::ShowParameter(ParameterName::WalletRoot))
        .unwrap()
        .reply;
    assert!(format!("{shown:?}").contains(ROOT), "{shown:?}");
    let st = super::state::load(&path, NAME, Multitenant::NonCdb).unwrap();
    assert_eq!(st.memory.wallet_root.as_deref(), Some(ROOT));
    assert_eq!(st.restarts, 1);
}
