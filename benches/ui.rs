//! Benchmark: the window's start-up and frame time, with the real `App` in egui_kittest, on a
//! data directory whose audit log holds 1,000,000 entries and whose default HSM profile opens a
//! SoftHSM2 token of 5,000 objects.
//!
//! - start to first frame, in-process: from the `Harness::builder()…build_eframe(…)` call to
//!   the first `step()` returning, a fresh harness each run (the data directory is reused). The
//!   app connects to the HSM at start; that must not hold up the first frame (the UI thread
//!   never waits on the HSM), so the time until the connection shows is reported beside it.
//!   Goal: < 300 ms;
//! - start to first frame, as a whole process: `tdekey --data-dir …` (the window) until its
//!   window is mapped, which eframe does after painting the first frame. Needs a display: the
//!   one in DISPLAY, else an Xvfb this bench starts (software GL); skipped when there is none;
//! - CPU per frame, logged in, on the Keys screen (5,000 objects loaded) and on the Audit
//!   screen (its first page of the 1,000,000 entries shown, and the count): N `step()`s after a
//!   warm-up, median and p95 of the UI thread's CPU (CLOCK_THREAD_CPUTIME_ID), with the
//!   tessellation a real frame adds (eframe tessellates; a kittest step does not), the
//!   process's CPU (CLOCK_PROCESS_CPUTIME_ID: every thread) and the wall time. Goal: < 4 ms of
//!   CPU per frame.
//!
//! A kittest step also builds and applies the AccessKit tree (eframe does that only for a
//! screen reader), and paints nothing (the GL upload and draw calls are not counted).
//!
//! `make bench`, or `cargo bench --bench ui`. TDEKEY_BENCH_ENTRIES, TDEKEY_BENCH_OBJECTS,
//! TDEKEY_BENCH_RUNS and TDEKEY_BENCH_FRAMES change the sizes; TDEKEY_BENCH_XVFB=none skips
//! the whole-process measurement.

mod common;

use common::{bench_entry, cpu_model, env_usize, fill_token, ms, softhsm_version};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tdekey::audit::Auditor;
use tdekey::engine::Task;
use tdekey::hsm::demo;
use tdekey::model::{HsmProfile, PinFormat};
use tdekey::paths::DataDir;
use tdekey::ui::{App, Screen};

const PIN: &str = "bench-user-pin";
const LABEL: &str = "bench";
const USER: &str = "bench_cu";
const PROFILE: &str = "Bench token (SoftHSM2)";
/// The window size the UI tests use.
const SIZE: egui::Vec2 = egui::Vec2::new(1400.0, 900.0);
const GOAL_FIRST_FRAME_MS: f64 = 300.0;
const GOAL_FRAME_CPU_MS: f64 = 4.0;
/// Steps before the timed ones, on each screen.
const WARM_UP: usize = 20;
/// How long a wait may last before the bench gives up (a broken build, not a measurement).
const PATIENCE: Duration = Duration::from_secs(120);
/// Tasks that, while pending, mean a background thread is still working for the window.
const TASKS: &[Task] = &[
    Task::Connect,
    Task::Login,
    Task::Inventory,
    Task::Profiles,
    Task::DetectModules,
    Task::AuditQuery,
    Task::Databases,
    Task::RotationOverview,
];

