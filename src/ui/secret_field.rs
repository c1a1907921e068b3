//! A masked text field that edits a [`SecretBuffer`] in place.

use crate::secret::SecretBuffer;
use egui::text::CharIndex;

impl egui::TextBuffer for SecretBuffer {
    fn is_mutable(&self) -> bool {
        true
    }

    fn as_str(&self) -> &str {
        SecretBuffer::as_str(self)
    }

    fn insert_text(&mut self, text: &str, char_index: CharIndex) -> usize {
        self.insert(text, char_index.0)
    }

    fn delete_char_range(&mut self, char_range: std::ops::Range<CharIndex>) {
        self.delete(char_range.start.0..char_range.end.0)
    }

    fn type_id(&self) -> std::any::TypeId {
        std::any::TypeId::of::<Self>()
    }
}

/// A password field with an accessible name. Returns the field's response.
pub fn password_ui(
    ui: &mut egui::Ui,
    label_id: egui::Id,
    field_id: egui::Id,
    buf: &mut SecretBuffer,
) -> egui::Response {
    let r = ui
        .add(
            egui::TextEdit::singleline(buf)
                .id(field_id)
                .password(true)
                .desired_width(220.0),
        )
        .labelled_by(label_id);
    if buf.refused() {
        // Never a shortened secret: what did not fit was not taken, and the person is told.
        ui.colored_label(
            ui.visuals().error_fg_color,
            format!(
                "Not taken: a secret is at most {} bytes, and tdekey never shortens one.",
                SecretBuffer::CAPACITY
            ),
        );
    }
    r
}

/// Clears the buffer and drops egui's edit state for the field (its undo history holds copies
/// of the text).
pub fn clear_password(ctx: &egui::Context, id: egui::Id, buf: &mut SecretBuffer) {
    buf.clear();
    egui::text_edit::TextEditState::default().store(ctx, id);
}
