//! What the window remembers between runs, in eframe's storage (`window.ron` in the data
//! directory): the screen it was on, the theme, and the Keys and Audit tables' column widths.
//! eframe adds the window's size and position. Nothing typed is kept: egui's own memory, which
//! holds text fields' state, is not persisted ([`crate::ui::App`]'s `persist_egui_memory`).

use super::Screen;

/// The key under which [`Prefs`] are stored.
pub const STORAGE_KEY: &str = "tdekey.window";

/// The storage file's name inside the data directory.
pub const STORAGE_FILE: &str = "window.ron";

/// A restored column narrower or wider than this is ignored (a hand-edited or damaged file).
const WIDTH_RANGE: std::ops::RangeInclusive<f32> = 24.0..=2000.0;

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Prefs {
    pub screen: Screen,
    pub theme: egui::ThemePreference,
    /// The Keys table's resizable columns, left to right (points).
    pub keys_columns: Vec<f32>,
    /// The Audit table's resizable columns, left to right (points).
    pub audit_columns: Vec<f32>,
}

impl Default for Prefs {
    fn default() -> Self {
        Self {
            screen: Screen::Hsm,
            theme: egui::ThemePreference::System,
            keys_columns: Vec::new(),
            audit_columns: Vec::new(),
        }
    }
}

impl Prefs {
    /// The stored preferences, or the defaults when there are none or they cannot be read.
    pub fn load(storage: Option<&dyn eframe::Storage>) -> Self {
        storage
            .and_then(|s| eframe::get_value(s, STORAGE_KEY))
            .unwrap_or_default()
    }
}

/// Column widths remembered for one table: the stored ones are used as the columns' initial
/// widths, and the widths the person leaves them at are read back from the header each frame.
/// Columns are counted left to right from 0, fixed-width ones included.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ColumnWidths {
    widths: Vec<f32>,
    /// The next header cell's column while the header is drawn.
    next: usize,
}

impl ColumnWidths {
    pub fn restored(widths: Vec<f32>) -> Self {
        Self { widths, next: 0 }
    }

    /// The remembered width of column `i`, or `default`.
    pub fn get(&self, i: usize, default: f32) -> f32 {
        self.widths
            .get(i)
            .copied()
            .filter(|w| WIDTH_RANGE.contains(w))
            .unwrap_or(default)
    }

    /// Call before drawing the header; then [`Self::header_cell`] in each header cell.
    pub fn begin_header(&mut self) {
        self.next = 0;
    }

    /// Records the width the next column is drawn at (call from inside its header cell).
    pub fn header_cell(&mut self, ui: &egui::Ui) {
        let i = self.next;
        self.next += 1;
        if self.widths.len() <= i {
            self.widths.resize(i + 1, 0.0);
        }
        self.widths[i] = ui.max_rect().width();
    }

    pub fn to_vec(&self) -> Vec<f32> {
        self.widths.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_or_missing_widths_fall_back_to_the_default() {
        let w = ColumnWidths::restored(vec![120.0, 3.0, f32::NAN, 5000.0]);
        assert_eq!(w.get(0, 90.0), 120.0);
        assert_eq!(w.get(1, 90.0), 90.0);
        assert_eq!(w.get(2, 90.0), 90.0);
        assert_eq!(w.get(3, 90.0), 90.0);
        assert_eq!(w.get(4, 90.0), 90.0);
    }
}
