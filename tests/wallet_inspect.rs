//! `tdekey wallet inspect` through the real binary on real Oracle-made files
//! (`tests/fixtures/wallets/dbms-cloud-certs/`, see SOURCES.md there) and on wallets tdekey
//! writes itself: each cwallet.sso's kind in the text output, an auto-login file listed without
//! a password, a local auto-login file here and elsewhere, a certificate wallet, `--files-only
//! --file`, a wallet directory of the layout before WALLET_ROOT, an empty password variable.

mod common;

use common::{Env, run};
use std::path::{Path, PathBuf};
use tdekey::secret::Secret;
use tdekey::tde::labels::MasterKeyId;
use tdekey::wallet::{SsoKind, tde_keystore_entries, write_sso, write_wallet};

/// The password of the real certificate wallet, published with it.
const CERTS_PASSWORD: &str = "asdf1234";
const TDE_PASSWORD: &str = "Inspect-Wallet-Pw-1";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/wallets")
        .join(name)
}

/// A TDE keystore of two master keys written by tdekey, with its entry values (never to be
/// printed).
fn tde_wallet() -> (Vec<u8>, Vec<String>) {
    let entries =
        tde_keystore_entries(&[MasterKeyId([0x42; 16]), MasterKeyId([0x17; 16])]).expect("entries");
    // The values of the MASTERKEY pointers name a key id (shown); the others are kept secret.
    let values = entries
        .iter()
        .filter(|(n, v)| !n.contains(".MASTERKEY") && !v.expose().is_empty())
        .map(|(_, v)| v.expose().to_owned())
        .collect();
    let p12 = write_wallet(&entries, &Secret::from(TDE_PASSWORD), 2048).expect("wallet");
    (p12, values)
}

fn sso_of(p12: &[u8], kind: SsoKind, host_user: Option<(&str, &str)>) -> Vec<u8> {
    write_sso(p12, &Secret::from(TDE_PASSWORD), kind, host_user).expect("cwallet.sso")
}

fn inspect(env: &Env, args: &[&std::ffi::OsStr]) -> (i32, String, String) {
    run({
        let mut c = env.tdekey();
        c.args(["wallet", "inspect"])
            .args(args)
            .env_remove("TDEKEY_WALLET_PASSWORD");
        c
    })
}

