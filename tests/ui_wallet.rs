//! The window's Databases › Wallet tab in egui_kittest: Enter in the wallet password field
//! inspects (no click on Inspect), and an auto-login cwallet.sso is listed without a password,
//! names only.

mod common;
mod ui_common;

use common::{Env, run};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use tdekey::engine::Task;
use tdekey::secret::Secret;
use tdekey::tde::labels::MasterKeyId;
use tdekey::ui::App;
use tdekey::wallet::{SsoKind, tde_keystore_entries, write_sso, write_wallet};
use ui_common::{type_into, wait_until};

const PASSWORD: &str = "Ui-Wallet-Pw-2";

/// A WALLET_ROOT whose tde/ holds a two-key ewallet.p12 and its auto-login cwallet.sso, both
/// 0600; returns the root and the secret entry values (never to be shown).
fn wallet_root(env: &Env) -> (std::path::PathBuf, Vec<String>) {
    use std::os::unix::fs::PermissionsExt;
    let entries =
        tde_keystore_entries(&[MasterKeyId([0x31; 16]), MasterKeyId([0x64; 16])]).unwrap();
    let values = entries
        .iter()
        .filter(|(n, v)| !n.contains(".MASTERKEY") && !v.expose().is_empty())
        .map(|(_, v)| v.expose().to_owned())
        .collect();
    let p12 = write_wallet(&entries, &Secret::from(PASSWORD), 2048).unwrap();
    let sso = write_sso(&p12, &Secret::from(PASSWORD), SsoKind::AutoLogin, None).unwrap();
    let root = env.dir.path().join("wallet_root");
    let tde = root.join("tde");
    std::fs::create_dir_all(&tde).unwrap();
    for (name, bytes) in [("ewallet.p12", &p12), ("cwallet.sso", &sso)] {
        std::fs::write(tde.join(name), bytes).unwrap();
        std::fs::set_permissions(tde.join(name), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    (root, values)
}

/// The real app with a Manual profile FIN whose WALLET_ROOT is `root`, on its Wallet tab.
fn wallet_tab(env: &Env, root: &std::path::Path) -> Harness<'static, App> {
    let (code, _, err) = run({
        let mut c = env.tdekey();
        c.args(["db", "add", "FIN", "--connector", "manual", "--wallet-root"])
            .arg(root);
        c
    });
    assert_eq!(code, 0, "{err}");
    let data = env.data.clone();
    let mut h = Harness::builder()
        .with_size(egui::Vec2::new(1400.0, 900.0))
        .build_eframe(|cc| App::new(cc, data));
    h.step();
    h.get_by_label("Databases").click();
    wait_until(&mut h, "the console of FIN", |h| {
        h.query_by_label_contains("Run against FIN").is_some()
    });
    h.get_by_label("Wallet").click();
    h.step();
    h.step();
    h
}

#[test]
fn enter_in_the_password_field_inspects_and_the_auto_login_file_is_listed_without_one() {
    let env = Env::new();
    let (root, values) = wallet_root(&env);
    let mut h = wallet_tab(&env, &root);
    assert!(h.state().databases.wallet.report.is_none());

    // Typing the password and pressing Enter inspects: nobody clicks Inspect.
    type_into(&mut h, "Wallet password (optional)", PASSWORD);
    h.key_press(egui::Key::Enter);
    wait_until(&mut h, "the report after Enter", |h| {
        !h.state().is_pending(Task::Wallet)
            && h.state()
                .databases
                .wallet
                .report
                .as_ref()
                .is_some_and(|r| matches!(r.contents, Some(Ok(_))))
    });
    h.step();
    h.step();
    assert!(
        h.state().databases.wallet.password.is_empty(),
        "the password field is cleared"
    );
    // ewallet.p12 with the password, cwallet.sso without one: both list the same names.
    assert!(
        h.query_by_label_contains("ewallet.p12: 2 master keys (1 current)")
            .is_some()
    );
    assert!(
        h.query_by_label_contains(
            "cwallet.sso (auto-login), opened without a password: 2 master keys (1 current)"
        )
        .is_some()
    );
    assert_eq!(
        h.query_all_by_label("ORACLE.SECURITY.DB.ENCRYPTION.MASTERKEY")
            .count(),
        2,
        "the pointer is listed for each file"
    );
    assert!(
        h.query_by_label_contains("tde/cwallet.sso: auto-login (type 0x36, header version 6")
            .is_some(),
        "the file's kind is named"
    );
    for v in &values {
        assert!(h.query_by_label_contains(v).is_none(), "a value is shown");
    }

    // Without a password (Inspect clicked): the auto-login file is still listed, and opening
    // each file was recorded.
    h.get_by_label("Inspect").click();
    h.step();
    wait_until(&mut h, "the report without a password", |h| {
        !h.state().is_pending(Task::Wallet)
            && h.state()
                .databases
                .wallet
                .report
                .as_ref()
                .is_some_and(|r| r.contents.is_none() && matches!(r.auto_login, Some(Ok(_))))
    });
    h.step();
    assert!(
        h.query_by_label_contains("type the wallet password")
            .is_some()
    );
    assert!(
        h.query_by_label_contains("cwallet.sso (auto-login), opened without a password")
            .is_some()
    );
    let store = tdekey::store::Store::open(&env.data.database()).unwrap();
    let recent: Vec<String> = store
        .recent_audit(3)
        .unwrap()
        .iter()
        .rev()
        .map(|e| format!("{} {} {}", e.action, e.outcome, e.target))
        .collect();
    drop(store);
    let tde = root.join("tde");
    assert_eq!(
        recent,
        [
            format!(
                "wallet.inspect success {}",
                tde.join("ewallet.p12").display()
            ),
            format!(
                "wallet.inspect success {}",
                tde.join("cwallet.sso").display()
            ),
            format!(
                "wallet.inspect success {}",
                tde.join("cwallet.sso").display()
            ),
        ]
    );
    let bytes = env.all_bytes_except_tokens();
    assert!(
        !common::contains(&bytes, PASSWORD),
        "the password was written"
    );
}
