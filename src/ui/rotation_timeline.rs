//! The rotation timeline: one row per database, the past twelve months of rotations (filled:
//! green verified, red failed, orange for a suspected compromise) and the next twelve months
//! of due dates (hollow blue; red when overdue), with a line for today. Drawn with egui's
//! painter; the same facts are listed as text below it for screen readers and tests.

use crate::rotation::{TimelineRow, local_date, local_zone};
use egui::{Color32, Pos2, Rect, RichText, Sense, Stroke, vec2};

const DAY_MS: i64 = 86_400_000;
const SPAN_DAYS: i64 = 365;
const ROW_H: f32 = 24.0;
const HEADER_H: f32 = 22.0;
const NAME_W: f32 = 170.0;

pub(super) const GREEN: Color32 = Color32::from_rgb(90, 190, 110);
pub(super) const RED: Color32 = Color32::from_rgb(235, 90, 80);
pub(super) const ORANGE: Color32 = Color32::from_rgb(240, 150, 40);
pub(super) const BLUE: Color32 = Color32::from_rgb(100, 160, 240);

/// A status colour for text: as is on a dark background, darker on a light one (the bright
/// orange and green are hard to read on white).
pub(super) fn tone(ui: &egui::Ui, c: Color32) -> Color32 {
    if ui.visuals().dark_mode {
        c
    } else {
        let d = |v: u8| (f32::from(v) * 0.62) as u8;
        Color32::from_rgb(d(c.r()), d(c.g()), d(c.b()))
    }
}

/// The first day of each month between `from` and `to` (local), for the axis.
fn month_starts(from_ms: i64, to_ms: i64) -> Vec<(i64, String)> {
    let tz = local_zone();
    let mut out = Vec::new();
    let Ok(ts) = jiff::Timestamp::from_millisecond(from_ms) else {
        return out;
    };
    let z = ts.to_zoned(tz.clone());
    let mut d = jiff::civil::date(z.year(), z.month(), 1);
    for _ in 0..30 {
        let Ok(start) = d.to_zoned(tz.clone()) else {
            break;
        };
        let ms = start.timestamp().as_millisecond();
        if ms > to_ms {
            break;
        }
        if ms >= from_ms {
            let label = if d.month() == 1 {
                format!("{}", d.year())
            } else {
                [
                    "", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                    "Nov", "Dec",
                ][d.month() as usize]
                    .to_owned()
            };
            out.push((ms, label));
        }
        let Ok(next) = d.checked_add(jiff::Span::new().months(1)) else {
            break;
        };
        d = next;
    }
    out
}

/// One mark of a row: runs close enough to be drawn as one (the same day, or days apart on a
/// year's scale).
#[derive(Debug, PartialEq)]
struct Mark<'a> {
    x: f32,
    /// (time, verified, trigger) of each run it stands for.
    runs: Vec<&'a (i64, bool, String)>,
    /// Red when one of them failed, else green.
    failed: bool,
    /// One of them was a rotation for a suspected compromise: an orange ring, whatever the
    /// fill, so a failed run the same day never hides it.
    compromise: bool,
}

/// The marks of a row's runs since `from`, left to right.
fn marks<'a>(
    runs: &'a [(i64, bool, String)],
    from: i64,
    x_of: impl Fn(i64) -> f32,
) -> Vec<Mark<'a>> {
    let mut out: Vec<Mark<'a>> = Vec::new();
    for run in runs.iter().filter(|r| r.0 >= from) {
        let x = x_of(run.0);
        match out.last_mut() {
            Some(m) if (x - m.x).abs() < 4.0 => m.runs.push(run),
            _ => out.push(Mark {
                x,
                runs: vec![run],
                failed: false,
                compromise: false,
            }),
        }
    }
    for m in &mut out {
        m.failed = m.runs.iter().any(|r| !r.1);
        m.compromise = m.runs.iter().any(|r| r.2 == "compromise");
    }
    out
}

