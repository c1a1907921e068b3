//! PKCS#11 calls are counted, not timed: on AWS CloudHSM each is a network round trip. The
//! inventory of a 200-object token through OpenSC's pkcs11-spy (installed by `make test`)
//! must make at most 1.01 calls per object (one `C_GetAttributeValue` each, handles found
//! hundreds at a time) and list the same rows, attribute for attribute, as read one attribute
//! at a time; and it never asks for CKA_VALUE (a search shown to find CKA_VALUE where a program
//! does ask for it).

mod common;

use common::{Env, run};
use std::collections::BTreeMap;
use std::path::PathBuf;
use tdekey::hsm::KeyTemplate;

const SPY_PATHS: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/pkcs11-spy.so",
    "/usr/lib/x86_64-linux-gnu/pkcs11/pkcs11-spy.so",
    "/usr/lib/aarch64-linux-gnu/pkcs11-spy.so",
    "/usr/lib/aarch64-linux-gnu/pkcs11/pkcs11-spy.so",
    "/usr/lib64/pkcs11-spy.so",
];

fn spy() -> PathBuf {
    SPY_PATHS
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .expect("OpenSC's pkcs11-spy.so is missing: `make test` installs it (apt-get install opensc-pkcs11)")
}

/// (function, count) of the `C_` calls in a pkcs11-spy log.
fn calls(log: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for line in log.lines() {
        // "12: C_GetAttributeValue" (the spy numbers each call)
        if let Some((n, f)) = line.split_once(": ")
            && n.trim().chars().all(|c| c.is_ascii_digit())
            && f.starts_with("C_")
        {
            *out.entry(f.trim().to_owned()).or_default() += 1;
        }
    }
    out
}

#[test]
fn the_inventory_makes_one_call_per_object_and_lists_the_same_rows() {
    let env = Env::new();
    let hsm = env.token("spy-count", "user-pin-S1");
    for i in 0..100u32 {
        let label = format!("ORACLE.TDE.HSM.MK.06{:032X}", i + 1);
        let t = if i % 10 == 0 {
            KeyTemplate::CLOUDHSM_CLI_DEFAULT
        } else {
            KeyTemplate::ORACLE_MASTER_KEY
        };
        hsm.generate_aes_key(&label, t).unwrap();
        hsm.create_data_object(
            &format!("ORACLE.SECURITY.KM.ENCRYPTION.{i:08}"),
            "tdekey test",
            b"metadata",
        )
        .unwrap();
    }
    // What the token says attribute by attribute (the slow, sure way), for comparison.
    let expected = hsm.inventory_attribute_by_attribute().unwrap();
    assert_eq!(expected.len(), 200);
    hsm.close().unwrap();

    let log = env.dir.path().join("spy.log");
    let (code, out, err) = run({
        let mut c = env.tdekey();
        c.args(["hsm", "keys", "--json", "--token", "spy-count", "--module"])
            .arg(spy())
            .env("PKCS11SPY", &env.module)
            .env("PKCS11SPY_OUTPUT", &log)
            .env("TDEKEY_PIN", "user-pin-S1");
        c
    });
    assert_eq!(code, 0, "{out}{err}");
    let text = std::fs::read_to_string(&log).expect("the spy wrote its log");
    let n = calls(&text);
    let objects = 200.0;
    let per_object = (n.get("C_GetAttributeValue").copied().unwrap_or(0)
        + n.get("C_FindObjects").copied().unwrap_or(0)) as f64
        / objects;
    assert!(
        per_object <= 1.01,
        "{per_object:.3} calls per object (goal ≤ 1.01): {n:?}"
    );
    assert!(n.get("C_GetAttributeValue").copied().unwrap_or(0) >= 200);
    assert!(
        !text.contains("CKA_VALUE "),
        "the inventory never asks for a key's value"
    );
    // The search can fail: the spy prints every attribute of a template by name (the
    // inventory's CKA_VALUE_LEN is there), and a program that asks for a value, pkcs11-tool
    // reading a data object through the same spy, shows `CKA_VALUE ` in its log.
    assert!(text.contains("CKA_VALUE_LEN "), "templates are logged");
    let control = env.dir.path().join("spy-control.log");
    let o = std::process::Command::new("pkcs11-tool")
        .arg("--module")
        .arg(spy())
        .args([
            "--token-label",
            "spy-count",
            "--login",
            "--pin",
            "user-pin-S1",
        ])
        .args(["--read-object", "--type", "data", "--label"])
        .arg("ORACLE.SECURITY.KM.ENCRYPTION.00000000")
        .env("PKCS11SPY", &env.module)
        .env("PKCS11SPY_OUTPUT", &control)
        .output()
        .expect("pkcs11-tool is installed with OpenSC (make test installs it)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.stdout, b"metadata", "pkcs11-tool read the value");
    let control = std::fs::read_to_string(&control).unwrap();
    assert!(
        control.contains("CKA_VALUE "),
        "a request for a value is seen in a spy log"
    );

    // The same rows, attribute for attribute.
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let listed = v["objects"].as_array().unwrap();
    assert_eq!(listed.len(), 200);
    for o in &expected {
        let row = listed
            .iter()
            .find(|r| r["label"] == o.label.as_str())
            .unwrap_or_else(|| panic!("{} missing", o.label));
        let mut want = serde_json::to_value(o).unwrap();
        let mut got = row.clone();
        for x in [&mut want, &mut got] {
            x.as_object_mut().unwrap().remove("handle");
        }
        for (k, w) in want.as_object().unwrap() {
            assert_eq!(&got[k], w, "{}: {k}", o.label);
        }
    }
}
