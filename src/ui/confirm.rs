//! A confirmation that names what an action changes and says what cannot be undone, before
//! the action is queued. Esc or Cancel closes it.

/// What the person answered, once they have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    Yes,
    No,
}

/// Shows the dialog (centered, titled by the question) while it is open; `Some` once answered.
pub fn confirm_ui(ctx: &egui::Context, question: &str, body: &str, yes: &str) -> Option<Answer> {
    let mut open = true;
    let mut answer = None;
    egui::Window::new(question)
        .id(egui::Id::unique(("confirm", question)))
        .collapsible(false)
        .resizable(false)
        .default_width(480.0)
        .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
        .open(&mut open)
        .show(ctx, |ui| {
            ui.label(body);
            ui.horizontal(|ui| {
                if ui.button(yes).clicked() {
                    answer = Some(Answer::Yes);
                }
                if ui.button("Cancel").clicked() {
                    answer = Some(Answer::No);
                }
            });
        });
    if !open || ctx.input(|i| i.key_pressed(egui::Key::Escape)) {
        answer = Some(Answer::No);
    }
    answer
}
