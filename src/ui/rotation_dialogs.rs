//! The Rotation screen's dialog that names the database before a rotation, and the report of
//! a run.

use super::rotation_screen::{RotationState, id};
use super::rotation_timeline::{GREEN, ORANGE, RED, tone};
use crate::engine::{Command, HsmCommand};
use crate::model::{DatabaseProfile, PinFormat};
use crate::rotation::{RotateRequest, RunReport, Trigger, Way, local_date, local_zone};
use egui::RichText;

pub(super) fn confirm_ui(
    ui: &mut egui::Ui,
    st: &mut RotationState,
    db: &DatabaseProfile,
    way: Way,
    pin_format: PinFormat,
    queue: &mut Vec<Command>,
) {
    let (answer, cancelled) = super::confirm::dialog_ui(
        ui.ctx(),
        id("confirm"),
        &format!("Rotate the master key of {} now?", db.name),
        520.0,
        |ui, focus| {
            ui.label(match way {
                Way::Hsm => match &st.key_choice {
                    Some(k) => format!("tdekey checks that {k} (generated beforehand) is healthy and claimed by no database, then sends ADMINISTER KEY MANAGEMENT USE KEY … FORCE KEYSTORE to {} through its {} connector, and checks V$ENCRYPTION_KEYS and the token. No key is generated.", db.name, db.connector.label()),
                    None => format!("tdekey generates a new AES-256 master key on the HSM, then sends ADMINISTER KEY MANAGEMENT USE KEY … FORCE KEYSTORE to {} through its {} connector, and checks V$ENCRYPTION_KEYS and the token.", db.name, db.connector.label()),
                },
                Way::Oracle => format!("tdekey sends ADMINISTER KEY MANAGEMENT SET KEY{} to {} through its {} connector; Oracle generates the new key on the HSM; tdekey finds it on the token and checks V$ENCRYPTION_KEYS.", if db.multitenant == crate::model::Multitenant::NonCdb { "" } else { " … CONTAINER = ALL" }, db.name, db.connector.label()),
            });
            if st.compromise {
                ui.label(
                    RichText::new(format!(
                        "Recorded as a suspected compromise: {}",
                        st.reason.trim()
                    ))
                    .color(tone(ui, ORANGE)),
                );
            }
            ui.label("This cannot be undone: the new key becomes the one that protects the data keys from now on. The old key stays on the HSM, as it must for backups and archived redo.");
            ui.add_space(4.0);
            super::confirm::buttons_ui(ui, focus, &format!("Rotate {}", db.name), true)
        },
    );
    let go = answer == Some(super::confirm::Answer::Yes) && !cancelled;
    let cancel = cancelled || answer == Some(super::confirm::Answer::No);
    if go {
        let db_password = (!st.db_password.is_empty()).then(|| st.db_password.to_secret());
        queue.push(Command::Hsm(HsmCommand::Rotate {
            database: db.name.clone(),
            request: RotateRequest {
                way: st.rotate_way,
                tag: Some(st.tag.trim().to_owned()).filter(|t| !t.is_empty()),
                trigger: if st.compromise {
                    Trigger::Compromise
                } else {
                    Trigger::Manual
                },
                reason: st.compromise.then(|| st.reason.trim().to_owned()),
                only_if_due_at: None,
                key: st.key_choice.clone().filter(|_| way == Way::Hsm),
            },
            hsm_password: st.hsm_password.to_secret(),
            db_password,
            pin_format,
        }));
    }
    if go || cancel {
        st.confirming = false;
    }
}

pub(super) fn run_report_ui(ui: &mut egui::Ui, r: &RunReport) {
    let tz = local_zone();
    ui.label(
        RichText::new(format!(
            "Run #{}: {}",
            r.run_id,
            if r.succeeded() { "verified" } else { "failed" }
        ))
        .strong()
        .color(if r.succeeded() { GREEN } else { RED }),
    );
    ui.label(&r.message);
    for c in &r.checks {
        ui.horizontal_wrapped(|ui| {
            ui.label(
                RichText::new(if c.ok { "ok" } else { "FAIL" }).color(if c.ok {
                    GREEN
                } else {
                    RED
                }),
            );
            ui.label(format!("{} — {}", c.what, c.detail));
        });
    }
    for n in &r.notes {
        ui.label(format!("Note: {n}"));
    }
    if let Some(s) = &r.state_left {
        ui.label(RichText::new(s).color(tone(ui, ORANGE)));
    }
    if let Some(d) = r.next_due_ms {
        ui.label(format!("Next rotation due {}.", local_date(d, &tz)));
    }
}

