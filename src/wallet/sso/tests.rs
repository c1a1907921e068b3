use super::*;
use crate::tde::labels::{MasterKeyId, format_key_id};
use crate::wallet::{EntryKind, compare_entries, tde_keystore_entries};

const PW: &str = "Ewallet#1";

/// An ewallet.p12 holding `keys` (the last current), and its contents.
fn ewallet(keys: &[MasterKeyId]) -> (Vec<u8>, WalletContents) {
    let entries = tde_keystore_entries(keys).unwrap();
    let bytes = write_wallet(&entries, &Secret::from(PW), 1000).unwrap();
    let contents = read_wallet(&bytes, &Secret::from(PW), "ewallet.p12").unwrap();
    (bytes, contents)
}

fn header(type_byte: u8) -> Vec<u8> {
    vec![0xA1, 0xF8, 0x4E, type_byte, 0, 0, 0, 6, 0, 0, 0, 0x21, 0x06]
}

#[test]
fn the_type_byte_tells_the_kind() {
    assert_eq!(sso_kind(&header(0x36)).unwrap(), SsoKind::AutoLogin);
    assert_eq!(sso_kind(&header(0x37)).unwrap(), SsoKind::AutoLogin);
    assert_eq!(sso_kind(&header(0x38)).unwrap(), SsoKind::LocalAutoLogin);
    // Four bytes are enough for the kind; the full header needs thirteen.
    assert_eq!(
        sso_kind(&header(0x38)[..4]).unwrap(),
        SsoKind::LocalAutoLogin
    );
    let h = sso_header(&header(0x37)).unwrap();
    assert_eq!(
        (h.kind, h.type_byte, h.version, h.key_section, h.scheme),
        (SsoKind::AutoLogin, 0x37, 6, 0x21, 0x06)
    );
    assert_eq!(
        h.describe(),
        "type 0x37, header version 6, scheme 0x06 (AES-128)"
    );
    assert!(matches!(
        sso_header(&header(0x36)[..12]),
        Err(WalletError::Truncated(_))
    ));
}

#[test]
fn truncated_and_foreign_files_get_a_sentence() {
    for short in [&[][..], &[0xA1], &[0xA1, 0xF8], &[0xA1, 0xF8, 0x4E]] {
        let e = sso_kind(short).unwrap_err();
        assert_eq!(e, WalletError::Truncated("cwallet.sso".into()), "{short:?}");
        assert!(e.to_string().contains("truncated"), "{e}");
    }
    let (p12, _) = ewallet(&[MasterKeyId([1; 16])]);
    for foreign in [
        &b"hello, wallet"[..],
        &p12,
        &[0xA1, 0xF8, 0x4F, 0x36],
        &[0x00],
    ] {
        let e = sso_kind(foreign).unwrap_err();
        assert_eq!(e, WalletError::NotAutoLogin("cwallet.sso".into()));
        assert!(
            e.to_string().contains(
                "is not an auto-login wallet (it does not start with Oracle's A1 F8 4E header)"
            ),
            "{e}"
        );
    }
    let e = sso_kind(&header(0x39)).unwrap_err();
    assert!(
        matches!(&e, WalletError::UnsupportedSso { what, .. } if what.contains("0x39")),
        "{e}"
    );
    // open_sso says the same about a file that is not one.
    assert!(matches!(
        open_sso(&p12, None),
        Err(WalletError::NotAutoLogin(_))
    ));
}

#[test]
fn a_written_auto_login_wallet_opens_and_holds_the_ewallets_entries() {
    let keys = [MasterKeyId([0x21; 16]), MasterKeyId([0x42; 16])];
    let (p12, contents) = ewallet(&keys);
    let sso = write_sso(&p12, &Secret::from(PW), SsoKind::AutoLogin, None).unwrap();

    // The header the reference describes, the PKCS#12 at offset 45.
    assert_eq!(
        sso[..13],
        [0xA1, 0xF8, 0x4E, 0x36, 0, 0, 0, 6, 0, 0, 0, 0x21, 0x06]
    );
    assert_eq!(sso[45..47], [0x30, 0x82]);
    assert_eq!(sso_kind(&sso).unwrap(), SsoKind::AutoLogin);

    let opened = open_sso(&sso, None).unwrap();
    assert!(compare_entries(&contents, &opened).is_empty());
    assert_eq!(opened.entries, contents.entries);
    assert_eq!(opened.mac, "HMAC-SHA1");
    assert_eq!(opened.iterations, 10_000);
    let current = opened.entries.iter().find(|e| e.current).unwrap();
    assert_eq!(current.key_id, Some(format_key_id(0x01, &keys[1])));
    // Any host and user open an ordinary auto-login wallet.
    assert!(open_sso(&sso, Some(("elsewhere", "nobody"))).is_ok());
    // The embedded wallet has its own password, not the ewallet's.
    assert!(read_wallet(&sso[45..], &Secret::from(PW), "inner").is_err());
    // Two writes use different AES keys and passwords.
    let again = write_sso(&p12, &Secret::from(PW), SsoKind::AutoLogin, None).unwrap();
    assert_ne!(sso[13..45], again[13..45]);
}

