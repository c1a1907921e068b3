use super::*;

fn fixture(name: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/wallets")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("fixture {}: {e}", p.display()))
}

#[test]
fn the_real_oracle_3des_wallet() {
    let w = read_wallet(
        &fixture("oracle-secret-store-3des.p12"),
        &Secret::from("123Wallet"),
        "f",
    )
    .unwrap();
    assert_eq!(w.mac, "HMAC-SHA1");
    assert_eq!(w.iterations, 1024);
    assert!(
        w.encryption.starts_with("pbeWithSHAAnd3-KeyTripleDES-CBC"),
        "{}",
        w.encryption
    );
    assert_eq!(w.entries.len(), 4, "{:?}", w.entries);
    assert!(
        w.entries.iter().all(|e| e.kind == EntryKind::Other),
        "secret-store entries: {:?}",
        w.entries
    );
}

#[test]
fn the_synthetic_pbes2_tde_wallet() {
    let w = read_wallet(
        &fixture("synthetic-tde-pbes2-aes256.p12"),
        &Secret::from("Test123Wallet"),
        "f",
    )
    .unwrap();
    assert!(w.encryption.starts_with("PBES2"), "{}", w.encryption);
    assert_eq!(w.iterations, 10_000);
    let kinds: Vec<EntryKind> = w.entries.iter().map(|e| e.kind).collect();
    assert!(kinds.contains(&EntryKind::MasterKey), "{:?}", w.entries);
    assert!(
        kinds.contains(&EntryKind::CurrentKeyPointer),
        "{:?}",
        w.entries
    );
    assert!(kinds.contains(&EntryKind::KeyMetadata), "{:?}", w.entries);
    assert!(kinds.contains(&EntryKind::Identity));
    assert!(kinds.contains(&EntryKind::KeyBag));
    for e in w.entries.iter().filter(|e| e.kind == EntryKind::MasterKey) {
        let id = e.key_id.as_deref().unwrap();
        assert!(id.starts_with('A'), "software key ids start with A: {id}");
        assert_eq!(e.master_key_id.as_ref().map(String::len), Some(32));
    }
    let current: Vec<&Entry> = w.entries.iter().filter(|e| e.current).collect();
    assert_eq!(current.len(), 1, "exactly one current master key");
    let pointer = w
        .entries
        .iter()
        .find(|e| e.kind == EntryKind::CurrentKeyPointer)
        .unwrap();
    assert_eq!(
        pointer.key_id, current[0].key_id,
        "MASTERKEY names the current key"
    );
    let json = serde_json::to_string(&w).unwrap();
    assert!(!json.contains("\"value\""), "no values are reported");
}

#[test]
fn wrong_passwords_and_damaged_files_are_named() {
    let bytes = fixture("synthetic-tde-pbes2-aes256.p12");
    let e = read_wallet(&bytes, &Secret::from("nope"), "ewallet.p12").unwrap_err();
    assert_eq!(e, WalletError::WrongPassword("ewallet.p12".into()));
    assert!(e.to_string().contains("password is wrong"));
    let e = read_wallet(
        &bytes[..bytes.len() / 2],
        &Secret::from("Test123Wallet"),
        "ewallet.p12",
    )
    .unwrap_err();
    assert!(
        matches!(e, WalletError::Truncated(_) | WalletError::NotAWallet(_)),
        "{e}"
    );
    let e = read_wallet(b"this is a text file", &Secret::from("x"), "notes.txt").unwrap_err();
    assert_eq!(e, WalletError::NotAWallet("notes.txt".into()));
    // One flipped byte inside the encrypted content: the MAC catches it.
    let mut flipped = bytes.clone();
    let i = flipped.len() - 80;
    flipped[i] ^= 0x01;
    assert!(read_wallet(&flipped, &Secret::from("Test123Wallet"), "f").is_err());
    let e3 = read_wallet(
        &fixture("oracle-secret-store-3des.p12"),
        &Secret::from("123wallet"),
        "f",
    )
    .unwrap_err();
    assert!(matches!(e3, WalletError::WrongPassword(_)), "{e3}");
}