/// Draws the timeline; a click on a row's name selects that database.
pub fn timeline_ui(
    ui: &mut egui::Ui,
    rows: &[TimelineRow],
    now_ms: i64,
    selected: &mut Option<String>,
) {
    let from = now_ms - SPAN_DAYS * DAY_MS;
    let to = now_ms + SPAN_DAYS * DAY_MS;
    let width = ui.available_width().max(NAME_W + 200.0);
    let height = HEADER_H + ROW_H * rows.len().max(1) as f32 + 16.0;
    let (rect, response) = ui.allocate_exact_size(vec2(width, height), Sense::click());
    response.widget_info(|| {
        egui::WidgetInfo::labeled(
            egui::Role::Image,
            true,
            "Rotation timeline: past twelve months of rotations and next twelve months of due dates",
        )
    });
    let painter = ui.painter_at(rect);
    let visuals = ui.visuals();
    let text_color = visuals.text_color();
    let weak = visuals.weak_text_color();
    let plot = Rect::from_min_max(
        Pos2::new(rect.left() + NAME_W, rect.top() + HEADER_H),
        Pos2::new(rect.right(), rect.bottom() - 14.0),
    );
    let x_of = |ms: i64| {
        let f = (ms - from) as f32 / (to - from) as f32;
        plot.left() + f.clamp(0.0, 1.0) * plot.width()
    };
    let font = egui::FontId::proportional(11.0);
    for (ms, label) in month_starts(from, to) {
        let x = x_of(ms);
        painter.vline(
            x,
            plot.top()..=plot.bottom(),
            Stroke::new(1.0, visuals.faint_bg_color.gamma_multiply(2.0)),
        );
        // A month whose name would run past the right edge is left unnamed, never cut.
        let galley = painter.layout_no_wrap(label, font.clone(), weak);
        if x + 2.0 + galley.size().x <= rect.right() {
            painter.galley(Pos2::new(x + 2.0, rect.top() + 4.0), galley, weak);
        }
    }
    let now_x = x_of(now_ms);
    painter.vline(now_x, rect.top()..=plot.bottom(), Stroke::new(1.5, ORANGE));
    painter.text(
        Pos2::new(now_x, rect.bottom() - 1.0),
        egui::Align2::CENTER_BOTTOM,
        "today",
        font.clone(),
        ORANGE,
    );
    let mut hover: Option<String> = None;
    let pointer = response.hover_pos();
    let mut click_row: Option<usize> = None;
    for (i, row) in rows.iter().enumerate() {
        let y = plot.top() + ROW_H * (i as f32 + 0.5);
        let is_sel = selected.as_deref() == Some(row.database.as_str());
        if is_sel {
            painter.rect_filled(
                Rect::from_min_max(
                    Pos2::new(rect.left(), y - ROW_H / 2.0),
                    Pos2::new(rect.right(), y + ROW_H / 2.0),
                ),
                2.0,
                visuals.selection.bg_fill.gamma_multiply(0.35),
            );
        }
        painter.text(
            Pos2::new(rect.left() + 4.0, y),
            egui::Align2::LEFT_CENTER,
            &row.database,
            egui::FontId::proportional(13.0),
            text_color,
        );
        painter.line_segment(
            [Pos2::new(plot.left(), y), Pos2::new(plot.right(), y)],
            Stroke::new(1.0, weak.gamma_multiply(0.4)),
        );
        let tz = local_zone();
        // Runs closer than a few points (the same day, or days apart on a year's scale) are
        // drawn as one mark with their count, and listed together when hovered.
        for m in marks(&row.runs, from, x_of) {
            let (x, group) = (m.x, &m.runs);
            let c = Pos2::new(x, y);
            painter.circle_filled(c, 5.5, if m.failed { RED } else { GREEN });
            if m.compromise {
                painter.circle_stroke(c, 8.5, Stroke::new(2.5, ORANGE));
            }
            if group.len() > 1 {
                painter.text(
                    c + vec2(11.0, 0.0),
                    egui::Align2::LEFT_CENTER,
                    format!("×{}", group.len()),
                    egui::FontId::proportional(10.0),
                    text_color,
                );
            }
            if pointer.is_some_and(|p| p.distance(c) < 7.0) {
                let lines: Vec<String> = group
                    .iter()
                    .map(|(ms, ok, trigger)| {
                        format!(
                            "{}: {} rotation on {}{}",
                            row.database,
                            if *ok { "verified" } else { "failed" },
                            local_date(*ms, &tz),
                            if trigger == "compromise" {
                                " (suspected compromise)"
                            } else {
                                ""
                            }
                        )
                    })
                    .collect();
                hover = Some(lines.join("\n"));
            }
        }
        for ms in &row.due {
            if *ms > to {
                continue;
            }
            let c = Pos2::new(x_of(*ms), y);
            let overdue = *ms <= now_ms;
            painter.circle_stroke(c, 5.0, Stroke::new(2.0, if overdue { RED } else { BLUE }));
            if pointer.is_some_and(|p| p.distance(c) < 7.0) {
                hover = Some(format!(
                    "{}: {} {}",
                    row.database,
                    if overdue { "overdue since" } else { "due" },
                    local_date(*ms, &tz)
                ));
            }
        }
        if response.clicked()
            && let Some(p) = response.interact_pointer_pos()
            && (p.y - y).abs() < ROW_H / 2.0
        {
            click_row = Some(i);
        }
    }
    if rows.is_empty() {
        painter.text(
            plot.left_top() + vec2(8.0, 4.0),
            egui::Align2::LEFT_TOP,
            "No database profile yet.",
            font,
            weak,
        );
    }
    if let Some(i) = click_row {
        *selected = Some(rows[i].database.clone());
    }
    if let Some(h) = hover {
        response.on_hover_text_at_pointer(h);
    }
    ui.horizontal_wrapped(|ui| {
        for (filled, color, text) in [
            (true, GREEN, "verified"),
            (true, RED, "failed"),
            (false, ORANGE, "ringed: suspected compromise"),
            (false, BLUE, "due"),
            (false, RED, "overdue"),
        ] {
            let (r, _) = ui.allocate_exact_size(vec2(12.0, 12.0), Sense::hover());
            if filled {
                ui.painter().circle_filled(r.center(), 5.0, color);
            } else {
                ui.painter()
                    .circle_stroke(r.center(), 4.5, Stroke::new(2.0, color));
            }
            ui.small(RichText::new(text).color(tone(ui, color)));
            ui.add_space(8.0);
        }
    });
}