fn audited(env: &Env) -> Vec<String> {
    let (code, out, err) = run({
        let mut c = env.tdekey();
        c.args(["audit", "list", "--action", "wallet.inspect"]);
        c
    });
    assert_eq!(code, 0, "{err}");
    out.lines()
        .filter(|l| l.contains("wallet.inspect"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_text_output_names_each_cwallet_sso_kind_and_an_unknown_version_as_unreadable() {
    let env = Env::new();
    let root = env.dir.path().join("wallet_root");
    let guid = "0F1E2D3C4B5A69788796A5B4C3D2E1F0";
    for d in ["tde", "tde_seps", &format!("{guid}/tde")] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    // The real Oracle-made file (type 0x36), a local one, and the real file with version 5.
    let real = std::fs::read(fixture("dbms-cloud-certs/cwallet.sso")).unwrap();
    std::fs::write(root.join("tde/cwallet.sso"), &real).unwrap();
    let (p12, _) = tde_wallet();
    let local = sso_of(
        &p12,
        SsoKind::LocalAutoLogin,
        Some(("otherhost", "otheruser")),
    );
    std::fs::write(root.join("tde_seps/cwallet.sso"), &local).unwrap();
    let mut v5 = real.clone();
    v5[7] = 5;
    std::fs::write(root.join(guid).join("tde/cwallet.sso"), &v5).unwrap();

    let (code, out, err) = inspect(
        &env,
        &[
            "--files-only".as_ref(),
            "--wallet-root".as_ref(),
            root.as_os_str(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let line = |needle: &str| {
        out.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle}:\n{out}"))
            .to_owned()
    };
    let tde = line("wallet_root/tde/cwallet.sso: ");
    assert!(
        tde.contains(": auto-login (type 0x36, header version 6, scheme 0x06 (AES-128))"),
        "{tde}"
    );
    let seps = line("tde_seps/cwallet.sso: ");
    assert!(
        seps.contains(": local auto-login (opens only on the host"),
        "{seps}"
    );
    let pdb = line(&format!("{guid}/tde/cwallet.sso: "));
    assert!(
        pdb.contains("header version 5 (a 10g wallet): tdekey reads only version 6"),
        "{pdb}"
    );
    assert!(
        pdb.trim_start().starts_with('!'),
        "shown as a problem: {pdb}"
    );
    assert!(
        !pdb.contains("auto-login (type"),
        "no kind without a problem: {pdb}"
    );
    // --files-only opens nothing, so nothing is recorded.
    assert!(audited(&env).is_empty());

    // The JSON gives no kind for the version-5 file, and says why.
    let (code, out, err) = inspect(
        &env,
        &[
            "--json".as_ref(),
            "--files-only".as_ref(),
            "--wallet-root".as_ref(),
            root.as_os_str(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let pdb = &v["wallet_root"]["pdb_keystores"][0]["auto_login"];
    assert!(pdb["kind"].is_null(), "{pdb}");
    assert!(
        pdb["problem"]
            .as_str()
            .unwrap()
            .contains("header version 5")
    );
    assert_eq!(v["wallet_root"]["auto_login"][0]["kind"], "auto-login");
    assert_eq!(
        v["wallet_root"]["auto_login"][1]["kind"],
        "local-auto-login"
    );
    assert_eq!(v["wallet_root"]["layout"], "wallet-root");
}

#[test]
fn a_real_auto_login_file_lists_its_entries_without_a_password() {
    let env = Env::new();
    let sso = fixture("dbms-cloud-certs/cwallet.sso");
    let (code, out, err) = inspect(&env, &["--file".as_ref(), sso.as_os_str()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("auto-login, opened without a password: 0 master keys: this is not a TDE keystore (10 certificates)"),
        "{out}"
    );
    assert!(
        out.contains("pbeWithSHAAnd3-KeyTripleDES-CBC, 10000 iterations"),
        "{out}"
    );
    let audit = audited(&env);
    assert_eq!(audit.len(), 1, "{audit:?}");
    // A password given for it is not needed, and the output says so.
    let pw = env.dir.path().join("pw.txt");
    std::fs::write(&pw, "not-needed\n").unwrap();
    let (code, out, err) = inspect(
        &env,
        &[
            "--file".as_ref(),
            sso.as_os_str(),
            "--password-file".as_ref(),
            pw.as_os_str(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("holds its own password, so the password file was not read"),
        "{out}"
    );
    assert_eq!(audited(&env).len(), 2);
    assert!(
        audit[0].contains("success") && audit[0].contains("cwallet.sso"),
        "{audit:?}"
    );

    // A TDE keystore made auto-login: entry names are listed, never values.
    let (p12, values) = tde_wallet();
    let file = env.dir.path().join("cwallet.sso");
    std::fs::write(&file, sso_of(&p12, SsoKind::AutoLogin, None)).unwrap();
    let (code, out, err) = inspect(
        &env,
        &["--json".as_ref(), "--file".as_ref(), file.as_os_str()],
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let entries = v["wallet"]["entries"].as_array().unwrap();
    let keys = entries.iter().filter(|e| e["kind"] == "master-key").count();
    assert_eq!(keys, 2, "{out}");
    assert_eq!(v["wallet"]["auto_login"]["kind"], "auto-login");
    let (_, text, _) = inspect(&env, &["--file".as_ref(), file.as_os_str()]);
    assert!(text.contains("2 master keys (1 current)"), "{text}");
    assert!(
        text.contains("ORACLE.SECURITY.DB.ENCRYPTION.MASTERKEY"),
        "{text}"
    );
    for value in &values {
        assert!(!out.contains(value.as_str()) && !text.contains(value.as_str()));
    }
    assert!(!common::contains(
        &env.all_bytes_except_tokens(),
        &values[0]
    ));
    assert_eq!(audited(&env).len(), 4);
}

#[test]
fn a_local_auto_login_file_opens_for_its_host_and_user_and_elsewhere_says_why_not() {
    let env = Env::new();
    let (p12, _) = tde_wallet();
    // Made here by this user: the binary, run by the same user on the same host, opens it.
    let here = env.dir.path().join("here.sso");
    std::fs::write(&here, sso_of(&p12, SsoKind::LocalAutoLogin, None)).unwrap();
    let (code, out, err) = inspect(&env, &["--file".as_ref(), here.as_os_str()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("local auto-login (opens only on the host"),
        "{out}"
    );
    assert!(out.contains("2 master keys (1 current)"), "{out}");

    // Made for another host and user: refused with the reason and what to do.
    let there = env.dir.path().join("there.sso");
    std::fs::write(
        &there,
        sso_of(
            &p12,
            SsoKind::LocalAutoLogin,
            Some(("dbhost7.example.com", "oracle7")),
        ),
    )
    .unwrap();
    let (code, out, err) = inspect(&env, &["--file".as_ref(), there.as_os_str()]);
    assert_eq!(code, 1, "{out}");
    let (host, user) = tdekey::wallet::current_host_user();
    let short = host.split('.').next().unwrap();
    assert!(
        err.contains(&format!(
            "local auto-login wallet that does not open for OS user {user} on host {short}"
        )),
        "{err}"
    );
    assert!(err.contains("ORA-12578"), "{err}");
    assert!(!out.contains("ORACLE.SECURITY"), "nothing listed: {out}");
    // Under a WALLET_ROOT the report is still printed, with the reason: exit 0.
    let root = env.dir.path().join("wallet_root");
    std::fs::create_dir_all(root.join("tde")).unwrap();
    std::fs::copy(&there, root.join("tde/cwallet.sso")).unwrap();
    let (code, out, err) = inspect(&env, &["--wallet-root".as_ref(), root.as_os_str()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.lines().any(|l| l.starts_with("! ")
            && l.contains("local auto-login wallet that does not open for OS user")),
        "{out}"
    );
    let audit = audited(&env);
    assert_eq!(audit.len(), 3, "{audit:?}");
    assert!(
        audit[0].contains("failure") && audit[1].contains("failure"),
        "the newest is the refusal: {audit:?}"
    );
}

#[test]
fn a_certificate_wallet_says_it_is_not_a_tde_keystore() {
    let env = Env::new();
    let p12 = fixture("dbms-cloud-certs/ewallet.p12");
    let (code, out, err) = run({
        let mut c = env.tdekey();
        c.args(["wallet", "inspect", "--file"])
            .arg(&p12)
            .env("TDEKEY_WALLET_PASSWORD", CERTS_PASSWORD);
        c
    });
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("ewallet.p12: 0 master keys: this is not a TDE keystore (10 certificates)"),
        "{out}"
    );
    let (code, out, err) = run({
        let mut c = env.tdekey();
        c.args(["wallet", "inspect", "--json", "--file"])
            .arg(&p12)
            .env("TDEKEY_WALLET_PASSWORD", CERTS_PASSWORD);
        c
    });
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["wallet"]["certificates"], 10);
    assert_eq!(v["wallet"]["entries"].as_array().unwrap().len(), 0);
    assert!(v["wallet"]["auto_login"].is_null());
}

#[test]
fn files_only_with_a_file_prints_what_it_read_and_opens_nothing() {
    let env = Env::new();
    let sso = fixture("dbms-cloud-certs/cwallet.sso");
    let p12 = fixture("dbms-cloud-certs/ewallet.p12");
    let junk = env.dir.path().join("notes.txt");
    std::fs::write(&junk, "not a wallet").unwrap();
    let run_on = |f: &Path| {
        let (code, out, err) = inspect(
            &env,
            &["--files-only".as_ref(), "--file".as_ref(), f.as_os_str()],
        );
        assert_eq!(code, 0, "{err}");
        assert!(
            out.starts_with(&format!("File {}  ", f.display())),
            "names the file first: {out}"
        );
        out
    };
    let out = run_on(&sso);
    assert!(out.contains("11925 bytes"), "{out}");
    assert!(
        out.contains("an auto-login wallet (cwallet.sso): auto-login (type 0x36, header version 6, scheme 0x06 (AES-128))"),
        "{out}"
    );
    let out = run_on(&p12);
    assert!(out.contains("11880 bytes"), "{out}");
    assert!(
        out.contains("a PKCS#12 wallet (the ewallet.p12 format)"),
        "{out}"
    );
    let out = run_on(&junk);
    assert!(out.contains("not a wallet file tdekey knows"), "{out}");
    assert!(audited(&env).is_empty(), "--files-only opens nothing");
}

#[test]
fn a_wallet_directory_of_the_layout_before_wallet_root_is_recognised() {
    let env = Env::new();
    let dir = env.dir.path().join("wallet");
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["ewallet.p12", "cwallet.sso"] {
        std::fs::copy(fixture(&format!("dbms-cloud-certs/{f}")), dir.join(f)).unwrap();
    }
    let (code, out, err) = run({
        let mut c = env.tdekey();
        c.args(["wallet", "inspect", "--wallet-root"])
            .arg(&dir)
            .env("TDEKEY_WALLET_PASSWORD", CERTS_PASSWORD);
        c
    });
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with(&format!(
            "Wallet directory {}: ewallet.p12 is directly in it, the layout before WALLET_ROOT",
            dir.display()
        )),
        "{out}"
    );
    assert!(!out.contains("has not been created here"), "{out}");
    assert!(
        out.contains(&format!(
            "{}: 0 master keys: this is not a TDE keystore (10 certificates)",
            dir.join("ewallet.p12").display()
        )),
        "ewallet.p12 is opened with the password: {out}"
    );
    assert!(
        out.contains(&format!(
            "{}: auto-login, opened without a password",
            dir.join("cwallet.sso").display()
        )),
        "cwallet.sso is opened without one: {out}"
    );
    assert_eq!(audited(&env).len(), 2);
}

#[test]
fn an_empty_password_variable_is_treated_as_absent() {
    let env = Env::new();
    let root = env.dir.path().join("wallet_root");
    std::fs::create_dir_all(root.join("tde")).unwrap();
    std::fs::copy(
        fixture("synthetic-tde-pbes2-aes256.p12"),
        root.join("tde/ewallet.p12"),
    )
    .unwrap();
    let (code, out, err) = run({
        let mut c = env.tdekey();
        c.args(["wallet", "inspect", "--wallet-root"])
            .arg(&root)
            .env("TDEKEY_WALLET_PASSWORD", "");
        c
    });
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Entries of ewallet.p12 not listed: give the wallet password"),
        "{out}"
    );
    assert!(!err.contains("password is wrong"), "{err}");
    assert!(
        audited(&env).is_empty(),
        "nothing was opened with an empty password"
    );
}
