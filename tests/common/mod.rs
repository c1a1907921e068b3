//! Shared test helpers: a fresh SoftHSM2 configuration per test (nextest runs every test in its
//! own process, so setting SOFTHSM2_CONF here is safe), and the real `tdekey` binary.
#![allow(dead_code)]

/// A throwaway PostgreSQL cluster (issue #21); `#![allow(dead_code)]` above covers it too.
pub mod held;
pub mod pg;
pub mod rsyslog;

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

    /// Every byte of every file tdekey writes in the data directory (the database, its WAL,
    /// journal and shared memory, eframe's `window.ron`, Rehearsal states, reports), leaving
    /// out SoftHSM2's own token store, which holds the PIN's verifier by design. Fails when a
    /// file cannot be read or when the search read nothing (no database, or next to no bytes):
    /// a search that read nothing would find no secret.
    pub fn all_bytes_except_tokens(&self) -> Vec<u8> {
        self.scan(&[]).bytes
    }

    /// The files under this test's whole temp directory (the data directory, exports, reports,
    /// spy logs, …) except SoftHSM2's token store and `inputs`, the files or directories the
    /// test itself wrote secrets into (a PIN file, a credentials directory).
    pub fn scan_written(&self, inputs: &[&Path]) -> Scan {
        let mut skip = vec![self.data.softhsm_dir()];
        skip.extend(inputs.iter().map(|p| p.to_path_buf()));
        scan_dirs(&[self.dir.path()], &skip, &self.data.database())
    }

    /// The data directory only, as [`Self::all_bytes_except_tokens`].
    pub fn scan(&self, extra: &[&Path]) -> Scan {
        let mut roots = vec![self.data.root()];
        roots.extend(extra.iter().copied());
        scan_dirs(&roots, &[self.data.softhsm_dir()], &self.data.database())
    }

    /// Asserts that no secret (as text, or as hex) is in any file under the temp directory but
    /// `inputs` and the token store; a CloudHSM `user:password` PIN is searched whole and by
    /// its password. Returns what was searched.
    pub fn assert_no_secrets_written(&self, secrets: &[&str], inputs: &[&Path]) -> Scan {
        let scan = self.scan_written(inputs);
        scan.assert_absent(secrets);
        scan
    }
}

/// What a search of written files read.
pub struct Scan {
    /// Every file read, with its size.
    pub files: Vec<(PathBuf, usize)>,
    /// Their bytes, one after the other.
    pub bytes: Vec<u8>,
}

/// A search that reads less than this read nothing worth the name: an SQLite database alone
/// is at least a few pages of 4096 bytes.
const MIN_BYTES: usize = 8192;

impl Scan {
    /// Fails, naming the file, when a secret is found in the bytes read.
    pub fn assert_absent(&self, secrets: &[&str]) {
        for secret in secrets {
            assert!(secret.len() >= 6, "{secret:?} is too short to search for");
            let mut forms = vec![(*secret).to_owned()];
            // A CloudHSM PIN is `user:password`: the password alone must not be there either.
            if let Some((_, pw)) = secret.split_once(':') {
                assert!(
                    pw.len() >= 6,
                    "the password of {secret:?} is too short to search for"
                );
                forms.push(pw.to_owned());
            }
            for f in forms.clone() {
                forms.push(hex_lower(f.as_bytes()));
                forms.push(hex_lower(f.as_bytes()).to_ascii_uppercase());
            }
            for form in &forms {
                if let Some(at) = find(&self.bytes, form) {
                    panic!(
                        "{form:?} (from {secret:?}) is written in {}",
                        self.file_at(at)
                    );
                }
            }
        }
    }

    /// The file that holds byte `at` of [`Scan::bytes`].
    fn file_at(&self, mut at: usize) -> String {
        for (p, n) in &self.files {
            if at < *n {
                return p.display().to_string();
            }
            at -= n;
        }
        "?".to_owned()
    }

    pub fn read(&self, name: &str) -> bool {
        self.files
            .iter()
            .any(|(p, _)| p.file_name().is_some_and(|f| f == name))
    }
}