#[test]
fn a_local_auto_login_wallet_opens_only_for_its_host_and_user() {
    let (p12, contents) = ewallet(&[MasterKeyId([0x5A; 16])]);
    let here = Some(("db1.example.com", "oracle"));
    let sso = write_sso(&p12, &Secret::from(PW), SsoKind::LocalAutoLogin, here).unwrap();
    assert_eq!(sso[3], 0x38);
    assert_eq!(sso_kind(&sso).unwrap(), SsoKind::LocalAutoLogin);

    let opened = open_sso(&sso, here).unwrap();
    assert!(compare_entries(&contents, &opened).is_empty());
    // Only the short host name counts.
    assert!(open_sso(&sso, Some(("db1", "oracle"))).is_ok());
    assert!(open_sso(&sso, Some(("db1.other.net", "oracle"))).is_ok());

    for (host, user) in [("db2", "oracle"), ("db1", "grid"), ("DB1", "oracle")] {
        let e = open_sso(&sso, Some((host, user))).unwrap_err();
        assert_eq!(
            e,
            WalletError::LocalElsewhere {
                file: "cwallet.sso".into(),
                host: host.into(),
                user: user.into()
            }
        );
        let text = e.to_string();
        assert!(
            text.contains("local auto-login wallet")
                && text.contains(&format!("OS user {user} on host {host}"))
                && text.contains("ORA-12578"),
            "{text}"
        );
    }
    let e = open_sso_named(&sso, Some(("db2", "oracle")), "/u01/wr/tde/cwallet.sso").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("/u01/wr/tde/cwallet.sso is a local"),
        "{e}"
    );
}

#[test]
fn the_local_password_follows_the_reference_formula() {
    // Computed independently (Python hmac, go-ora's arithmetic) for the stored bytes 1..=16,
    // host "dbhost.example.com" (cut to "dbhost") and user "oracle".
    let stored: Vec<u8> = (1..=16).collect();
    let p = local_password(&stored, "dbhost.example.com", "oracle").unwrap();
    assert_eq!(
        hex::encode(p.expose().as_bytes()),
        "3b6c312c085c48591436327122751370"
    );
    // Every byte 1..=127: for any input.
    for seed in 0u8..=255 {
        let p = local_password(&[seed; 16], "h", "u").unwrap();
        assert_eq!(p.expose().len(), 16);
        assert!(p.expose().bytes().all(|b| (1..=127).contains(&b)));
    }
}

#[test]
fn damaged_truncated_and_old_files_are_named() {
    let (p12, _) = ewallet(&[MasterKeyId([7; 16])]);
    let sso = write_sso(&p12, &Secret::from(PW), SsoKind::AutoLogin, None).unwrap();
    // A changed byte in the encrypted password, in the AES key, or in the wallet inside.
    for at in [30, 14, sso.len() - 80] {
        let mut bad = sso.clone();
        bad[at] ^= 0x04;
        let e = open_sso(&bad, None).unwrap_err();
        assert_eq!(
            e,
            WalletError::SsoDamaged("cwallet.sso".into()),
            "byte {at}"
        );
        assert!(e.to_string().contains("modified or damaged"));
    }
    for cut in [13, 30, 44, 45, 200] {
        let e = open_sso(&sso[..cut], None).unwrap_err();
        assert!(
            matches!(e, WalletError::Truncated(_) | WalletError::NotAWallet(_)),
            "cut at {cut}: {e}"
        );
    }
    let mut v5 = sso.clone();
    v5[7] = 5;
    let e = open_sso(&v5, None).unwrap_err();
    assert!(
        e.to_string().contains("header version 5 (a 10g wallet)"),
        "{e}"
    );
    let mut scheme = sso.clone();
    scheme[12] = 0x07;
    assert!(
        open_sso(&scheme, None)
            .unwrap_err()
            .to_string()
            .contains("scheme 0x07")
    );
    let mut length = sso.clone();
    length[11] = 0x22;
    assert!(matches!(
        open_sso(&length, None),
        Err(WalletError::UnsupportedSso { .. })
    ));
    let mut huge = sso;
    huge[8] = 0x7F;
    assert_eq!(
        open_sso(&huge, None).unwrap_err(),
        WalletError::Truncated("cwallet.sso".into())
    );
}

