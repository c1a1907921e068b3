use super::*;
use crate::wallet::{Entry, EntryKind, open_wallet, read_wallet};
use der::Decode;

fn fixture(name: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/wallets")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("fixture {}: {e}", p.display()))
}

fn keys() -> [MasterKeyId; 2] {
    [MasterKeyId([0x11; 16]), MasterKeyId([0xA7; 16])]
}

fn names(entries: &[Entry]) -> Vec<&str> {
    entries.iter().map(|e| e.name.as_str()).collect()
}

#[test]
fn a_written_tde_wallet_reads_back_with_its_names_kinds_and_current_key() {
    let entries = tde_keystore_entries(&keys()).unwrap();
    let password = Secret::from("Wallet#2026");
    let bytes = write_wallet(&entries, &password, 2048).unwrap();
    let w = read_wallet(&bytes, &password, "ewallet.p12").unwrap();

    let written: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names(&w.entries), written, "same names, same order");
    assert_eq!(w.mac, "HMAC-SHA1");
    assert_eq!(w.iterations, 2048);
    assert!(
        w.encryption.starts_with("PBES2")
            && w.encryption.contains("HmacWithSha256")
            && w.encryption.contains("Aes256Cbc")
            && w.encryption.ends_with("2048 iterations"),
        "{}",
        w.encryption
    );
    let kinds: Vec<EntryKind> = w.entries.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EntryKind::MasterKey,
            EntryKind::MasterKey,
            EntryKind::CurrentKeyPointer,
            EntryKind::Identity,
            EntryKind::KeyBag,
            EntryKind::KeyMetadata,
            EntryKind::KeyMetadata,
        ]
    );
    // The last key given is current; the pointer names it; master key ids decode.
    let current_id = format_key_id(0x01, &keys()[1]);
    let current: Vec<&Entry> = w.entries.iter().filter(|e| e.current).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0].key_id.as_deref(), Some(current_id.as_str()));
    assert_eq!(current[0].master_key_id.as_deref(), Some(&*"A7".repeat(16)));
    let pointer = &w.entries[2];
    assert_eq!(pointer.key_id.as_deref(), Some(current_id.as_str()));
    assert_eq!(pointer.pdb, None);
    assert!(!w.entries[0].current);
    assert_eq!(w.entries[5].key_id, w.entries[0].key_id, "KM.<KEY_ID>");
}

#[test]
fn values_survive_the_round_trip_and_an_sha256_mac_is_read_too() {
    let entries = vec![
        (
            "oracle.security.client.password1".to_owned(),
            Secret::from("s3cr€t"),
        ),
        (
            "ORACLE.SECURITY.ID.ENCRYPTION.".to_owned(),
            Secret::default(),
        ),
        ("long".to_owned(), Secret::new("x".repeat(5000))),
    ];
    let password = Secret::from("pässwörd");
    let options = WriteOptions {
        iterations: 1000,
        mac: MacDigest::Sha256,
    };
    let bytes = write_wallet_with(&entries, &password, &options).unwrap();
    let opened = open_wallet(&bytes, &password, "f", true).unwrap();
    assert_eq!(opened.contents.mac, "HMAC-SHA256");
    assert_eq!(opened.other_bags, 0);
    assert_eq!(opened.values.len(), 3);
    for ((n, v), (n2, v2)) in entries.iter().zip(&opened.values) {
        assert_eq!(n, n2);
        assert_eq!(v.expose(), v2.expose());
    }
    // read_wallet keeps no values.
    assert!(
        open_wallet(&bytes, &password, "f", false)
            .unwrap()
            .values
            .is_empty()
    );
}

#[test]
fn a_wrong_password_is_refused_before_anything_is_decrypted() {
    let entries = tde_keystore_entries(&keys()).unwrap();
    let bytes = write_wallet(&entries, &Secret::from("right"), 1000).unwrap();
    for wrong in ["wrong", "Right", "right "] {
        let e = read_wallet(&bytes, &Secret::from(wrong), "ewallet.p12").unwrap_err();
        assert_eq!(e, WalletError::WrongPassword("ewallet.p12".into()));
    }
    // A flipped byte of the encrypted safe: the MAC catches it.
    let mut flipped = bytes.clone();
    let i = flipped.len() - 80;
    flipped[i] ^= 0x40;
    assert!(read_wallet(&flipped, &Secret::from("right"), "f").is_err());
}

