//! Shared test helpers: a fresh SoftHSM2 configuration per test (nextest runs every test in its
//! own process, so setting SOFTHSM2_CONF here is safe), and the real `tdekey` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tdekey::hsm::Hsm;
use tdekey::hsm::demo::{self, TokenSpec};
use tdekey::paths::DataDir;
use tdekey::secret::Secret;

pub struct Env {
    pub dir: tempfile::TempDir,
    pub data: DataDir,
    pub conf: PathBuf,
    pub module: PathBuf,
}

impl Env {
    /// A temp data directory with its own SoftHSM2 configuration, adopted by this process.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = DataDir::at(dir.path().join("data"));
        data.ensure().expect("data dir");
        let conf = demo::write_softhsm_conf(&data.softhsm_dir()).expect("softhsm conf");
        // SAFETY: set before this test starts any thread that reads the environment.
        unsafe { std::env::set_var("SOFTHSM2_CONF", &conf) };
        let module = demo::softhsm_module().expect("SoftHSM2 is installed (make test installs it)");
        Env {
            dir,
            data,
            conf,
            module,
        }
    }

    /// Creates a token and returns it logged in as the user.
    pub fn token(&self, label: &str, user_pin: &str) -> Hsm {
        demo::create_softhsm_token(&TokenSpec {
            label,
            so_pin: Secret::from("so-pin-0000"),
            user_pin: Secret::from(user_pin),
        })
        .expect("create token")
    }

    /// The `tdekey` binary with this data directory and SoftHSM2 configuration.
    pub fn tdekey(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tdekey"));
        c.arg("--data-dir")
            .arg(self.data.root())
            .env("SOFTHSM2_CONF", &self.conf)
            .env_remove("TDEKEY_PIN")
            .env_remove("TDEKEY_DATA_DIR");
        c
    }

    /// Every byte of every file tdekey writes in the data directory (the database and its
    /// WAL), leaving out SoftHSM2's own token store, which holds the PIN's verifier by design.
    pub fn all_bytes_except_tokens(&self) -> Vec<u8> {
        let mut out = Vec::new();
        collect(self.data.root(), &self.data.softhsm_dir(), &mut out);
        out
    }
}

fn collect(dir: &Path, skip: &Path, out: &mut Vec<u8>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p == skip {
            continue;
        }
        if p.is_dir() {
            collect(&p, skip, out);
        } else if let Ok(b) = std::fs::read(&p) {
            out.extend_from_slice(&b);
        }
    }
}

