//! The window on a team's shared store (issue #21, the window part), in egui_kittest over the
//! real app and a throw-away PostgreSQL cluster: the top bar names the store; a screen shown
//! again reads what another process (the command line) changed; a stopped server is a banner
//! with Retry while the frames go on; the server back, Retry reconnects and the list is back.

mod common;
mod ui_common;

use common::pg::Cluster;
use common::{Env, run};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use tdekey::engine::Task;
use tdekey::paths::{DataDir, SharedStore};
use tdekey::ui::App;
use ui_common::{type_into, wait_until};

/// A shared store for a test: the cluster, its URL and a 0600 password file.
struct Shared {
    pg: Cluster,
    url: String,
    password_file: PathBuf,
    db: String,
}

impl Shared {
    fn new(env: &Env) -> Shared {
        Self::with(env, Cluster::start(), "")
    }

    /// A store on `pg`, its URL ending in `query` (`?sslmode=…`).
    fn with(env: &Env, pg: Cluster, query: &str) -> Shared {
        let db = pg.create_db();
        let url = format!("{}{query}", pg.url(&db));
        let password_file = env.dir.path().join("store-password");
        std::fs::write(&password_file, format!("{}\n", pg.password())).unwrap();
        std::fs::set_permissions(&password_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        Shared {
            pg,
            url,
            password_file,
            db,
        }
    }

    /// The data directory of `env`, with its store on this cluster.
    fn data(&self, env: &Env) -> DataDir {
        env.data.clone().with_store(Some(SharedStore {
            url: self.url.clone(),
            password_file: Some(self.password_file.clone()),
        }))
    }

    /// Another process on the same store: `tdekey --store … ARGS`.
    fn cli(&self, env: &Env, args: &[&str]) {
        let mut c = env.tdekey();
        c.arg("--store")
            .arg(&self.url)
            .arg("--store-password-file")
            .arg(&self.password_file)
            .args(args);
        let (code, out, err) = run(c);
        assert_eq!(code, 0, "{args:?}: {out}{err}");
    }

    /// `tdekey --store … db add NAME --connector manual`.
    fn add_database(&self, env: &Env, name: &str) {
        self.cli(env, &["db", "add", name, "--connector", "manual"]);
    }
}

fn app(data: DataDir) -> Harness<'static, App> {
    Harness::builder()
        .with_size(egui::Vec2::new(1400.0, 900.0))
        .build_eframe(|cc| App::new(cc, data))
}

fn names(h: &Harness<'_, App>) -> Vec<String> {
    h.state()
        .databases
        .databases
        .iter()
        .map(|d| d.name.clone())
        .collect()
}

/// Shows the HSM screen, then the Databases screen again (Ctrl+1, Ctrl+3).
fn show_databases_again(h: &mut Harness<'_, App>) {
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Num1);
    h.step();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Num3);
    h.step();
}

/// The Databases screen, its list read.
fn databases_read(h: &mut Harness<'_, App>) {
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Num3);
    wait_until(h, "the database list", |h| {
        h.state().databases.loaded && !h.state().is_pending(Task::Databases)
    });
}

#[test]
fn the_top_bar_names_the_shared_store_and_a_screen_shown_again_reads_what_another_process_added() {
    let env = Env::new();
    let shared = Shared::new(&env);
    let mut h = app(shared.data(&env));

    let expected = format!(
        "Store: PostgreSQL tdekey_test@127.0.0.1:{}/{} · no TLS",
        shared.pg.port(),
        shared.db
    );
    wait_until(&mut h, "the store in the top bar", |h| {
        h.query_by_label(&expected).is_some()
    });
    let shown = h.state().store.shown.clone().unwrap();
    assert_eq!(shown.file, None);
    assert_eq!(shown.tls.as_deref(), Some("none"));
    assert!(shown.server_version.is_some());
    assert_eq!(h.state().store.lost, None);
    assert!(h.query_by_label("Retry").is_none());

    databases_read(&mut h);
    assert!(names(&h).is_empty(), "{:?}", names(&h));

    // Another process adds a profile: the window does not poll, so it is not there yet...
    shared.add_database(&env, "FINPROD");
    for _ in 0..5 {
        h.step();
    }
    assert!(names(&h).is_empty(), "{:?}", names(&h));

    // ...until the Databases screen is shown again.
    show_databases_again(&mut h);
    wait_until(&mut h, "FINPROD in the list", |h| {
        names(h) == ["FINPROD"] && h.query_all_by_label_contains("FINPROD").count() > 0
    });

    // The Rotation screen: FINPROD without a policy. Another process sets one while the
    // Databases screen is shown; the Rotation screen shown again has it.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Num4);
    wait_until(&mut h, "FINPROD on the Rotation screen", |h| {
        policy_of(h, "FINPROD") == Some(None)
    });
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Num3);
    h.step();
    shared.cli(&env, &["policy", "set", "FINPROD", "--every", "90d"]);
    for _ in 0..5 {
        h.step();
    }
    assert_eq!(policy_of(&h, "FINPROD"), Some(None));
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Num4);
    wait_until(&mut h, "FINPROD's policy on the Rotation screen", |h| {
        policy_of(h, "FINPROD").is_some_and(|p| p.is_some())
    });
}

/// The Rotation screen's policy of `database` (described), as last read: None when the
/// database is not listed, Some(None) when it has no policy.
fn policy_of(h: &Harness<'_, App>, database: &str) -> Option<Option<String>> {
    let o = h.state().rotation.overview.as_ref()?;
    let row = o.rows.iter().find(|r| r.database == database)?;
    Some(row.policy.as_ref().map(|p| p.describe.clone()))
}

