//! A second PKCS#11 implementation end to end: opencryptoki's software token (Debian package
//! `opencryptoki`, installed by `make test`). Its slot daemon `pkcsslotd` runs as root, so this
//! test runs where tdekey's CI does (as root): it starts the daemon if it is not running, and
//! stops it again afterwards. Elsewhere it is ignored, with the reason `make test` prints.
//!
//! opencryptoki 3.8 sets CKF_CLOCK_ON_TOKEN and writes its clock as "HH:MM:SS", which cryptoki
//! cannot decode: the token must still be listed, selected by label and used.

mod common;

use common::{Env, run};
use std::path::Path;
use std::process::Command;

const MODULE: &str = "/usr/lib/x86_64-linux-gnu/pkcs11/libopencryptoki.so";
const SLOT: &str = "3";
const LABEL: &str = "tdekey-occ";
const SO_PIN: &str = "87654321";
const USER_PIN: &str = "12345678";
const PIDFILE: &str = "/run/pkcsslotd.pid";

fn daemon_running() -> bool {
    std::fs::read_to_string(PIDFILE)
        .ok()
        .and_then(|p| p.trim().parse::<u32>().ok())
        .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists())
}

/// Stops the daemon at the end of the test if the test started it.
struct Daemon {
    started: bool,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.started
            && let Ok(pid) = std::fs::read_to_string(PIDFILE)
        {
            let _ = Command::new("kill").arg(pid.trim()).status();
            let _ = std::fs::remove_file(PIDFILE);
        }
    }
}