#[test]
fn an_11g_des_scheme_file_is_read() {
    use cbc::cipher::{BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
    // 11g layout: 16 hex characters of DES key, 48 of DES-CBC (zero IV, PKCS#7) password;
    // the key section is 0x41 long and the PKCS#12 starts at 77, as ssoDecrypt reads it.
    let password = "Des11gPassword1234";
    let entries = tde_keystore_entries(&[MasterKeyId([3; 16])]).unwrap();
    let p12 = write_wallet(&entries, &Secret::from(password), 1000).unwrap();
    let key = [0x13, 0x34, 0x57, 0x79, 0x9B, 0xBC, 0xDF, 0xF1];
    let ct = cbc::Encryptor::<des::Des>::new_from_slices(&key, &[0; 8])
        .unwrap()
        .encrypt_padded_vec_mut::<Pkcs7>(password.as_bytes());
    assert_eq!(ct.len(), 24);
    let mut sso = vec![0xA1, 0xF8, 0x4E, 0x36, 0, 0, 0, 6, 0, 0, 0, 0x41, 0x35];
    sso.extend_from_slice(hex::encode_upper(key).as_bytes());
    sso.extend_from_slice(hex::encode_upper(&ct).as_bytes());
    assert_eq!(sso.len(), 77);
    sso.extend_from_slice(&p12);
    let w = open_sso(&sso, None).unwrap();
    assert_eq!(w.entries.len(), 5);
    assert_eq!(
        sso_header(&sso).unwrap().describe(),
        "type 0x36, header version 6, scheme 0x35 (DES, 11g)"
    );
    // Not hex: refused with a reason.
    let mut bad = sso.clone();
    bad[13] = b'Z';
    assert!(
        open_sso(&bad, None)
            .unwrap_err()
            .to_string()
            .contains("not hex")
    );
}

#[test]
fn a_stale_auto_login_wallet_is_told_apart() {
    let old = MasterKeyId([0x01; 16]);
    let new = MasterKeyId([0x02; 16]);
    let (p12_before, _) = ewallet(&[old]);
    let sso = write_sso(&p12_before, &Secret::from(PW), SsoKind::AutoLogin, None).unwrap();
    let stale = open_sso(&sso, None).unwrap();
    // The keystore was rekeyed afterwards; cwallet.sso was not rewritten.
    let (_, after) = ewallet(&[old, new]);
    let diff = compare_entries(&after, &stale);
    let new_id = format_key_id(0x01, &new);
    let old_id = format_key_id(0x01, &old);
    assert_eq!(diff.len(), 3, "{diff:#?}");
    assert!(diff[0].starts_with(&format!(
        "Master key {new_id} is in ewallet.p12 but not in cwallet.sso"
    )));
    assert!(diff[1].contains(&format!(
        "ORACLE.SECURITY.KM.ENCRYPTION.{new_id} is in ewallet.p12"
    )));
    assert!(
        diff[2].contains(&format!(
            "ewallet.p12 names {new_id}, cwallet.sso names {old_id}"
        )) && diff[2].contains("ORA-28374"),
        "{}",
        diff[2]
    );
    // The other way round: the auto-login wallet has a key the password wallet lacks.
    let diff = compare_entries(&stale, &after);
    assert!(
        diff[0].contains("is in cwallet.sso but not in ewallet.p12"),
        "{diff:#?}"
    );
    assert!(stale.entries.iter().any(|e| e.kind == EntryKind::MasterKey));
}

#[test]
fn write_sso_needs_the_right_password() {
    let (p12, _) = ewallet(&[MasterKeyId([9; 16])]);
    let e = write_sso(&p12, &Secret::from("nope"), SsoKind::AutoLogin, None).unwrap_err();
    assert!(matches!(e, WalletError::WrongPassword(_)), "{e}");
    assert!(write_sso(b"junk", &Secret::from(PW), SsoKind::AutoLogin, None).is_err());
}

#[test]
fn the_current_host_and_user_are_found() {
    let (host, user) = current_host_user();
    assert!(!host.is_empty() && !user.is_empty(), "{host:?} {user:?}");
    // A local wallet written for this process opens with no host or user given.
    let (p12, _) = ewallet(&[MasterKeyId([4; 16])]);
    let sso = write_sso(&p12, &Secret::from(PW), SsoKind::LocalAutoLogin, None).unwrap();
    assert!(open_sso(&sso, None).is_ok());
    assert!(open_sso(&sso, Some((&host, &user))).is_ok());
}