#[test]
fn a_stopped_server_is_a_banner_with_retry_and_retry_brings_the_list_back() {
    let env = Env::new();
    let shared = Shared::new(&env);
    shared.add_database(&env, "FINPROD");
    let mut h = app(shared.data(&env));
    databases_read(&mut h);
    wait_until(&mut h, "FINPROD in the list", |h| names(h) == ["FINPROD"]);
    wait_until(&mut h, "the store in the top bar", |h| {
        h.query_by_label_contains("· no TLS").is_some()
    });

    // The server stops: the next read (the screen shown again) fails on the store thread, and
    // the window says so in a banner with Retry. The frames go on meanwhile (each step here
    // draws one).
    shared.pg.stop();
    show_databases_again(&mut h);
    wait_until(&mut h, "the lost-store banner", |h| {
        h.state().store.lost.is_some() && h.query_by_label("Retry").is_some()
    });
    let lost = h.state().store.lost.clone().unwrap();
    assert!(lost.contains("was lost"), "{lost}");
    assert!(lost.contains(&shared.url), "{lost}");
    assert!(lost.contains("click Retry"), "{lost}");
    assert!(!lost.contains(shared.pg.password()), "{lost}");
    assert!(
        h.query_by_label_contains("not connected").is_some(),
        "the top bar says the store is not connected"
    );
    // What was read before stays shown.
    assert_eq!(names(&h), ["FINPROD"]);

    // Retry while the server is still down: the banner stays, nothing hangs.
    h.get_by_label("Retry").click();
    h.step();
    wait_until(&mut h, "Retry to end", |h| {
        !h.state().is_pending(Task::StoreInfo)
    });
    assert!(h.state().store.lost.is_some());
    assert!(h.query_by_label("Retry").is_some());

    // The server is back, and another process added a profile meanwhile: Retry reconnects
    // every worker, the banner goes, and the screen shown reads its list again.
    shared.pg.start_again();
    shared.add_database(&env, "HRPROD");
    h.get_by_label("Retry").click();
    wait_until(&mut h, "the store back and the list read again", |h| {
        h.state().store.lost.is_none() && names(h) == ["FINPROD", "HRPROD"]
    });
    assert!(h.query_by_label("Retry").is_none());
    assert!(h.query_by_label_contains("· no TLS").is_some());

    // Every worker reconnected: the audit thread reads the log (it recorded the two adds).
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Num5);
    wait_until(&mut h, "the audit list", |h| {
        h.state().audit.count.is_some_and(|n| n > 0)
    });
    assert!(h.state().store.lost.is_none());
}

/// A server that comes back is noticed by the next read that reaches it: the banner goes
/// without Retry.
#[test]
fn a_store_that_comes_back_clears_its_banner_on_the_next_read() {
    let env = Env::new();
    let shared = Shared::new(&env);
    shared.add_database(&env, "FINPROD");
    let mut h = app(shared.data(&env));
    databases_read(&mut h);
    wait_until(&mut h, "FINPROD in the list", |h| names(h) == ["FINPROD"]);
    shared.pg.stop();
    show_databases_again(&mut h);
    wait_until(&mut h, "the lost-store banner", |h| {
        h.state().store.lost.is_some() && h.query_by_label("Retry").is_some()
    });
    shared.pg.start_again();
    shared.add_database(&env, "HRPROD");
    // No Retry: the screen shown again reads, the store answers, the banner goes.
    show_databases_again(&mut h);
    wait_until(&mut h, "the banner gone and the list read again", |h| {
        h.state().store.lost.is_none() && names(h) == ["FINPROD", "HRPROD"]
    });
    assert!(h.query_by_label("Retry").is_none());
    assert!(h.query_by_label_contains("· no TLS").is_some());
}

#[test]
fn the_top_bar_says_this_computer_on_the_data_directory_store() {
    let env = Env::new();
    let mut h = app(env.data.clone());
    wait_until(&mut h, "the store in the top bar", |h| {
        h.query_by_label("Store: this computer").is_some()
    });
    let shown = h.state().store.shown.clone().unwrap();
    assert_eq!(shown.file, Some(env.data.database()));
    assert_eq!(shown.tls, None);
    assert_eq!(h.state().store.lost, None);
    assert!(h.query_by_label("Retry").is_none());
}

#[test]
fn on_a_tls_store_the_demo_token_connects_and_logs_in_and_the_store_stays() {
    let env = Env::new();
    let pg = Cluster::start();
    pg.enable_tls();
    let shared = Shared::with(&env, pg, "?sslmode=require");
    // The demo token and its profile, made by the command line on the shared store.
    shared.cli(&env, &["hsm", "demo-token"]);
    let mut h = app(shared.data(&env));

    // The HSM thread loads SoftHSM2 (built on the same OpenSSL as the store's TLS) and
    // records the connection and the login on its own TLS connection to the store.
    wait_until(&mut h, "the automatic connection", |h| {
        h.state().hsm.connection.is_some()
    });
    wait_until(&mut h, "the store in the top bar", |h| {
        h.query_by_label_contains("· TLSv1.").is_some()
    });
    h.get_by_label("HSM").click();
    h.step();
    type_into(&mut h, "Password", tdekey::hsm::demo::DEMO_USER_PIN);
    h.get_by_label("Log in").click();
    wait_until(&mut h, "the login", |h| h.state().hsm.login.is_some());
    assert_eq!(h.state().store.lost, None);
    let banner = h.state().hsm.banner.clone();
    assert!(
        !banner.as_ref().is_some_and(|b| b.error),
        "{:?}",
        banner.map(|b| b.text)
    );

    databases_read(&mut h);
    assert_eq!(names(&h), [tdekey::hsm::demo::DEMO_DATABASE_NAME]);
    assert_eq!(h.state().store.lost, None);
}