pub fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Runs the command with `input` on its stdin; returns (exit code, stdout, stderr).
pub fn run_with_stdin(mut c: Command, input: &[u8]) -> (i32, String, String) {
    use std::io::Write;
    use std::process::Stdio;
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("run tdekey");
    // A child that exits before reading everything closes the pipe: its output says why.
    let _ = child.stdin.take().expect("stdin is piped").write_all(input);
    let o = child.wait_with_output().expect("wait for tdekey");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

pub fn run(mut c: Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = c.output().expect("run tdekey");
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

/// `tdekey migrate status NAME --json`.
pub fn migration_status(env: &Env, name: &str) -> serde_json::Value {
    let (code, out, err) = run({
        let mut c = env.tdekey();
        c.args(["migrate", "status", name, "--json"]);
        c
    });
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

/// The status of one step in [`migration_status`]'s answer.
pub fn step_status(v: &serde_json::Value, step: &str) -> String {
    v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == step)
        .map(|s| s["status"].as_str().unwrap().to_owned())
        .unwrap()
}

/// `tdekey audit verify` says the chain is intact.
pub fn audit_intact(env: &Env) {
    let (code, out, err) = run({
        let mut c = env.tdekey();
        c.args(["audit", "verify"]);
        c
    });
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("chain intact"), "{out}");
}

/// The master keys on the demo token: (label, sensitive, extractable), by label (the token
/// lists objects in no fixed order).
pub fn demo_master_keys(env: &Env) -> Vec<(String, Option<bool>, Option<bool>)> {
    use tdekey::hsm::demo::{DEMO_TOKEN_LABEL, DEMO_USER_PIN};
    use tdekey::model::{PinFormat, TokenSelector};
    let mut hsm = Hsm::load(&env.module).unwrap();
    hsm.open(&TokenSelector::Label(DEMO_TOKEN_LABEL.into()))
        .unwrap();
    hsm.login("", &Secret::from(DEMO_USER_PIN), PinFormat::Plain)
        .unwrap();
    let mut keys: Vec<_> = hsm
        .inventory(&mut |_, _| {})
        .unwrap()
        .into_iter()
        .filter(|o| o.label.starts_with(tdekey::tde::labels::MASTER_KEY_PREFIX))
        .map(|o| (o.label, o.flags.sensitive, o.flags.extractable))
        .collect();
    keys.sort();
    hsm.close().unwrap();
    keys
}

/// Adds Rehearsal databases (non-CDB, on the demo token's HSM profile) whose master key is
/// already on the HSM: a file wallet set up, TDE_CONFIGURATION=HSM|FILE, restarted, migrated.
/// The statements go straight to the Rehearsal (a test's set-up, not recorded). Needs
/// `tdekey hsm demo-token` first.
pub fn rehearsal_on_hsm(env: &Env, names: &[&str]) {
    use tdekey::hsm::demo::{DEMO_PROFILE_NAME, DEMO_TOKEN_LABEL, DEMO_USER_PIN};
    use tdekey::model::TokenSelector;
    use tdekey::model::{ConnectorKind, DatabaseProfile, DbAuth, Multitenant, PinFormat};
    use tdekey::oracle::Connector;
    use tdekey::oracle::rehearsal::{self, Rehearsal};
    use tdekey::tde::request::{Reply, Request};
    use tdekey::tde::sql::Options;
    let mut a = tdekey::audit::Auditor::open(&env.data).unwrap();
    let mut hsm = Hsm::load(&env.module).unwrap();
    hsm.open(&TokenSelector::Label(DEMO_TOKEN_LABEL.into()))
        .unwrap();
    hsm.login("demo_cu", &Secret::from(DEMO_USER_PIN), PinFormat::Plain)
        .unwrap();
    let pw = Secret::from("Wallet-Pw-Rot1");
    for name in names {
        let root = format!("/u01/app/oracle/admin/{name}/wallet");
        tdekey::databases::save(
            &mut a,
            &DatabaseProfile {
                id: None,
                name: (*name).into(),
                connector: ConnectorKind::Rehearsal,
                oracle_home: None,
                oracle_sid: None,
                connect_string: None,
                auth: DbAuth::Os,
                wallet_root: Some(root.clone()),
                multitenant: Multitenant::NonCdb,
                rac: false,
                hsm_profile: Some(DEMO_PROFILE_NAME.into()),
            },
        )
        .unwrap();
        let path = rehearsal::state_path(env.data.root(), name);
        let mut r =
            Rehearsal::open(&path, name, Multitenant::NonCdb, &mut hsm, PinFormat::Plain).unwrap();
        let mut requests = rehearsal::seed_requests(&root, &pw);
        requests.extend([
            Request::SetTdeConfiguration {
                value: "HSM|FILE".into(),
                all_instances: false,
            },
            Request::Restart,
            Request::Migrate {
                hsm_user: "demo_cu".into(),
                hsm_password: Secret::from(DEMO_USER_PIN),
                wallet_password: pw.clone(),
                options: Options {
                    backup: Some(Some("pre_hsm".into())),
                    all_containers: false,
                },
            },
        ]);
        for req in &requests {
            let reply = r.run(req).unwrap().reply;
            assert!(
                !matches!(reply, Reply::Error { .. }),
                "{}: {reply:?}",
                req.title()
            );
        }
    }
    hsm.close().unwrap();
}