fn ok(c: &mut Command) -> String {
    let o = c.output().expect("run");
    assert!(
        o.status.success(),
        "{c:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn tdekey(env: &Env, args: &[&str]) -> String {
    let (code, out, err) = run({
        let mut c = env.tdekey();
        c.args(args)
            .env("TDEKEY_PIN", USER_PIN)
            .env("TDEKEY_WALLET_PASSWORD", "occ-wallet-pw-1")
            .env("TDEKEY_BACKUP_PASSPHRASE", "a long backup passphrase 9");
        c
    });
    assert_eq!(code, 0, "tdekey {args:?}: {out}{err}");
    out
}

#[test]
#[ignore = "Needs root (or opencryptoki's pkcsslotd already running): it starts opencryptoki's slot daemon; make test runs it when root."]
fn opencryptoki_soft_token_end_to_end() {
    // SAFETY: reading the effective uid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    assert!(
        Path::new(MODULE).exists() && Path::new("/usr/sbin/pkcsslotd").exists(),
        "opencryptoki is not installed: make test installs it (apt-get install opencryptoki)"
    );
    assert!(
        root || daemon_running(),
        "pkcsslotd is not running and starting it needs root: run make test as root, as CI does"
    );
    let mut daemon = Daemon { started: false };
    if !daemon_running() {
        for d in [
            "/var/lib/opencryptoki/swtok/TOK_OBJ",
            "/var/lock/opencryptoki/swtok",
        ] {
            std::fs::create_dir_all(d).unwrap();
        }
        ok(&mut Command::new("/usr/sbin/pkcsslotd"));
        daemon.started = true;
        for _ in 0..20 {
            if Path::new("/run/pkcsslotd.socket").exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
    }
    let p11 = |args: &[&str]| {
        ok(Command::new("pkcs11-tool")
            .args(["--module", MODULE, "--slot", SLOT])
            .args(args))
    };
    p11(&["--init-token", "--label", LABEL, "--so-pin", SO_PIN]);
    p11(&[
        "--init-pin",
        "--login",
        "--login-type",
        "so",
        "--so-pin",
        SO_PIN,
        "--pin",
        USER_PIN,
    ]);

    let env = Env::new();
    // Listed, its clock named as what could not be read.
    let info = tdekey(&env, &["hsm", "info", "--module", MODULE]);
    assert!(info.contains(&format!("Token label   {LABEL}")), "{info}");
    assert!(info.contains("TOKEN_INITIALIZED"), "{info}");
    assert!(
        info.contains("Not shown: The token's clock reads"),
        "{info}"
    );

    // Selected by label: a key generated, read back, listed with its health.
    let target = ["--module", MODULE, "--token", LABEL, "--user", "u"];
    let key = tdekey(
        &env,
        &[&["key", "generate", "--json"][..], &target].concat(),
    );
    let key: serde_json::Value = serde_json::from_str(&key).unwrap();
    let label = key["label"].as_str().unwrap();
    let keys = tdekey(&env, &[&["hsm", "keys", "--json"][..], &target].concat());
    let keys: serde_json::Value = serde_json::from_str(&keys).unwrap();
    let row = keys["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["label"] == label)
        .expect("the generated key is listed");
    assert_eq!(row["health"].as_array().unwrap().len(), 0, "{row}");
    assert_eq!(row["value_len"], 32);

    // Objects of other classes, each refusing its own attributes (a public key has no
    // CKA_SENSITIVE, a data object no key attribute, no key here has CKA_DESTROYABLE): the
    // one-call listing gives what reading one attribute at a time gives.
    let data = env.dir.path().join("data.bin");
    std::fs::write(&data, b"opaque").unwrap();
    p11(&[
        "--login",
        "--pin",
        USER_PIN,
        "--keypairgen",
        "--key-type",
        "rsa:2048",
        "--label",
        "rsa-test",
    ]);
    p11(&[
        "--login",
        "--pin",
        USER_PIN,
        "--write-object",
        data.to_str().unwrap(),
        "--type",
        "data",
        "--label",
        "tdekey-data",
    ]);
    {
        use tdekey::hsm::Hsm;
        use tdekey::model::{PinFormat, TokenSelector};
        let mut hsm = Hsm::load(Path::new(MODULE)).unwrap();
        hsm.open(&TokenSelector::Label(LABEL.into())).unwrap();
        hsm.login(
            "u",
            &tdekey::secret::Secret::from(USER_PIN),
            PinFormat::Plain,
        )
        .unwrap();
        let mut fast = hsm.inventory(&mut |_, _| {}).unwrap();
        let mut slow = hsm.inventory_attribute_by_attribute().unwrap();
        hsm.close().unwrap();
        fast.sort_by_key(|o| o.handle);
        slow.sort_by_key(|o| o.handle);
        assert_eq!(fast.len(), 4, "key, RSA pair, data object");
        assert_eq!(fast, slow, "the same rows, attribute for attribute");
        let public = fast.iter().find(|o| o.class == "CKO_PUBLIC_KEY").unwrap();
        assert_eq!(
            public.flags.sensitive, None,
            "refused, shown as not reported"
        );
    }

    // Audit checkpoints with an HMAC key in the token.
    tdekey(&env, &[&["audit", "checkpoint"][..], &target].concat());
    let verified = tdekey(&env, &[&["audit", "verify", "--hsm"][..], &target].concat());
    assert!(
        verified.contains("1 checkpoint verified in the HSM"),
        "{verified}"
    );

    // A Rehearsal database migrated to the token, then rotated both ways.
    tdekey(
        &env,
        &[
            "hsm",
            "profile",
            "add",
            "occ",
            "--module",
            MODULE,
            "--token",
            LABEL,
            "--user",
            "u",
            "--pin-format",
            "plain",
        ],
    );
    tdekey(
        &env,
        &[
            "db",
            "add",
            "OCCDB",
            "--connector",
            "rehearsal",
            "--with-file-wallet",
            "--hsm-profile",
            "occ",
        ],
    );
    let migrated = tdekey(&env, &["migrate", "run", "OCCDB", "--yes"]);
    assert!(migrated.contains("is finished"), "{migrated}");
    for way in ["hsm", "oracle"] {
        let r = tdekey(&env, &["rotate", "OCCDB", "--way", way, "--json"]);
        let r: serde_json::Value = serde_json::from_str(&r).unwrap();
        assert_eq!(r["outcome"], "success", "{way}: {r}");
    }
    common::audit_intact(&env);
}
