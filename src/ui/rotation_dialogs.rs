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
                Way::Hsm => format!("tdekey generates a new AES-256 master key on the HSM, then sends ADMINISTER KEY MANAGEMENT USE KEY … FORCE KEYSTORE to {} through its {} connector, and checks V$ENCRYPTION_KEYS and the token.", db.name, db.connector.label()),
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
