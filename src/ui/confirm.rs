//! Dialogs the keyboard can answer, and the confirmation that names what an action changes and
//! says what cannot be undone, before the action is queued.
//!
//! A dialog is modal: while it is open the rest of the window takes no click and no focus, so
//! Tab and Shift+Tab go round the dialog's own controls. Focus starts in the dialog (on its
//! default button, or on the first field a dialog names), Enter activates the default button
//! unless another button has focus, and Esc cancels.

/// What the person answered, once they have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    Yes,
    No,
}

/// Shows a modal dialog titled `title` (a heading, so screen readers and tests find it) with
/// `contents`, which is told whether to put the focus on its first control now (the dialog has
/// just opened, or nothing has focus). Returns what `contents` returned, and whether Esc
/// cancelled the dialog.
pub fn dialog_ui<R>(
    ctx: &egui::Context,
    id: egui::Id,
    title: &str,
    width: f32,
    contents: impl FnOnce(&mut egui::Ui, bool) -> R,
) -> (R, bool) {
    let pass = ctx.cumulative_pass_nr();
    let last_key = id.with("dialog_last_pass");
    let opened_key = id.with("dialog_opened_at");
    let last: Option<u64> = ctx.data(|d| d.get_temp(last_key));
    if last.is_none_or(|l| l + 1 < pass) {
        ctx.data_mut(|d| d.insert_temp(opened_key, pass));
    }
    let opened_at: u64 = ctx.data(|d| d.get_temp(opened_key)).unwrap_or(pass);
    ctx.data_mut(|d| d.insert_temp(last_key, pass));
    // A new area's first pass only sizes it: the focus is asked for on the first two, and again
    // whenever nothing has it (a click on the dialog's background drops it).
    let focus = pass.saturating_sub(opened_at) < 2 || ctx.memory(|m| m.focused()).is_none();
    // Anchored by its top edge: a dialog that grows or shrinks (a field shown, a sentence added)
    // keeps its controls where they were, so a click is not moved onto another one.
    let area = egui::Modal::default_area(id).anchor(egui::Align2::CENTER_TOP, [0.0, 120.0]);
    let r = egui::Modal::new(id).area(area).show(ctx, |ui| {
        ui.set_width(width);
        ui.heading(title);
        ui.add_space(6.0);
        contents(ui, focus)
    });
    // Only the topmost dialog answers Esc, and not while one of its drop-downs is open.
    let cancelled = r.is_top_modal
        && !r.any_popup_open
        && ctx.input_mut(|i| i.consume_key(egui::Modifiers::NONE, egui::Key::Escape));
    (r.inner, cancelled)
}

/// A dialog's two buttons: the default one (`yes`, enabled when `enabled`) and Cancel. With
/// `focus`, the default button (or Cancel, while the default is disabled) takes the focus.
/// Enter answers Yes unless Cancel has the focus (then it answers No, as a click would).
pub fn buttons_ui(ui: &mut egui::Ui, focus: bool, yes: &str, enabled: bool) -> Option<Answer> {
    let mut answer = None;
    ui.horizontal(|ui| {
        let y = ui.add_enabled(enabled, egui::Button::new(yes));
        let c = ui.button("Cancel");
        if focus && !c.has_focus() && !y.has_focus() {
            if enabled {
                y.request_focus();
            } else {
                c.request_focus();
            }
        }
        if c.clicked() {
            answer = Some(Answer::No);
        } else if y.clicked() || (enabled && enter_for_default(ui, &c)) {
            answer = Some(Answer::Yes);
        }
    });
    answer
}

/// Enter was pressed and no other button had the focus: a text field's Enter (which ends its
/// editing) or an Enter with nothing focused answers the default button.
fn enter_for_default(ui: &egui::Ui, cancel: &egui::Response) -> bool {
    let enter = ui.input(|i| i.key_pressed(egui::Key::Enter));
    if !enter || cancel.has_focus() || cancel.clicked() {
        return false;
    }
    match ui.memory(|m| m.focused()) {
        None => true,
        // A focused text field keeps Enter for itself only in a multi-line field; a focused
        // check box or radio button takes Enter as its own click.
        Some(id) => egui::TextEdit::load_state(ui.ctx(), id).is_some(),
    }
}

/// Shows the confirmation (titled by the question) while it is open; `Some` once answered.
pub fn confirm_ui(ctx: &egui::Context, question: &str, body: &str, yes: &str) -> Option<Answer> {
    let id = egui::Id::unique(("confirm", question));
    let (answer, cancelled) = dialog_ui(ctx, id, question, 480.0, |ui, focus| {
        ui.label(body);
        ui.add_space(8.0);
        buttons_ui(ui, focus, yes, true)
    });
    if cancelled { Some(Answer::No) } else { answer }
}
