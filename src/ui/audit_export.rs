//! The Audit screen's export dialog, and the question it asks before replacing a file.

use super::audit_screen::AuditState;
use super::confirm::{Answer, buttons_ui, dialog_ui};
use super::labelled_edit;
use super::secret_field::{new_passphrase_ui, passphrase_ok};
use crate::audit::export::Format;
use crate::engine::{AuditCommand, Command, Engine, Task};
use crate::store::AuditFilter;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The ids of the passphrase fields (cleared with the state's other secrets).
pub(super) fn pass_ids() -> (egui::Id, egui::Id) {
    (
        egui::Id::unique("export_pass1"),
        egui::Id::unique("export_pass2"),
    )
}

/// The ending an export's file name has for a format, encrypted or not.
pub fn extension(format: Format, encrypt: bool) -> String {
    let ext = format.as_str();
    if encrypt {
        format!("{ext}.enc")
    } else {
        ext.to_owned()
    }
}

/// `path` with the ending of another format (or encryption) in place of the one it has; a name
/// without a known ending gets the new one added. An empty path stays empty.
pub fn with_extension(path: &str, format: Format, encrypt: bool) -> String {
    let trimmed = path.trim_end();
    if trimmed.is_empty() {
        return path.to_owned();
    }
    let known = [".csv.enc", ".jsonl.enc", ".csv", ".jsonl", ".enc"];
    let lower = trimmed.to_ascii_lowercase();
    let stem = known
        .iter()
        .find_map(|k| {
            let s = &trimmed[..trimmed.len() - k.len().min(trimmed.len())];
            (lower.ends_with(k) && !s.is_empty() && !s.ends_with('/')).then_some(s)
        })
        .unwrap_or(trimmed);
    // A name ending in another extension (audit.txt) keeps it and gets the format's after it.
    format!("{stem}.{}", extension(format, encrypt))
}

/// Sends the export as the dialog stands. `replace`: the person said the file may be replaced.
fn send_export(st: &mut AuditState, queue: &mut Vec<Command>, replace: bool) {
    let cancel = Arc::new(AtomicBool::new(false));
    st.cancel = Some(cancel.clone());
    st.progress = Some((0, st.count.unwrap_or(0)));
    queue.push(Command::Audit(AuditCommand::Export {
        filter: if st.export_all {
            AuditFilter::default()
        } else {
            st.applied.clone()
        },
        format: st.export_format,
        path: PathBuf::from(st.export_path.trim()),
        passphrase: st.export_encrypt.then(|| st.pass1.to_secret()),
        replace,
        cancel,
    }));
}

/// "<file> exists: replace it?", while the export waits for the answer.
fn replace_ui(ctx: &egui::Context, st: &mut AuditState, queue: &mut Vec<Command>) {
    let Some(existing) = st.replace_ask.clone() else {
        return;
    };
    let name = existing.display().to_string();
    let (answer, cancelled) = dialog_ui(
        ctx,
        egui::Id::unique("export_replace"),
        &format!("{name} exists: replace it?"),
        480.0,
        |ui, focus| {
            ui.label(format!(
                "An export would replace {name}, and the manifest beside it ({}). What it holds now is lost. Cancel to keep it and name another file.",
                crate::audit::export::manifest_path(std::path::Path::new(st.export_path.trim()))
                    .display()
            ));
            ui.add_space(8.0);
            buttons_ui(ui, focus, "Replace it", true)
        },
    );
    match (answer, cancelled) {
        (Some(Answer::Yes), false) => {
            st.replace_ask = None;
            send_export(st, queue, true);
        }
        (Some(Answer::No), _) | (_, true) => {
            st.replace_ask = None;
            st.progress = None;
            st.export_note = Some(format!(
                "{name} was kept. Name another file, or export again to be asked again."
            ));
        }
        (None, false) => {}
    }
}

pub(super) fn export_window_ui(
    ctx: &egui::Context,
    st: &mut AuditState,
    engine: &Engine,
    queue: &mut Vec<Command>,
    logged_in: bool,
) {
    if !st.export_open {
        return;
    }
    if st.replace_ask.is_some() {
        replace_ui(ctx, st, queue);
        return;
    }
    let running = engine.is_pending(Task::AuditExport);
    let mut close = false;
    let (_, cancelled) = dialog_ui(
        ctx,
        egui::Id::unique("export_dialog"),
        "Export the audit log",
        540.0,
        |ui, focus| {
            let before = (st.export_format, st.export_encrypt);
            // The first empty field takes the focus; with none, the default button.
            let mut focus_left = focus;
            ui.add_enabled_ui(!running, |ui| {
                ui.horizontal(|ui| {
                    ui.label("Format");
                    ui.radio_value(&mut st.export_format, Format::Csv, "CSV (RFC 4180)");
                    ui.radio_value(&mut st.export_format, Format::Jsonl, "JSON Lines");
                });
                ui.horizontal(|ui| {
                    ui.label("Entries");
                    let n = st.count.map(|n| n.to_string()).unwrap_or_else(|| "…".into());
                    ui.radio_value(&mut st.export_all, false, format!("the current filter ({n})"));
                    ui.radio_value(&mut st.export_all, true, "the whole log");
                });
                // Ticked: the passphrase is what is typed next.
                if ui
                    .checkbox(&mut st.export_encrypt, "Encrypt for transport (Argon2id + AES-256-GCM)")
                    .changed()
                    && st.export_encrypt
                {
                    focus_left = true;
                }
                let ext = extension(st.export_format, st.export_encrypt);
                ui.horizontal(|ui| {
                    let r = labelled_edit(ui, "Export file", &mut st.export_path, &format!("/path/to/audit.{ext}"), 320.0);
                    if focus_left && st.export_path.trim().is_empty() {
                        r.request_focus();
                        focus_left = false;
                    }
                    if ui
                        .add_enabled(!engine.is_pending(Task::SaveDialog), egui::Button::new("Browse…"))
                        .clicked()
                    {
                        queue.push(Command::PickSavePath {
                            suggested: format!("tdekey-audit.{ext}"),
                        });
                    }
                });
                if st.export_encrypt {
                    egui::Grid::new("export_pass").num_columns(2).show(ui, |ui| {
                        let r = new_passphrase_ui(ui, pass_ids(), ("Passphrase", "Repeat passphrase"), &mut st.pass1, &mut st.pass2);
                        if focus_left && st.pass1.is_empty() {
                            r.request_focus();
                            focus_left = false;
                        }
                    });
                    ui.small("tdekey cannot recover an export whose passphrase is lost. The command line's audit decrypt reads it back.");
                }
            });
            // The file name's ending follows the format and the encryption.
            if before != (st.export_format, st.export_encrypt) {
                st.export_path =
                    with_extension(&st.export_path, st.export_format, st.export_encrypt);
            }
            if !logged_in {
                ui.small(
                    "Not logged in to the HSM: no checkpoint will be written after the export.",
                );
            }
            if let Some(note) = &st.export_note {
                ui.label(note);
            }
            let pass_ok = !st.export_encrypt || passphrase_ok(&st.pass1, &st.pass2);
            let can = !running && !st.export_path.trim().is_empty() && pass_ok;
            ui.add_space(4.0);
            if running {
                ui.horizontal(|ui| {
                    if ui.button("Cancel the export").clicked()
                        && let Some(c) = &st.cancel
                    {
                        c.store(true, Ordering::Relaxed);
                    }
                    ui.spinner();
                });
                if let Some((done, total)) = st.progress {
                    let f = if total == 0 {
                        0.0
                    } else {
                        done as f32 / total as f32
                    };
                    ui.add(
                        egui::ProgressBar::new(f.min(1.0))
                            .text(format!("{done} of {total} entries")),
                    );
                }
                return;
            }
            match buttons_ui(
                ui,
                focus && !st.export_path.trim().is_empty(),
                "Export",
                can,
            ) {
                Some(Answer::Yes) => {
                    st.export_note = None;
                    send_export(st, queue, false);
                }
                Some(Answer::No) => close = true,
                None => {}
            }
        },
    );
    if (close || cancelled) && !running {
        st.export_open = false;
        st.export_note = None;
        st.clear_passphrases(ctx);
    }
}

#[cfg(test)]
mod tests {
    use super::with_extension;
    use crate::audit::export::Format;

    #[test]
    fn the_file_name_follows_the_format_and_the_encryption() {
        let cases = [
            ("/x/log.csv", Format::Jsonl, false, "/x/log.jsonl"),
            ("/x/log.jsonl", Format::Csv, false, "/x/log.csv"),
            ("/x/log.csv", Format::Csv, true, "/x/log.csv.enc"),
            ("/x/log.jsonl.enc", Format::Csv, false, "/x/log.csv"),
            ("/x/LOG.CSV", Format::Jsonl, false, "/x/LOG.jsonl"),
            ("/x/log.txt", Format::Csv, false, "/x/log.txt.csv"),
            ("/x/log", Format::Jsonl, true, "/x/log.jsonl.enc"),
            ("/x/.csv", Format::Jsonl, false, "/x/.csv.jsonl"),
            ("", Format::Jsonl, false, ""),
        ];
        for (path, format, encrypt, want) in cases {
            assert_eq!(with_extension(path, format, encrypt), want, "{path}");
        }
    }
}
