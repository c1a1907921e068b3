//! Every screen and tab of the real app, walked in egui_kittest as a keyboard or screen-reader
//! user would reach them: each must name every widget a user can act on (the check fails on
//! an unlabelled one, and says which).

mod common;
mod ui_common;

use ui_common::wait_until;

use common::{Env, run};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use tdekey::ui::{App, Screen};

/// Lets the screen settle (a window's first frame is a sizing pass), then checks it.
fn check(h: &mut Harness<'_, App>, what: &str) {
    h.run_steps(3);
    let unnamed = h.unnamed_widgets();
    assert!(
        unnamed.is_empty(),
        "{what}: unnamed widgets:\n{}",
        unnamed.join("\n")
    );
}

#[test]
fn every_screen_names_every_widget_a_user_can_act_on() {
    let env = Env::new();
    let (code, _, err) = run({
        let mut c = env.tdekey();
        c.args(["hsm", "demo-token"]);
        c
    });
    assert_eq!(code, 0, "{err}");
    let data = env.data.clone();
    let mut h = Harness::builder()
        .with_size(egui::Vec2::new(1400.0, 900.0))
        .build_eframe(|cc| App::new(cc, data));
    wait_until(&mut h, "the automatic connection", |h| {
        h.state().hsm.connection.is_some()
    });
    check(&mut h, "HSM screen, connected");
    h.get_by_label("Use the demo PIN").click();
    h.step();
    h.get_by_label("Log in").click();
    wait_until(&mut h, "the login and the inventory", |h| {
        h.state().hsm.login.is_some() && h.state().keys.loaded
    });
    check(&mut h, "HSM screen, logged in");

    for (n, screen) in [
        (egui::Key::Num2, Screen::Keys),
        (egui::Key::Num3, Screen::Databases),
        (egui::Key::Num4, Screen::Rotation),
        (egui::Key::Num5, Screen::Audit),
    ] {
        h.key_press_modifiers(egui::Modifiers::COMMAND, n);
        h.run_steps(5);
        assert_eq!(h.state().screen, screen);
        check(&mut h, &format!("{screen:?} screen"));
    }

    // The Keys screen's details and its dialog.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Num2);
    h.step();
    h.get_by_label("Generate master key…").click();
    check(&mut h, "Generate a master key dialog");
    h.key_press(egui::Key::Escape);
    h.step();

    // Each tab of the demo database.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Num3);
    wait_until(&mut h, "the database list", |h| {
        !h.state().databases.databases.is_empty()
    });
    for tab in [
        "Profile",
        "Console",
        "Wallet",
        "Migration",
        "Recoverability",
    ] {
        h.get_by_label(tab).click();
        check(&mut h, &format!("Databases › {tab}"));
    }
    h.get_by_label("New database profile").click();
    check(&mut h, "a new database profile");

    // The Rotation screen with its dialog, in the light theme too.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Num4);
    wait_until(&mut h, "the rotation overview", |h| {
        h.state().rotation.overview.is_some()
    });
    h.get_by_label("Light").click();
    check(&mut h, "Rotation screen, light theme");
    h.get_by_label("Rotate now: suspected compromise").click();
    check(&mut h, "Rotation screen with the reason field");
}
