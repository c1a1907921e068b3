//! The store in the window: which one it uses (the top bar), the banner of a store that went
//! away (with Retry), and each screen reading its data again when it is shown, since another
//! window, a command or another host sharing the store may have changed it meanwhile.
//!
//! Nothing here waits on the store: the top bar's facts are read by the store thread
//! ([`StoreCommand::Info`]) and Retry is a command ([`Command::ReconnectStore`]).

use super::{App, DbTab, Screen};
use crate::engine::{Command, Engine, StoreCommand, StoreShown, Task};
use egui::RichText;

/// What the window knows of its store.
#[derive(Default)]
pub struct StoreState {
    /// Which store, as the store thread last said (None until it has).
    pub shown: Option<StoreShown>,
    /// Why the store cannot be used now: the banner's sentence, until it answers again.
    pub lost: Option<String>,
}

impl StoreState {
    /// The store thread said how the store is. Returns true when it answers again after it
    /// had gone away.
    pub fn on_shown(&mut self, shown: StoreShown) -> bool {
        let back = self.lost.is_some() && shown.problem.is_none();
        self.lost = shown.problem.clone();
        self.shown = Some(shown);
        back
    }

    /// A worker's connection went away, or the store cannot be reached. The first sentence
    /// stays while the store is away (the other workers find the same); Retry's answer
    /// replaces it.
    pub fn on_lost(&mut self, message: String) {
        self.lost.get_or_insert(message);
    }

    /// The top bar's words: `Store: this computer`, or `Store: PostgreSQL user@host:port/db`
    /// and the connection's TLS (`no TLS`, `TLSv1.3`) or `not connected`.
    pub fn label(&self) -> String {
        let Some(s) = &self.shown else {
            return "Store: …".to_owned();
        };
        if s.file.is_some() {
            return "Store: this computer".to_owned();
        }
        let place = s
            .location
            .as_deref()
            .map(|l| l.strip_prefix("postgresql://").unwrap_or(l))
            .unwrap_or("(cannot be named)");
        let tls = match &s.tls {
            _ if self.lost.is_some() || s.problem.is_some() => "not connected".to_owned(),
            Some(t) if t == "none" => "no TLS".to_owned(),
            // "TLSv1.3 TLS_AES_256_GCM_SHA384": the version here, the cipher in the tooltip.
            Some(t) => t.split(' ').next().unwrap_or(t).to_owned(),
            None => "TLS unknown".to_owned(),
        };
        format!("Store: PostgreSQL {place} · {tls}")
    }

    /// The top bar's tooltip: where the store is, in full.
    pub fn tooltip(&self) -> String {
        let Some(s) = &self.shown else {
            return "Reading which store tdekey uses…".to_owned();
        };
        if let Some(f) = &s.file {
            return format!(
                "This computer's store (SQLite): {}. Start tdekey with --store URL (or TDEKEY_STORE) to use a team's PostgreSQL store.",
                f.display()
            );
        }
        let mut text = format!(
            "The team's shared store on PostgreSQL: {}",
            s.location.as_deref().unwrap_or("(cannot be named)")
        );
        if let Some(v) = &s.server_version {
            text.push_str(&format!("\nServer version {v}"));
        }
        match &s.tls {
            Some(t) if t == "none" => text.push_str("\nTLS: none (sslmode=disable or not offered)"),
            Some(t) => text.push_str(&format!("\nTLS: {t}")),
            None => {}
        }
        if let Some(p) = &s.problem {
            text.push_str(&format!("\n{p}"));
        }
        text
    }
}

/// The top bar's store label, cut short where the screens' names leave no room (its tooltip
/// says where the store is in full).
pub(super) fn store_label_ui(ui: &mut egui::Ui, st: &StoreState) {
    let text = RichText::new(st.label()).small();
    let text = if st.lost.is_some() {
        text.color(egui::Color32::from_rgb(235, 90, 80))
    } else {
        text
    };
    ui.add(egui::Label::new(text).truncate())
        .on_hover_text(st.tooltip());
}

/// The banner of a store that cannot be used, with Retry, along the bottom of the window above
/// the status bar. It stays until the store answers again (there is nothing to dismiss: the
/// screens cannot read or write meanwhile).
pub(super) fn store_banner_ui(
    ui: &mut egui::Ui,
    st: &StoreState,
    engine: &Engine,
    queue: &mut Vec<Command>,
) {
    let Some(text) = &st.lost else {
        return;
    };
    let retrying = engine.is_pending(Task::StoreInfo);
    egui::Panel::bottom("store_banner")
        .resizable(false)
        .show_separator_line(false)
        .show(ui, |ui| {
            egui::Frame::new()
                .fill(egui::Color32::from_rgb(80, 24, 24))
                .stroke(egui::Stroke::new(1.0, egui::Color32::from_rgb(200, 80, 80)))
                .inner_margin(8.0)
                .corner_radius(4.0)
                .show(ui, |ui| {
                    ui.set_width(ui.available_width());
                    ui.horizontal(|ui| {
                        // The button first, at the left edge, as on the screens' banners.
                        if ui
                            .add_enabled(!retrying, egui::Button::new("Retry"))
                            .on_hover_text("Connect to the store again, and read this screen again")
                            .clicked()
                        {
                            queue.push(Command::ReconnectStore);
                        }
                        if retrying {
                            ui.spinner();
                        }
                        ui.add(
                            egui::Label::new(RichText::new(text).color(egui::Color32::WHITE))
                                .wrap(),
                        );
                    });
                });
        });
}

impl App {
    /// The screen (or the Databases screen's tab) shown last frame, and what it was then:
    /// a screen shown again reads its data again.
    pub(super) fn refresh_when_shown(&mut self) {
        let now = (self.screen, self.databases.tab);
        let Some(before) = self.shown.replace(now) else {
            // The first frame: each screen reads its data when first drawn.
            return;
        };
        if before.0 != now.0 {
            self.refresh_shown();
        } else if now.0 == Screen::Databases && now.1 == DbTab::Migration && before.1 != now.1 {
            // The Migration tab: its plan may have moved on (another host drives it).
            self.databases.migration.reload = true;
        }
    }

    /// The screen shown reads its data again (a read under way is not asked twice). Cheap on
    /// either store.
    pub(super) fn refresh_shown(&mut self) {
        match self.screen {
            Screen::Hsm => self.queue.push(Command::Store(StoreCommand::LoadProfiles)),
            // Which database claims which key.
            Screen::Keys => self.refresh_rotation(),
            Screen::Databases => {
                if self.databases.loaded {
                    self.queue.push(Command::Store(StoreCommand::LoadDatabases));
                }
                // The profile form's HSM profiles, and the keys missing from the token.
                self.queue.push(Command::Store(StoreCommand::LoadProfiles));
                self.refresh_rotation();
                if self.databases.tab == DbTab::Migration {
                    self.databases.migration.reload = true;
                }
            }
            Screen::Rotation => {
                // Policies and runs, and the databases they are for.
                self.refresh_rotation();
                if self.databases.loaded {
                    self.queue.push(Command::Store(StoreCommand::LoadDatabases));
                }
            }
            // The log grew while another screen was shown: its newest entries show at once.
            Screen::Audit => self.audit.refresh(&self.engine, &mut self.queue),
        }
    }
}