#[test]
fn the_layout_is_oracles_one_encrypted_safe_of_secret_bags_with_local_key_ids() {
    let entries = tde_keystore_entries(&keys()[..1]).unwrap();
    let password = Secret::from("Layout1");
    let bytes = write_wallet(&entries, &password, 1000).unwrap();
    let pfx = pkcs12::pfx::Pfx::from_der(&bytes).unwrap();
    assert_eq!(pfx.version, pkcs12::pfx::Version::V3);
    let mac = pfx.mac_data.as_ref().unwrap();
    assert_eq!(mac.mac.algorithm.oid, ID_SHA1);
    assert_eq!(mac.mac_salt.as_bytes().len(), 8);
    assert_eq!(mac.mac.digest.as_bytes().len(), 20);
    let auth = pfx
        .auth_safe
        .content
        .decode_as::<der::asn1::OctetString>()
        .unwrap();
    let safes: Vec<cms::content_info::ContentInfo> =
        der::Decode::from_der(auth.as_bytes()).unwrap();
    assert_eq!(safes.len(), 1, "one safe");
    assert_eq!(safes[0].content_type, ID_ENCRYPTED_DATA);
    let ed = safes[0]
        .content
        .decode_as::<cms::encrypted_data::EncryptedData>()
        .unwrap();
    let alg = ed.enc_content_info.content_enc_alg;
    assert_eq!(alg.oid, ID_PBES2);
    let alg_der = alg.to_der().unwrap();
    let scheme = pkcs5::EncryptionScheme::from_der(&alg_der).unwrap();
    let pbes2 = scheme.pbes2().unwrap();
    let kdf = pbes2.kdf.pbkdf2().unwrap();
    assert_eq!(kdf.salt.len(), 8);
    assert_eq!(kdf.key_length, Some(32));
    assert_eq!(kdf.prf, pkcs5::pbes2::Pbkdf2Prf::HmacWithSha256);
    assert!(matches!(
        pbes2.encryption,
        pkcs5::pbes2::EncryptionScheme::Aes256Cbc { .. }
    ));
    let plain = scheme
        .decrypt(
            password.expose(),
            ed.enc_content_info.encrypted_content.unwrap().as_bytes(),
        )
        .unwrap();
    let bags: Vec<pkcs12::safe_bag::SafeBag> = der::Decode::from_der(&plain).unwrap();
    assert_eq!(bags.len(), entries.len());
    for bag in &bags {
        assert_eq!(bag.bag_id, ID_SECRET_BAG);
        // [0] { SEQUENCE { OID 1.2.840.113549.1.16.12.12, [0] { SEQUENCE { UTF8, UTF8 } } } }
        let secret_type = ID_ORACLE_SECRET.to_der().unwrap();
        assert!(
            bag.bag_value
                .windows(secret_type.len())
                .any(|w| w == secret_type),
            "Oracle's secret type"
        );
        let attrs = bag.bag_attributes.as_ref().unwrap();
        assert_eq!(attrs.len(), 1);
        let attr = attrs.iter().next().unwrap();
        assert_eq!(attr.oid, ID_LOCAL_KEY_ID);
        let v = attr.values.iter().next().unwrap();
        let id = v.decode_as::<der::asn1::OctetString>().unwrap();
        let id = id.as_bytes();
        assert_eq!(id.len(), 24);
        assert_eq!(id[..4], [0xE6, 0xB6, 0x52, 0xDD]);
        assert_eq!(id[12..16], [0, 0, 0, 6]);
    }
}

#[test]
fn salts_and_ivs_are_fresh_each_time() {
    let entries = tde_keystore_entries(&keys()).unwrap();
    let pw = Secret::from("same");
    let a = write_wallet(&entries, &pw, 1000).unwrap();
    let b = write_wallet(&entries, &pw, 1000).unwrap();
    assert_ne!(a, b);
}