/// The selected database has no master key on the HSM (its migration was rolled back): said
/// above its policy and "Rotate now", with the way to its Migration tab.
pub(super) fn not_on_hsm_ui(ui: &mut egui::Ui, st: &mut RotationState, database: &str, why: &str) {
    ui.label(
        RichText::new(format!(
            "{database} is not on the HSM: {why}. Its keys on the HSM are retired (kept for backups). Migrate it first; until then it has nothing to rotate and no policy can be saved."
        ))
        .color(tone(ui, ORANGE))
        .strong(),
    );
    if ui
        .button(format!("Open the Migration tab of {database}"))
        .clicked()
    {
        st.open_migration = Some(database.to_owned());
    }
    ui.add_space(4.0);
}

/// The TDE master keys on the token that a rotation (way hsm) may activate: read on the Keys
/// screen, claimed by no database, without a critical finding; with the tag given when this
/// window generated one.
pub fn spare_keys(keys: &super::KeysState) -> Vec<(String, Option<String>)> {
    let mut out: Vec<(String, Option<String>)> = keys
        .rows
        .iter()
        .filter(|r| r.kind == "tde-master-key" && r.object.unreadable.is_none())
        .filter(|r| r.worst() != Some(crate::inventory::Severity::Critical))
        .filter(|r| !keys.claims.contains_key(&r.object.label))
        .map(|r| {
            let tag = keys
                .generated
                .as_ref()
                .filter(|g| g.label == r.object.label)
                .and_then(|g| g.tag.clone());
            (r.object.label.clone(), tag)
        })
        .collect();
    out.sort();
    out
}

/// Way hsm: which key "Rotate now" activates, a new one or one generated beforehand (Keys ›
/// Generate). Choosing a key whose tag this window knows fills an empty Tag with it.
pub(super) fn key_choice_ui(ui: &mut egui::Ui, st: &mut RotationState, database: &str) {
    // A key a failed run of another database left waits to be that database's next key.
    let pending: Vec<String> = st
        .overview
        .as_ref()
        .map(|o| {
            o.rows
                .iter()
                .filter(|r| r.database != database)
                .filter_map(|r| r.last_run.as_ref())
                .filter(|run| run.outcome == "failure")
                .filter_map(|run| run.pending_key.clone())
                .collect()
        })
        .unwrap_or_default();
    st.spare_keys.retain(|(l, _)| !pending.contains(l));
    if st
        .key_choice
        .as_ref()
        .is_some_and(|k| !st.spare_keys.iter().any(|(l, _)| l == k))
    {
        st.key_choice = None;
    }
    let text = |k: &Option<String>| match k {
        None => "a new key, generated now".to_owned(),
        Some(l) => l.clone(),
    };
    let before = st.key_choice.clone();
    let spare = st.spare_keys.clone();
    ui.horizontal(|ui| {
        let l = ui.label("Key to activate");
        egui::ComboBox::from_id_salt(id("key_choice"))
            .selected_text(text(&st.key_choice))
            .width(420.0)
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut st.key_choice, None, text(&None));
                for (label, tag) in &spare {
                    let shown = match tag {
                        Some(t) => format!("{label} (tag {t})"),
                        None => label.clone(),
                    };
                    ui.selectable_value(&mut st.key_choice, Some(label.clone()), shown);
                }
            })
            .response
            .labelled_by(l.id);
    });
    if spare.is_empty() {
        ui.small("No unclaimed master key on the token (Keys › Generate master key makes one ahead of time).");
    }
    if st.key_choice != before
        && st.tag.trim().is_empty()
        && let Some(t) = spare
            .iter()
            .find(|(l, _)| Some(l) == st.key_choice.as_ref())
            .and_then(|(_, t)| t.clone())
    {
        st.tag = t;
    }
}