fn hex_lower(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Reads every file under `roots` but `skip`; fails on any error, on no file read, on fewer
/// than [`MIN_BYTES`], or when the database `db` is not among them. A file that vanishes
/// between listing and reading (an atomic write's temp file, SQLite's journal) makes it start
/// again, three times at most: anything else that cannot be read fails the test.
fn scan_dirs(roots: &[&Path], skip: &[PathBuf], db: &Path) -> Scan {
    for _attempt in 0..3 {
        let mut scan = Scan {
            files: Vec::new(),
            bytes: Vec::new(),
        };
        let mut vanished = false;
        for root in roots {
            collect(root, skip, &mut scan, &mut vanished);
        }
        if vanished {
            continue;
        }
        assert!(
            !scan.files.is_empty(),
            "the search read no file under {roots:?}"
        );
        assert!(
            scan.bytes.len() >= MIN_BYTES,
            "the search read only {} bytes in {:?}",
            scan.bytes.len(),
            scan.files
        );
        assert!(
            scan.files.iter().any(|(p, _)| p == db),
            "the search did not read the database {} (read: {:?})",
            db.display(),
            scan.files
        );
        return scan;
    }
    panic!("files kept vanishing under {roots:?} while they were searched");
}

fn collect(dir: &Path, skip: &[PathBuf], out: &mut Scan, vanished: &mut bool) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            *vanished = true;
            return;
        }
        Err(e) => panic!("cannot list {} to search it: {e}", dir.display()),
    };
    for e in entries {
        let e = e.unwrap_or_else(|e| panic!("cannot list {} to search it: {e}", dir.display()));
        let p = e.path();
        if skip.contains(&p) {
            continue;
        }
        let meta = std::fs::symlink_metadata(&p);
        let meta = match meta {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                *vanished = true;
                continue;
            }
            Err(e) => panic!("cannot stat {} to search it: {e}", p.display()),
        };
        if meta.is_dir() {
            collect(&p, skip, out, vanished);
        } else if meta.is_file() {
            match std::fs::read(&p) {
                Ok(b) => {
                    out.files.push((p, b.len()));
                    out.bytes.extend_from_slice(&b);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => *vanished = true,
                Err(e) => panic!("cannot read {} to search it: {e}", p.display()),
            }
        }
        // Symbolic links (a simulated host's, pointing at the module) are searched where
        // they point, if that is under a root.
    }
}

fn find(hay: &[u8], needle: &str) -> Option<usize> {
    hay.windows(needle.len())
        .position(|w| w == needle.as_bytes())
}

pub fn contains(hay: &[u8], needle: &str) -> bool {
    assert!(!needle.is_empty(), "searching for nothing finds everything");
    find(hay, needle).is_some()
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
/// A Manual profile for a non-CDB connected AS SYSDBA, as the scripted-DBA tests use it.
pub fn manual_profile(name: &str, wallet_root: &str) -> tdekey::model::DatabaseProfile {
    use tdekey::model::{ConnectAs, ConnectorKind, DatabaseProfile, DbAuth, Multitenant};
    DatabaseProfile {
        id: None,
        name: name.into(),
        connector: ConnectorKind::Manual,
        oracle_home: None,
        oracle_sid: None,
        connect_string: None,
        auth: DbAuth::Os,
        connect_as: ConnectAs::Sysdba,
        wallet_root: Some(wallet_root.into()),
        multitenant: Multitenant::NonCdb,
        rac: false,
        rac_nodes: Vec::new(),
        standbys: Vec::new(),
        hsm_profile: None,
    }
}

/// A fresh data directory with the demo token and its Rehearsal database (`hsm demo-token`).
pub fn demo() -> Env {
    let env = Env::new();
    let (code, _, err) = run({
        let mut c = env.tdekey();
        c.args(["hsm", "demo-token"]);
        c
    });
    assert_eq!(code, 0, "{err}");
    env
}

/// The labels of the demo token's TDE master keys, sorted.
pub fn demo_master_key_labels(env: &Env) -> Vec<String> {
    demo_master_keys(env).into_iter().map(|k| k.0).collect()
}

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
    rehearsal_on_hsm_in(env, &env.data, names);
}

/// [`rehearsal_on_hsm`] with the profiles saved in `data`'s store (a shared store, when `data`
/// names one); the simulated databases and the token stay in `env`'s data directory.
pub fn rehearsal_on_hsm_in(env: &Env, data: &DataDir, names: &[&str]) {
    use tdekey::hsm::demo::{DEMO_PROFILE_NAME, DEMO_TOKEN_LABEL, DEMO_USER_PIN};
    use tdekey::model::TokenSelector;
    use tdekey::model::{ConnectorKind, DatabaseProfile, DbAuth, Multitenant, PinFormat};
    use tdekey::oracle::Connector;
    use tdekey::oracle::rehearsal::{self, Rehearsal};
    use tdekey::tde::request::{Reply, Request};
    let mut a = tdekey::audit::Auditor::open(data).unwrap();
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
                connect_as: tdekey::model::ConnectAs::Sysdba,
                wallet_root: Some(root.clone()),
                multitenant: Multitenant::NonCdb,
                rac: false,
                rac_nodes: Vec::new(),
                standbys: Vec::new(),
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
                backup: Some(Some("pre_hsm".into())),
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

impl Env {
    /// `tdekey` with the demo PIN, the demo wallet's password and `passphrase` for wallet
    /// backups, each in the variable tdekey reads it from.
    pub fn tdekey_with_secrets(&self, passphrase: &str) -> Command {
        let mut c = self.tdekey();
        c.env("TDEKEY_PIN", tdekey::hsm::demo::DEMO_USER_PIN)
            .env(
                "TDEKEY_WALLET_PASSWORD",
                tdekey::hsm::demo::DEMO_WALLET_PASSWORD,
            )
            .env("TDEKEY_BACKUP_PASSPHRASE", passphrase);
        c
    }
}