#[test]
fn the_fixtures_rewritten_read_back_the_same() {
    for (file, pw) in [
        ("oracle-secret-store-3des.p12", "123Wallet"),
        ("synthetic-tde-pbes2-aes256.p12", "Test123Wallet"),
    ] {
        let pw = Secret::from(pw);
        let original = open_wallet(&fixture(file), &pw, file, true).unwrap();
        assert_eq!(original.other_bags, 0);
        let again = write_wallet(&original.values, &pw, 1000).unwrap();
        let reread = open_wallet(&again, &pw, file, true).unwrap();
        assert_eq!(reread.contents.entries, original.contents.entries, "{file}");
        for ((n, v), (n2, v2)) in original.values.iter().zip(&reread.values) {
            assert_eq!((n, v.expose()), (n2, v2.expose()));
        }
    }
}

#[test]
fn what_cannot_be_written_is_refused_with_a_reason() {
    let ok = vec![("a".to_owned(), Secret::from("1"))];
    let pw = Secret::from("pw");
    let reason = |r: Result<Vec<u8>, WalletError>| match r {
        Err(WalletError::CannotWrite(why)) => why,
        other => panic!("{other:?}"),
    };
    assert!(reason(write_wallet(&ok, &pw, 0)).contains("between 1 and"));
    assert!(reason(write_wallet(&ok, &pw, 10_000_001)).contains("between 1 and"));
    assert!(reason(write_wallet(&ok, &Secret::default(), 1000)).contains("empty"));
    assert!(reason(write_wallet(&ok, &Secret::from("pw🔑"), 1000)).contains("Multilingual"));
    let twice = vec![
        ("a".to_owned(), Secret::from("1")),
        ("a".to_owned(), Secret::from("2")),
    ];
    assert!(reason(write_wallet(&twice, &pw, 1000)).contains("given twice"));
    let unnamed = vec![(String::new(), Secret::from("1"))];
    assert!(reason(write_wallet(&unnamed, &pw, 1000)).contains("empty name"));
    // An empty wallet is a wallet.
    let empty = write_wallet(&[], &pw, 1000).unwrap();
    assert!(read_wallet(&empty, &pw, "f").unwrap().entries.is_empty());
}

#[test]
fn tde_entries_have_oracles_names_and_value_shapes() {
    let e = tde_keystore_entries(&keys()).unwrap();
    let ids: Vec<String> = keys().iter().map(|k| format_key_id(0x01, k)).collect();
    let names: Vec<&str> = e.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            format!("ORACLE.SECURITY.DB.ENCRYPTION.{}", ids[0]).as_str(),
            &format!("ORACLE.SECURITY.DB.ENCRYPTION.{}", ids[1]),
            "ORACLE.SECURITY.DB.ENCRYPTION.MASTERKEY",
            "ORACLE.SECURITY.ID.ENCRYPTION.",
            "ORACLE.SECURITY.KB.ENCRYPTION.",
            &format!("ORACLE.SECURITY.KM.ENCRYPTION.{}", ids[0]),
            &format!("ORACLE.SECURITY.KM.ENCRYPTION.{}", ids[1]),
        ]
    );
    assert!(ids.iter().all(|i| i.starts_with('A') && i.len() == 52));
    assert_eq!(e[2].1.expose(), ids[1], "MASTERKEY names the last key");
    assert!(e[3].1.is_empty() && e[4].1.is_empty());
    use base64::Engine as _;
    for i in [0, 1, 5, 6] {
        let v = e[i].1.expose();
        assert_eq!(v.len(), 64);
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(v)
                .unwrap()
                .len(),
            48
        );
    }
    assert_ne!(e[0].1.expose(), e[1].1.expose(), "random values");
    // No keys yet: the identity and key bag entries only.
    let none = tde_keystore_entries(&[]).unwrap();
    assert_eq!(none.len(), 2);
}

#[test]
fn der_lengths_use_the_long_form_when_needed() {
    assert_eq!(&tlv(0x04, &[&[7u8; 3]])[..2], [0x04, 3]);
    assert_eq!(&tlv(0x04, &[&[7u8; 127]])[..2], [0x04, 127]);
    assert_eq!(&tlv(0x04, &[&[7u8; 128]])[..3], [0x04, 0x81, 128]);
    assert_eq!(&tlv(0x04, &[&[7u8; 300]])[..4], [0x04, 0x82, 0x01, 0x2C]);
    assert_eq!(&integer(0)[..], [0x02, 1, 0]);
    assert_eq!(&integer(3)[..], [0x02, 1, 3]);
    assert_eq!(&integer(128)[..], [0x02, 2, 0, 128]);
    assert_eq!(&integer(10_000)[..], [0x02, 2, 0x27, 0x10]);
}
