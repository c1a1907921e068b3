//! A masked text field that edits a [`SecretBuffer`] in place.

use crate::model::PinFormat;
use crate::secret::SecretBuffer;
use crate::secret::sealed::MIN_PASSPHRASE_CHARS;
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

/// Whether a new passphrase typed twice may be used: long enough, and the same both times.
pub fn passphrase_ok(first: &SecretBuffer, second: &SecretBuffer) -> bool {
    first.as_str().chars().count() >= MIN_PASSPHRASE_CHARS && first.as_str() == second.as_str()
}

/// A new passphrase, typed twice, as rows of a two-column grid (`ids` name the two fields,
/// `labels` their labels). A row under them says, before anything is typed, how long it must
/// be, and then what is still wrong (too short, the two differ). That row is always there, so
/// nothing below it moves while the person types. Returns the first field's response.
pub fn new_passphrase_ui(
    ui: &mut egui::Ui,
    ids: (egui::Id, egui::Id),
    labels: (&str, &str),
    first: &mut SecretBuffer,
    second: &mut SecretBuffer,
) -> egui::Response {
    let l = ui.label(labels.0);
    let r = password_ui(ui, l.id, ids.0, first);
    ui.end_row();
    let l = ui.label(labels.1);
    password_ui(ui, l.id, ids.1, second);
    ui.end_row();
    ui.label("");
    let n = first.as_str().chars().count();
    let (text, bad) = if n == 0 {
        (
            format!("At least {MIN_PASSPHRASE_CHARS} characters, typed twice."),
            false,
        )
    } else if n < MIN_PASSPHRASE_CHARS {
        (
            format!("At least {MIN_PASSPHRASE_CHARS} characters: {n} so far."),
            true,
        )
    } else if second.is_empty() {
        ("Type it again below.".to_owned(), false)
    } else if first.as_str() != second.as_str() {
        ("The two passphrases differ.".to_owned(), true)
    } else {
        ("The two passphrases match.".to_owned(), false)
    };
    let text = if bad {
        egui::RichText::new(text).color(ui.visuals().error_fg_color)
    } else {
        egui::RichText::new(text).weak()
    };
    ui.add(egui::Label::new(text).wrap());
    ui.end_row();
    r
}

/// Clears both fields of a [`new_passphrase_ui`].
pub fn clear_new_passphrase(
    ctx: &egui::Context,
    ids: (egui::Id, egui::Id),
    first: &mut SecretBuffer,
    second: &mut SecretBuffer,
) {
    clear_password(ctx, ids.0, first);
    clear_password(ctx, ids.1, second);
}

/// What to type in a field for the HSM password, for the profile's PIN format and crypto user.
/// tdekey itself puts the user name before the password where `user:password` is needed.
pub fn hsm_password_hint(format: PinFormat, user: &str) -> String {
    let user = user.trim();
    match format {
        PinFormat::CloudHsm if user.is_empty() => {
            "Type the crypto user's password alone: tdekey puts the user name before it (user:password).".to_owned()
        }
        PinFormat::CloudHsm => format!(
            "Type the password of {user} alone: tdekey sends it as {user}:password."
        ),
        PinFormat::Plain => "Type the token's PIN: the password alone, no user name.".to_owned(),
    }
}
