//! Benchmark: list a SoftHSM2 token of 5,000 objects with every attribute the Keys table shows,
//! as `tdekey hsm keys --json`, against `pkcs11-tool --list-objects` on the same token. Both are
//! whole processes (start-up, C_Initialize, login, listing), run alternately, median of N runs.
//!
//! `make bench` (or `cargo bench --bench inventory`). Set TDEKEY_BENCH_OBJECTS and
//! TDEKEY_BENCH_RUNS to change the size and the number of runs.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tdekey::hsm::demo::{self, TokenSpec};
use tdekey::hsm::{Hsm, KeyTemplate};
use tdekey::model::{PinFormat, TokenSelector};
use tdekey::secret::Secret;
use tdekey::tde::labels::{format_key_id, key_metadata_label};

const PIN: &str = "bench-user-pin";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time(mut cmd: Command) -> Duration {
    let start = Instant::now();
    let out = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("start the command");
    let took = start.elapsed();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

fn main() {
    let objects = env_usize("TDEKEY_BENCH_OBJECTS", 5000);
    let runs = env_usize("TDEKEY_BENCH_RUNS", 5).max(1);
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let conf = demo::write_softhsm_conf(&dir.path().join("softhsm2")).expect("softhsm conf");
    // SAFETY: no other thread exists yet.
    unsafe { std::env::set_var("SOFTHSM2_CONF", &conf) };
    let module = demo::softhsm_module().expect("SoftHSM2 is installed (make bench installs it)");

    let fill = Instant::now();
    {
        let hsm = demo::create_softhsm_token(&TokenSpec {
            label: "bench",
            so_pin: Secret::from("bench-so-pin"),
            user_pin: Secret::from(PIN),
        })
        .expect("create the token");
        for i in 0..objects {
            let id = hsm.random_master_key_id().expect("random id");
            if i % 2 == 0 {
                hsm.generate_aes_key(&id.hsm_label(), KeyTemplate::ORACLE_MASTER_KEY)
                    .expect("generate");
            } else {
                hsm.create_data_object(
                    &key_metadata_label(&format_key_id(0x06, &id)),
                    "ORACLE",
                    b"metadata",
                )
                .expect("data object");
            }
        }
        hsm.close().expect("close");
    }
    println!(
        "token: {objects} objects ({} AES-256 keys, {} data objects), filled in {:.1} s",
        objects.div_ceil(2),
        objects / 2,
        fill.elapsed().as_secs_f64()
    );

    // In-process: load, login, inventory (what the GUI's HSM thread does), without process start-up.
    let mut inproc = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let mut hsm = Hsm::load(&module).expect("load");
        hsm.open(&TokenSelector::Label("bench".into()))
            .expect("open");
        hsm.login("", &Secret::from(PIN), PinFormat::Plain)
            .expect("login");
        let n = hsm.inventory(&mut |_, _| {}).expect("inventory").len();
        assert_eq!(n, objects);
        hsm.close().expect("close");
        inproc.push(start.elapsed());
    }

    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for _ in 0..runs {
        let mut t = Command::new(env!("CARGO_BIN_EXE_tdekey"));
        t.arg("--data-dir")
            .arg(&data)
            .args([
                "hsm",
                "keys",
                "--json",
                "--token",
                "bench",
                "--pin-format",
                "plain",
                "--module",
            ])
            .arg(&module)
            .env("TDEKEY_PIN", PIN)
            .env("SOFTHSM2_CONF", &conf);
        ours.push(time(t));
        let mut p = Command::new("pkcs11-tool");
        p.arg("--module")
            .arg(&module)
            .args([
                "--token-label",
                "bench",
                "--login",
                "--pin",
                PIN,
                "--list-objects",
            ])
            .env("SOFTHSM2_CONF", &conf);
        theirs.push(time(p));
    }
    let (o, t, i) = (median(ours), median(theirs), median(inproc));
    println!("runs: {runs} each, alternating; medians:");
    println!(
        "  tdekey hsm keys --json      {:>8.1} ms",
        o.as_secs_f64() * 1e3
    );
    println!(
        "  pkcs11-tool --list-objects  {:>8.1} ms",
        t.as_secs_f64() * 1e3
    );
    println!(
        "  ratio tdekey / pkcs11-tool  {:>8.2}x  (goal: <= 1.00x)",
        o.as_secs_f64() / t.as_secs_f64()
    );
    println!(
        "  in-process inventory        {:>8.1} ms  (load + login + {objects} objects, as the GUI does)",
        i.as_secs_f64() * 1e3
    );
}