#[test]
fn absurd_iteration_counts_are_refused_before_any_work() {
    let mut pfx = pkcs12::pfx::Pfx::from_der(&fixture("oracle-secret-store-3des.p12")).unwrap();
    pfx.mac_data.as_mut().unwrap().iterations = 20_000_000;
    let hostile = pfx.to_der().unwrap();
    let e = read_wallet(&hostile, &Secret::from("123Wallet"), "hostile.p12").unwrap_err();
    assert_eq!(
        e,
        WalletError::TooManyIterations {
            file: "hostile.p12".into(),
            iterations: 20_000_000
        }
    );
}

#[test]
fn a_wallet_root_report_warns_about_readable_auto_login() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let tde = dir.path().join("tde");
    std::fs::create_dir(&tde).unwrap();
    std::fs::write(
        tde.join("ewallet.p12"),
        fixture("synthetic-tde-pbes2-aes256.p12"),
    )
    .unwrap();
    std::fs::set_permissions(
        tde.join("ewallet.p12"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    std::fs::write(tde.join("cwallet.sso"), b"sso").unwrap();
    std::fs::set_permissions(
        tde.join("cwallet.sso"),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    std::fs::write(tde.join("ewallet_2026112405_pre_migration.p12"), b"x").unwrap();
    let r = inspect_root(dir.path());
    assert_eq!(r.backups, ["ewallet_2026112405_pre_migration.p12"]);
    assert_eq!(r.files[0].mode.as_deref(), Some("0600"));
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
    assert!(
        r.warnings[0].contains("cwallet.sso") && r.warnings[0].contains("its group"),
        "{:?}",
        r.warnings
    );
    let empty = inspect_root(&dir.path().join("nope"));
    assert!(empty.warnings[0].contains("not a directory"));
}

#[test]
fn isolated_pdb_keystores_are_found_under_their_guid() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let guid = "0F1E2D3C4B5A69788796A5B4C3D2E1F0";
    let pdb_tde = dir.path().join(guid).join("tde");
    std::fs::create_dir_all(&pdb_tde).unwrap();
    std::fs::write(pdb_tde.join("ewallet.p12"), b"p12").unwrap();
    std::fs::set_permissions(
        pdb_tde.join("ewallet.p12"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    std::fs::write(pdb_tde.join("ewallet_2026112406_iso.p12"), b"x").unwrap();
    // Not a GUID, or no tde/ inside: not a PDB keystore.
    std::fs::create_dir_all(dir.path().join("not-a-guid").join("tde")).unwrap();
    std::fs::create_dir_all(dir.path().join("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")).unwrap();
    let r = inspect_root(dir.path());
    assert_eq!(r.pdb_keystores.len(), 1);
    let k = &r.pdb_keystores[0];
    assert_eq!(k.guid, guid);
    assert!(k.files[0].exists && !k.files[1].exists);
    assert_eq!(k.backups, ["ewallet_2026112406_iso.p12"]);
    // The root's own keystore is absent but the PDB's is there: no "not created" warning;
    // the PDB wallet readable by others is.
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
    assert!(r.warnings[0].contains(guid) && r.warnings[0].contains("other users"));
}

/// A WALLET_ROOT with `tde/ewallet.p12`, a local auto-login `tde/cwallet.sso`, an ordinary
/// auto-login `tde_seps/cwallet.sso` and a PDB keystore with a local `cwallet.sso`, all 0600.
fn root_with_auto_login() -> tempfile::TempDir {
    use crate::tde::labels::MasterKeyId;
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let pw = Secret::from("Root#Wallet1");
    let p12 = write_wallet(
        &tde_keystore_entries(&[MasterKeyId([8; 16])]).unwrap(),
        &pw,
        1000,
    )
    .unwrap();
    let here = Some(("db1", "oracle"));
    let local = write_sso(&p12, &pw, SsoKind::LocalAutoLogin, here).unwrap();
    let plain = write_sso(&p12, &pw, SsoKind::AutoLogin, None).unwrap();
    let guid = "0F1E2D3C4B5A69788796A5B4C3D2E1F0";
    for (sub, file, bytes) in [
        ("tde", "ewallet.p12", &p12),
        ("tde", "cwallet.sso", &local),
        ("tde_seps", "cwallet.sso", &plain),
        (&format!("{guid}/tde"), "cwallet.sso", &local),
    ] {
        let d = dir.path().join(sub);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(file), bytes).unwrap();
        std::fs::set_permissions(d.join(file), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    dir
}

#[test]
fn the_report_names_each_auto_login_wallets_kind() {
    let dir = root_with_auto_login();
    let r = inspect_root(dir.path());
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert_eq!(r.auto_login.len(), 2);
    let tde = &r.auto_login[0];
    assert!(tde.path.ends_with("tde/cwallet.sso"), "{}", tde.path);
    assert_eq!(tde.kind, Some(SsoKind::LocalAutoLogin));
    assert_eq!(
        tde.header.as_deref(),
        Some("type 0x38, header version 6, scheme 0x06 (AES-128)")
    );
    assert_eq!(tde.problem, None);
    assert!(r.auto_login[1].path.ends_with("tde_seps/cwallet.sso"));
    assert_eq!(r.auto_login[1].kind, Some(SsoKind::AutoLogin));
    let pdb = r.pdb_keystores[0].auto_login.as_ref().unwrap();
    assert_eq!(pdb.kind, Some(SsoKind::LocalAutoLogin));

    // The JSON keeps its fields and gains the new ones.
    let json: serde_json::Value = serde_json::to_value(&r).unwrap();
    for key in [
        "root",
        "files",
        "backups",
        "pdb_keystores",
        "warnings",
        "auto_login",
    ] {
        assert!(json.get(key).is_some(), "{key} in {json}");
    }
    assert_eq!(json["auto_login"][0]["kind"], "local-auto-login");
    assert_eq!(json["auto_login"][1]["kind"], "auto-login");
    assert!(json["pdb_keystores"][0]["auto_login"]["kind"] == "local-auto-login");
    for key in ["path", "exists", "size", "mode", "owner", "group"] {
        assert!(json["files"][0].get(key).is_some(), "{key}");
    }
}

#[test]
fn rac_warns_about_every_local_auto_login_wallet() {
    let dir = root_with_auto_login();
    let r = inspect_root(dir.path());
    assert!(rac_warnings(&r, false).is_empty());
    let w = rac_warnings(&r, true);
    assert_eq!(w.len(), 2, "the root's tde/ and the PDB's: {w:#?}");
    assert!(
        w.iter()
            .all(|s| s.contains("a local auto-login wallet is not supported on RAC"))
    );
    assert!(w[0].contains("tde/cwallet.sso") && w[1].contains("0F1E2D3C4B5A69788796A5B4C3D2E1F0"));
}

#[test]
fn an_unreadable_auto_login_header_is_reported_not_warned() {
    let dir = tempfile::tempdir().unwrap();
    let tde = dir.path().join("tde");
    std::fs::create_dir(&tde).unwrap();
    std::fs::write(tde.join("cwallet.sso"), [0xA1, 0xF8, 0x4E, 0x36, 0, 0]).unwrap();
    let r = inspect_root(dir.path());
    let a = &r.auto_login[0];
    assert_eq!(
        a.kind,
        Some(SsoKind::AutoLogin),
        "the kind is in the first four bytes"
    );
    assert!(a.header.is_none());
    assert!(a.problem.as_deref().unwrap().contains("truncated"), "{a:?}");
    std::fs::write(tde.join("cwallet.sso"), b"sso").unwrap();
    let a = &inspect_root(dir.path()).auto_login[0];
    assert_eq!(a.kind, None);
    assert!(
        a.problem
            .as_deref()
            .unwrap()
            .contains("is not an auto-login wallet")
    );
}

#[test]
fn the_real_oracle_auto_login_wallet_opens_without_a_password() {
    // Written by Oracle's tools (tests/fixtures/wallets/SOURCES.md): certificates only.
    let sso = fixture("dbms-cloud-certs/cwallet.sso");
    let h = sso_header(&sso).unwrap();
    assert_eq!(
        (h.kind, h.type_byte, h.version, h.scheme),
        (SsoKind::AutoLogin, 0x36, 6, 6)
    );
    assert_eq!(h.problem(), None);
    let c = open_sso(&sso, None).unwrap();
    assert_eq!((c.certificates, c.other_items, c.entries.len()), (10, 0, 0));
    assert_eq!(c.auto_login, Some(h));
    assert_eq!(
        c.summary(),
        "0 master keys: this is not a TDE keystore (10 certificates)"
    );
    // The password wallet beside it holds the same certificates.
    let p12 = read_wallet(
        &fixture("dbms-cloud-certs/ewallet.p12"),
        &Secret::from("asdf1234"),
        "ewallet.p12",
    )
    .unwrap();
    assert_eq!((p12.certificates, p12.auto_login), (10, None));
    // A changed byte in its PKCS#12 fails the integrity check: damaged, not another password.
    let mut bad = sso.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert!(matches!(
        open_sso(&bad, None),
        Err(WalletError::SsoDamaged(_) | WalletError::NotAWallet(_))
    ));
    // Another header version is not readable, whatever its type byte says.
    let mut v5 = sso;
    v5[7] = 5;
    let p = sso_header(&v5).unwrap().problem().unwrap();
    assert!(
        p.starts_with("header version 5 (a 10g wallet): tdekey reads only version 6"),
        "{p}"
    );
}

#[test]
fn the_summary_says_what_a_wallet_without_master_keys_is() {
    let entries = tde_keystore_entries(&[crate::tde::labels::MasterKeyId([5; 16])]).unwrap();
    let p12 = write_wallet(&entries, &Secret::from("pw-summary-1"), 1000).unwrap();
    let c = read_wallet(&p12, &Secret::from("pw-summary-1"), "w").unwrap();
    assert_eq!(c.summary(), "1 master key (1 current)");
    let secrets = read_wallet(
        &fixture("oracle-secret-store-3des.p12"),
        &Secret::from("123Wallet"),
        "f",
    )
    .unwrap();
    assert_eq!(
        secrets.summary(),
        "0 master keys (4 other entries, listed below)"
    );
    let empty = write_wallet(&[], &Secret::from("pw-summary-1"), 1000).unwrap();
    let c = read_wallet(&empty, &Secret::from("pw-summary-1"), "w").unwrap();
    assert_eq!(c.summary(), "0 master keys (the wallet is empty)");
}

#[test]
fn a_directory_with_ewallet_p12_itself_is_a_wallet_directory() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(layout_of(dir.path()), RootLayout::WalletRoot);
    std::fs::write(
        dir.path().join("ewallet.p12"),
        fixture("dbms-cloud-certs/ewallet.p12"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("cwallet.sso"),
        fixture("dbms-cloud-certs/cwallet.sso"),
    )
    .unwrap();
    let r = inspect_root(dir.path());
    assert_eq!(r.layout, RootLayout::WalletDirectory);
    assert!(r.files.iter().all(|f| f.exists), "{:?}", r.files);
    assert_eq!(r.auto_login.len(), 1);
    assert_eq!(r.auto_login[0].kind, Some(SsoKind::AutoLogin));
    assert!(
        r.warnings
            .iter()
            .all(|w| !w.contains("has not been created"))
    );
    // Once a tde/ directory exists it is a WALLET_ROOT again.
    std::fs::create_dir(dir.path().join("tde")).unwrap();
    assert_eq!(inspect_root(dir.path()).layout, RootLayout::WalletRoot);
}

#[test]
fn the_real_oracle_type_0x37_auto_login_wallet_opens() {
    // Written by Oracle's tools with the newer type byte (tests/fixtures/wallets/SOURCES.md).
    let sso = fixture("one-cert-type37/cwallet.sso");
    let h = sso_header(&sso).unwrap();
    assert_eq!(
        (h.kind, h.type_byte, h.version),
        (SsoKind::AutoLogin, 0x37, 6)
    );
    let c = open_sso(&sso, None).unwrap();
    assert_eq!((c.certificates, c.other_items, c.entries.len()), (1, 0, 0));
    assert_eq!(
        c.summary(),
        "0 master keys: this is not a TDE keystore (1 certificate)"
    );
}