/// CPU time (user + system) of `clock`: CLOCK_THREAD_CPUTIME_ID or CLOCK_PROCESS_CPUTIME_ID,
/// to the nanosecond (getrusage's RUSAGE_THREAD moves in scheduler ticks here, 4 ms).
fn cpu(clock: libc::clockid_t) -> Duration {
    // SAFETY: `timespec` is plain data; clock_gettime writes it and nothing else.
    let mut t: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a local.
    let r = unsafe { libc::clock_gettime(clock, &mut t) };
    assert_eq!(r, 0, "clock_gettime: {}", std::io::Error::last_os_error());
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// CPU time of the calling thread (the UI thread, where the harness runs).
fn ui_cpu() -> Duration {
    cpu(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// CPU time of every thread of the process.
fn process_cpu() -> Duration {
    cpu(libc::CLOCK_PROCESS_CPUTIME_ID)
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The nearest-rank 95th percentile.
fn p95(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = (v.len() * 95).div_ceil(100).max(1);
    v[rank - 1]
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::MIN, f64::max)
}

/// Every run, in the order taken.
fn runs(v: &[f64], decimals: usize) -> String {
    v.iter()
        .map(|x| format!("{x:.decimals$}"))
        .collect::<Vec<_>>()
        .join(" / ")
}

fn verdict(met: bool) -> &'static str {
    if met { "goal met" } else { "GOAL MISSED" }
}

/// The real app, with what its frames cost the UI thread and when its first frame ended.
struct Timed {
    app: App,
    /// Frames drawn so far (`ui` calls).
    frames: u32,
    /// When the first `ui` call returned.
    first_frame_end: Option<Instant>,
    /// The UI thread's CPU time in the last `ui` call (the app's own drawing and its events).
    last_ui_cpu: Duration,
}

impl eframe::App for Timed {
    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        let c = ui_cpu();
        self.app.ui(ui, frame);
        self.last_ui_cpu = ui_cpu().saturating_sub(c);
        self.frames += 1;
        if self.first_frame_end.is_none() {
            self.first_frame_end = Some(Instant::now());
        }
    }
}

type H = Harness<'static, Timed>;

fn idle(app: &App) -> bool {
    TASKS.iter().all(|t| !app.is_pending(*t))
}

/// Steps the app until `pred` holds, `pause` apart.
fn wait_until(h: &mut H, what: &str, pause: Duration, pred: impl Fn(&App) -> bool) {
    let start = Instant::now();
    loop {
        h.step();
        if pred(&h.state().app) {
            return;
        }
        assert!(start.elapsed() < PATIENCE, "gave up waiting for {what}");
        std::thread::sleep(pause);
    }
}

/// `entries` audit entries, in batches of 10,000, as benches/audit.rs appends them.
fn fill_log(data: &DataDir, entries: usize) {
    let mut a = Auditor::open(data).expect("open the log");
    let batch = 10_000;
    let mut written = 0;
    while written < entries {
        let n = batch.min(entries - written);
        let rows: Vec<_> = (written..written + n).map(bench_entry).collect();
        a.record_batch(&rows).expect("batch");
        written += n;
    }
}

/// One start, in-process: times from the `build_eframe` call.
struct Startup {
    /// `App::new` returned (the engine's threads started, each worker's database opened).
    app_new: Duration,
    /// `App::new` alone.
    app_new_alone: Duration,
    /// The UI thread's CPU in `App::new`.
    app_new_cpu: Duration,
    /// The first frame's `ui` returned (the first frame, less what kittest adds after it).
    first_ui: Duration,
    /// `build_eframe` returned (kittest runs frames until the UI settles, at most 5, and its
    /// accessibility check).
    built: Duration,
    /// The first `step()` returned: the figure the goal is about.
    first_step: Duration,
    /// Frames drawn by then.
    frames: u32,
    /// The UI thread's CPU from the call to the first step's end.
    ui_cpu: Duration,
    /// The HSM screen showed the connection (made on the HSM thread).
    connected: Duration,
    /// Whether the first frames were drawn before the connection was made.
    drawn_before_connected: bool,
}

fn startup_once(data: &DataDir) -> Startup {
    let data = data.clone();
    let mut new_times = None;
    let cpu0 = ui_cpu();
    let t0 = Instant::now();
    let mut h: H = Harness::builder().with_size(SIZE).build_eframe(|cc| {
        let (s, c) = (Instant::now(), ui_cpu());
        let app = App::new(cc, data);
        new_times = Some((s, Instant::now(), ui_cpu().saturating_sub(c)));
        Timed {
            app,
            frames: 0,
            first_frame_end: None,
            last_ui_cpu: Duration::ZERO,
        }
    });
    let built = t0.elapsed();
    h.step();
    let first_step = t0.elapsed();
    let ui_cpu = ui_cpu().saturating_sub(cpu0);
    let frames = h.state().frames;
    let drawn_before_connected = h.state().app.hsm.connection.is_none();
    wait_until(
        &mut h,
        "the connection at start",
        Duration::from_millis(2),
        |a| a.hsm.connection.is_some(),
    );
    let connected = t0.elapsed();
    let (s, e, app_new_cpu) = new_times.expect("App::new ran");
    let first_end = h.state().first_frame_end.expect("a frame was drawn");
    // Closing waits for the workers (the HSM session closed, its audit entries written).
    drop(h);
    Startup {
        app_new: e - t0,
        app_new_alone: e - s,
        app_new_cpu,
        first_ui: first_end - t0,
        built,
        first_step,
        frames,
        ui_cpu,
        connected,
        drawn_before_connected,
    }
}

/// Per-frame figures, in ms.
#[derive(Default)]
struct Frames {
    /// The UI thread's CPU in `step()`.
    step_cpu: Vec<f64>,
    /// Of which `App::ui`.
    app_cpu: Vec<f64>,
    /// The UI thread's CPU to tessellate the frame's shapes (outside the step).
    tessellate_cpu: Vec<f64>,
    /// step + tessellation: the frame's CPU on the UI thread, painting aside.
    frame_cpu: Vec<f64>,
    /// Every thread's CPU in `step()`.
    process_cpu: Vec<f64>,
    wall: Vec<f64>,
}

fn measure_frames(h: &mut H, n: usize) -> Frames {
    h.run_steps(WARM_UP);
    let mut f = Frames::default();
    for _ in 0..n {
        let (w, t, p) = (Instant::now(), ui_cpu(), process_cpu());
        h.step();
        let (w, t, p) = (w.elapsed(), ui_cpu() - t, process_cpu() - p);
        let app = h.state().last_ui_cpu;
        let shapes = h.output().shapes.clone();
        let ppp = h.output().pixels_per_point;
        let c = ui_cpu();
        let primitives = h.ctx.tessellate(shapes, ppp);
        let tess = ui_cpu() - c;
        assert!(!primitives.is_empty(), "the frame drew something");
        f.step_cpu.push(ms(t));
        f.app_cpu.push(ms(app));
        f.tessellate_cpu.push(ms(tess));
        f.frame_cpu.push(ms(t + tess));
        f.process_cpu.push(ms(p));
        f.wall.push(ms(w));
    }
    f
}

fn print_frames(title: &str, f: &Frames) {
    println!("{title}");
    println!(
        "  {:<58} {:>8} {:>8} {:>8}",
        "per frame, ms", "median", "p95", "max"
    );
    for (what, v) in [
        (
            "UI thread CPU, kittest step + tessellation (the goal)",
            &f.frame_cpu,
        ),
        ("  UI thread CPU, kittest step", &f.step_cpu),
        ("    of which App::ui (the app's drawing)", &f.app_cpu),
        ("  UI thread CPU, tessellation", &f.tessellate_cpu),
        ("process CPU in the step (every thread)", &f.process_cpu),
        ("wall time of the step", &f.wall),
    ] {
        println!(
            "  {what:<58} {:>8.2} {:>8.2} {:>8.2}",
            median(v),
            p95(v),
            max(v)
        );
    }
    let (m, p) = (median(&f.frame_cpu), p95(&f.frame_cpu));
    println!(
        "  goal < {GOAL_FRAME_CPU_MS} ms CPU per frame: median {m:.2} ms, p95 {p:.2} ms: {}",
        verdict(m < GOAL_FRAME_CPU_MS && p < GOAL_FRAME_CPU_MS)
    );
}

/// Ends a child this bench started: SIGTERM (Xvfb then removes its lock and socket), SIGKILL
/// after 5 s.
fn stop(child: &mut Child) {
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: `pid` is our own child, not yet reaped.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The display for the whole-process measurement: DISPLAY, else an Xvfb started here (returned
/// so the caller stops it), else why there is none.
fn display(dir: &Path) -> Result<(String, Option<Child>), String> {
    if std::env::var_os("TDEKEY_BENCH_XVFB").is_some_and(|v| v == "none") {
        return Err("TDEKEY_BENCH_XVFB=none".into());
    }
    if Command::new("xwininfo")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_err()
    {
        return Err("no xwininfo (x11-utils) to see the window appear".into());
    }
    if let Some(d) = std::env::var("DISPLAY").ok().filter(|d| !d.is_empty()) {
        return Ok((d, None));
    }
    let Some(n) = (99..199).find(|n| {
        !Path::new(&format!("/tmp/.X{n}-lock")).exists()
            && !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
    }) else {
        return Err("no free X display number for Xvfb".into());
    };
    let mut xvfb = Command::new("Xvfb")
        .arg(format!(":{n}"))
        // -noreset: no server reset (and refused connections) when the last client leaves.
        .args([
            "-screen",
            "0",
            "1600x1000x24",
            "-nolisten",
            "tcp",
            "-noreset",
        ])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("xvfb.log")).map_err(|e| e.to_string())?)
        .spawn()
        .map_err(|e| format!("no display (DISPLAY is not set) and no Xvfb ({e})"))?;
    // Ready when a client can connect (its socket appears a little before).
    let d = format!(":{n}");
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = xvfb.try_wait() {
            return Err(format!("Xvfb {d} exited ({status})"));
        }
        let ready = Command::new("xwininfo")
            .args(["-root", "-display", &d])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ready {
            break;
        }
        if start.elapsed() > Duration::from_secs(10) {
            stop(&mut xvfb);
            return Err(format!("Xvfb {d} did not start in 10 s"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok((d, Some(xvfb)))
}

/// `tdekey --data-dir …` until its window is mapped (eframe maps it once the first frame is
/// painted), polled every 5 ms with xwininfo.
fn process_once(display: &str, data: &DataDir, conf: &Path, log: &Path) -> Result<f64, String> {
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tdekey"))
        .arg("--data-dir")
        .arg(data.root())
        .env("DISPLAY", display)
        .env("SOFTHSM2_CONF", conf)
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("TDEKEY_DATA_DIR")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).map_err(|e| e.to_string())?)
        .spawn()
        .map_err(|e| format!("could not start tdekey: {e}"))?;
    let result = loop {
        if let Ok(Some(status)) = child.try_wait() {
            let err = std::fs::read_to_string(log).unwrap_or_default();
            break Err(format!("tdekey exited ({status}): {}", err.trim()));
        }
        let seen = Command::new("xwininfo")
            .args(["-display", display, "-name", "tdekey"])
            .stderr(Stdio::null())
            .output()
            .is_ok_and(|o| {
                o.status.success() && String::from_utf8_lossy(&o.stdout).contains("IsViewable")
            });
        if seen {
            break Ok(ms(start.elapsed()));
        }
        if start.elapsed() > Duration::from_secs(30) {
            break Err("no window after 30 s".into());
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    stop(&mut child);
    result
}

fn main() {
    let objects = env_usize("TDEKEY_BENCH_OBJECTS", 5000);
    let entries = env_usize("TDEKEY_BENCH_ENTRIES", 1_000_000);
    let n_runs = env_usize("TDEKEY_BENCH_RUNS", 5).max(1);
    let n_frames = env_usize("TDEKEY_BENCH_FRAMES", 200).max(1);

    let dir = tempfile::tempdir().expect("temp dir");
    let data = DataDir::at(dir.path().join("data"));
    data.ensure().expect("data dir");
    let conf = demo::write_softhsm_conf(&data.softhsm_dir()).expect("softhsm conf");
    // SAFETY: no other thread exists yet.
    unsafe { std::env::set_var("SOFTHSM2_CONF", &conf) };
    let module = demo::softhsm_module().expect("SoftHSM2 is installed (make bench installs it)");

    // The token and the log at once: one is SoftHSM2's, the other SQLite's.
    let (token_s, log_s) = std::thread::scope(|s| {
        let token = s.spawn(|| {
            let t = Instant::now();
            fill_token(LABEL, PIN, objects);
            t.elapsed().as_secs_f64()
        });
        let log = s.spawn(|| {
            let t = Instant::now();
            fill_log(&data, entries);
            t.elapsed().as_secs_f64()
        });
        (
            token.join().expect("token fill"),
            log.join().expect("log fill"),
        )
    });
    {
        let mut a = Auditor::open(&data).expect("open the log");
        let profile = HsmProfile {
            id: None,
            name: PROFILE.into(),
            module_path: module.clone(),
            token_label: Some(LABEL.into()),
            slot_id: None,
            user_name: USER.into(),
            pin_format: PinFormat::Plain,
        };
        tdekey::session::save_hsm_profile(&mut a, &profile, true).expect("save the profile");
    }
    let db_mb = std::fs::metadata(data.database()).map_or(0.0, |m| m.len() as f64 / 1e6);

    // 1a. Start to first frame, in-process.
    let starts: Vec<Startup> = (0..n_runs).map(|_| startup_once(&data)).collect();

    // 1b. Start to first frame, the whole process.
    let process: Result<(Vec<f64>, String), String> = display(dir.path()).and_then(|(d, xvfb)| {
        let log = dir.path().join("tdekey-window.log");
        let r = (0..n_runs)
            .map(|i| {
                process_once(&d, &data, &conf, &log).map_err(|e| format!("run {}: {e}", i + 1))
            })
            .collect::<Result<Vec<_>, _>>();
        let how = if let Some(mut x) = xvfb {
            stop(&mut x);
            format!("on an Xvfb started here, {d}, software GL")
        } else {
            format!("on DISPLAY={d}")
        };
        r.map(|v| (v, how))
    });

    // 2. Frame time: logged in, on the Keys screen, then on the Audit screen.
    let mut h: H = Harness::builder().with_size(SIZE).build_eframe(|cc| Timed {
        app: App::new(cc, data.clone()),
        frames: 0,
        first_frame_end: None,
        last_ui_cpu: Duration::ZERO,
    });
    let pause = Duration::from_millis(10);
    wait_until(&mut h, "the connection", pause, |a| {
        a.hsm.connection.is_some() && idle(a)
    });
    h.get_by_label("Password").focus();
    h.step();
    h.get_by_label("Password").type_text(PIN);
    h.step();
    h.get_by_label("Log in").click();
    let login = Instant::now();
    wait_until(&mut h, "the login", pause, |a| a.hsm.login.is_some());
    h.get_by_label("Keys").click();
    wait_until(&mut h, "the inventory", pause, |a| {
        a.screen == Screen::Keys && a.keys.loaded && a.keys.rows.len() == objects && idle(a)
    });
    let inventory_s = login.elapsed().as_secs_f64();
    h.step();
    assert!(
        h.query_by_label_contains(&format!("{objects} objects"))
            .is_some(),
        "the Keys screen shows the {objects} objects"
    );
    let keys = measure_frames(&mut h, n_frames);

    h.get_by_label("Audit").click();
    let audit_t = Instant::now();
    wait_until(&mut h, "the first page of the log", pause, |a| {
        a.screen == Screen::Audit && !a.audit.rows.is_empty()
    });
    let first_page_ms = ms(audit_t.elapsed());
    wait_until(&mut h, "the count of the log", pause, |a| {
        a.audit.count.is_some() && idle(a)
    });
    let count_ms = ms(audit_t.elapsed());
    let (count, loaded) = (
        h.state().app.audit.count.unwrap_or(0),
        h.state().app.audit.rows.len(),
    );
    assert!(
        count >= entries as u64,
        "the Audit screen counts {count} entries"
    );
    let audit = measure_frames(&mut h, n_frames);
    drop(h);

    // The result block.
    println!(
        "Machine: {} cores, {}; SoftHSM2 {} (file object store); egui/eframe/egui_kittest 0.37; {} build",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model(),
        softhsm_version(),
        if cfg!(debug_assertions) {
            "DEBUG"
        } else {
            "release (bench profile)"
        }
    );
    println!(
        "Data: audit log of {entries} entries ({db_mb:.0} MB database, filled in {log_s:.1} s); default profile on a SoftHSM2 token of {objects} objects (filled in {token_s:.1} s, at the same time); kittest window {}×{}",
        SIZE.x, SIZE.y
    );
    let col = |f: fn(&Startup) -> f64| starts.iter().map(f).collect::<Vec<f64>>();
    let row = |what: &str, v: &[f64], decimals: usize| {
        println!(
            "  {what:<60} {:>8.dp$} ms   (runs: {})",
            median(v),
            runs(v, decimals),
            dp = decimals
        );
    };
    println!(
        "Start to first frame, in-process (egui_kittest), fresh harness each, {n_runs} runs; medians:"
    );
    let first = col(|s| ms(s.first_step));
    row(
        "build_eframe call → first step() returned (the goal)",
        &first,
        1,
    );
    row(
        "  App::new (engine threads, 4 database opens)",
        &col(|s| ms(s.app_new_alone)),
        1,
    );
    row("    of which UI thread CPU", &col(|s| ms(s.app_new_cpu)), 1);
    row("  → App::new returned", &col(|s| ms(s.app_new)), 1);
    row(
        "  → first frame's App::ui returned",
        &col(|s| ms(s.first_ui)),
        1,
    );
    row(
        "  → build_eframe returned (kittest settles, checks a11y)",
        &col(|s| ms(s.built)),
        1,
    );
    row(
        "  UI thread CPU, call → first step() returned",
        &col(|s| ms(s.ui_cpu)),
        1,
    );
    println!(
        "  {:<60} {:>8}      (runs: {})",
        "frames drawn by the first step()'s end",
        "",
        starts
            .iter()
            .map(|s| s.frames.to_string())
            .collect::<Vec<_>>()
            .join(" / ")
    );
    row(
        "HSM connection shown (made on the HSM thread)",
        &col(|s| ms(s.connected)),
        0,
    );
    let before = starts.iter().filter(|s| s.drawn_before_connected).count();
    println!("  first frame drawn before the connection: {before} of {n_runs} runs");
    let m = median(&first);
    println!(
        "  goal < {GOAL_FIRST_FRAME_MS:.0} ms to the first frame: {m:.1} ms: {}",
        verdict(m < GOAL_FIRST_FRAME_MS)
    );
    match &process {
        Ok((v, how)) => {
            println!("Start to first frame, the whole process ({how}):");
            row("tdekey --data-dir … → its window mapped", v, 0);
            let m = median(v);
            println!(
                "  goal < {GOAL_FIRST_FRAME_MS:.0} ms (whole process): {m:.0} ms: {}",
                verdict(m < GOAL_FIRST_FRAME_MS)
            );
        }
        Err(why) => println!("Start to first frame, the whole process: not measured: {why}"),
    }
    println!(
        "Logged in (login → {objects} objects on the Keys screen: {inventory_s:.2} s); {WARM_UP} warm-up steps, then {n_frames} timed, back to back:"
    );
    print_frames(
        &format!("Keys screen, {objects} objects (only the visible rows laid out):"),
        &keys,
    );
    print_frames(
        &format!(
            "Audit screen, {count} entries ({loaded} loaded; first page {first_page_ms:.0} ms after the click, count {count_ms:.0} ms):"
        ),
        &audit,
    );
    println!(
        "(A kittest step also builds and applies the AccessKit tree, which eframe does only for a screen reader; GL painting is not counted.)"
    );
}