/// The timeline's facts as text, one line per database.
pub fn timeline_text(rows: &[TimelineRow], now_ms: i64) -> Vec<String> {
    let tz = local_zone();
    rows.iter()
        .map(|r| {
            let runs: Vec<String> = r
                .runs
                .iter()
                .map(|(ms, ok, trigger)| {
                    format!(
                        "{} {}{}",
                        if *ok { "rotated" } else { "failed" },
                        local_date(*ms, &tz),
                        if trigger == "compromise" {
                            " (compromise)"
                        } else {
                            ""
                        }
                    )
                })
                .collect();
            let due: Vec<String> = r
                .due
                .iter()
                .take(6)
                .map(|ms| {
                    if *ms <= now_ms {
                        format!("overdue since {}", local_date(*ms, &tz))
                    } else {
                        local_date(*ms, &tz)
                    }
                })
                .collect();
            format!(
                "{}: {}; due {}",
                r.database,
                if runs.is_empty() {
                    "no rotation in the past 12 months".to_owned()
                } else {
                    runs.join(", ")
                },
                if due.is_empty() {
                    "never (no policy)".to_owned()
                } else {
                    due.join(", ")
                }
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_compromise_rotation_keeps_its_ring_among_other_runs_of_the_day() {
        let day = 1_800_000_000_000;
        let runs = vec![
            (day, false, "manual".to_owned()),
            (day + 3_600_000, true, "compromise".to_owned()),
            (day + 7_200_000, true, "scheduled".to_owned()),
            (day + 90 * DAY_MS, true, "scheduled".to_owned()),
            (day + 200 * DAY_MS, true, "compromise".to_owned()),
        ];
        let from = day - 10 * DAY_MS;
        let x_of = |ms: i64| (ms - from) as f32 / DAY_MS as f32;
        let m = marks(&runs, from, x_of);
        assert_eq!(m.len(), 3, "{m:?}");
        assert_eq!(m[0].runs.len(), 3, "one day, one mark");
        assert!(
            m[0].failed && m[0].compromise,
            "the failure does not hide it"
        );
        assert!(!m[1].failed && !m[1].compromise);
        assert!(!m[2].failed && m[2].compromise);
        assert!(
            marks(&runs, day + 100 * DAY_MS, x_of).len() == 1,
            "only since `from`"
        );
    }
}
