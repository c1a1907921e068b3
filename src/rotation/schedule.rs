//! Key-rotation schedules: how often a database's TDE master key is rotated, when the
//! next rotation is due, and where a database stands. Timestamps are `i64` milliseconds
//! since the Unix epoch (UTC); calendar arithmetic happens in the time zone passed in.

use croner::parser::{CronParser, Seconds, Year};
use croner::{Cron, JobType};
use jiff::{Span, Timestamp, Zoned, civil::Date, civil::DateTime, tz::TimeZone};
use std::str::FromStr;

/// How soon "due soon" starts, in days (elapsed 24-hour days, not calendar days).
pub const DUE_SOON_DAYS: i64 = 14;

const EVERY_HELP: &str = "Type a whole number of days, weeks, months or years, \
    for example \"90 days\", \"2w\", \"6 months\" or \"1 year\".";
const CRON_HELP: &str = "Type five fields (minute hour day-of-month month day-of-week) with a \
    single minute and hour, for example \"0 2 * * 6\" for Saturdays at 02:00, \
    or one of @daily, @weekly, @monthly or @yearly.";
const STORED_HELP: &str = "It should start with \"every:\" (such as \"every:90d\") or \
    \"cron:\" (such as \"cron:0 2 * * 6\"). Type the schedule again, for example \"90 days\" \
    or \"0 2 * * 6\".";
const DUE_HELP: &str = "Type the first due date as \"2026-12-05\", \"2026-12-05 02:00\", \
    \"2026-12-05T02:00\" or \"2026-12-05T02:00:00Z\" (an offset such as +01:00 may replace Z).";

/// Why a rotation interval, a cron expression, a stored schedule or a due date
/// was refused, or a date computation left the supported range. Every message
/// is a full sentence that says what is wrong and what to type instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("{0}")]
    Interval(String),
    #[error("{0}")]
    Cron(String),
    #[error("{0}")]
    StoredText(String),
    #[error("{0}")]
    DueDate(String),
    #[error("{0}")]
    OutOfRange(String),
}

/// A calendar interval between rotations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Every {
    Days(u32),
    Weeks(u32),
    Months(u32),
    Years(u32),
}

impl Every {
    /// The count and the singular unit name.
    fn parts(self) -> (u32, &'static str) {
        match self {
            Every::Days(n) => (n, "day"),
            Every::Weeks(n) => (n, "week"),
            Every::Months(n) => (n, "month"),
            Every::Years(n) => (n, "year"),
        }
    }
}

/// How often: a calendar interval or a cron expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Schedule {
    Every(Every),
    /// The validated 5-field expression (or alias) as typed, trimmed.
    Cron(String),
}

impl Schedule {
    /// Parses an interval typed by a person: "90d", "90 days", "90" (days),
    /// "2w", "6m", "6 months", "1y", "1 year", "every 90 days", "every year".
    /// Zero, negative, fractional, sub-day, over 10 years or junk is refused.
    pub fn parse_every(s: &str) -> Result<Schedule, ScheduleError> {
        let typed = s.trim();
        let lower = typed.to_ascii_lowercase();
        let text = lower.strip_prefix("every").map_or(&*lower, str::trim_start);
        let is_number_char = |c: char| c.is_ascii_digit() || "+-.,".contains(c);
        let split = text.find(|c| !is_number_char(c)).unwrap_or(text.len());
        let (num, unit) = (&text[..split], text[split..].trim());
        let n = match num.strip_prefix('+').unwrap_or(num) {
            "" if num.is_empty() => matches!(unit, "day" | "week" | "month" | "year").then_some(1),
            d if is_digits(d) => Some(d.parse().unwrap_or(u64::MAX)),
            _ => None,
        };
        let units = "d day days w wk wks week weeks m mo mos mon month months y yr yrs year years";
        let known = unit.is_empty() || units.split(' ').any(|u| u == unit);
        let unit_letter = known.then(|| unit.chars().next().unwrap_or('d'));
        let why = if text.is_empty() {
            "is empty"
        } else if num.starts_with('-') {
            "is negative"
        } else if num.contains(['.', ',']) {
            "is not a whole number"
        } else if let (Some(n), Some(unit)) = (n, unit_letter) {
            return every_from(n, unit, typed).map(Schedule::Every);
        } else {
            "is not something this tool understands"
        };
        Err(bad_interval(typed, why))
    }

    /// Parses a 5-field cron expression (minute hour day-of-month month day-of-week) or
    /// @daily, @weekly, @monthly, @yearly, @annually. Seconds and year fields are refused,
    /// and so are expressions that fire more than once a day (@hourly too) or never fire.
    pub fn parse_cron(expr: &str) -> Result<Schedule, ScheduleError> {
        let expr = expr.trim();
        let alias = expr.strip_prefix('@').map(str::to_ascii_lowercase);
        let why = match (alias.as_deref(), expr.split_whitespace().count()) {
            (Some("daily" | "weekly" | "monthly" | "yearly" | "annually"), _) | (None, 5) => "",
            (Some("hourly"), _) => "would rotate the key every hour",
            (Some(_), _) => "is not an alias this tool knows",
            (None, 0) => "is empty",
            (None, 6 | 7) => "has a seconds or year field, but rotation runs at most once a day",
            (None, _) => "does not have exactly five fields",
        };
        if !why.is_empty() {
            return Err(bad_cron(expr, why));
        }
        let cron = parse_croner(expr).map_err(|why| bad_cron(expr, &why))?;
        let reference = Timestamp::UNIX_EPOCH.to_zoned(TimeZone::UTC);
        let why = if cron.determine_job_type() != JobType::FixedTime {
            "fires more than once a day, and rotation runs at most once a day"
        } else if cron.find_next_occurrence(&reference, false).is_err() {
            "never fires, because that date does not exist in any year"
        } else {
            return Ok(Schedule::Cron(expr.to_string()));
        };
        Err(bad_cron(expr, why))
    }

    /// The three presets offered in the window.
    pub fn presets() -> [(&'static str, Schedule); 3] {
        [
            ("90 days", Schedule::Every(Every::Days(90))),
            ("180 days", Schedule::Every(Every::Days(180))),
            ("1 year", Schedule::Every(Every::Years(1))),
        ]
    }

    /// For people: "every 90 days", "every year", "cron 0 2 * * 6 (At 02:00, on Saturday)".
    pub fn describe(&self) -> String {
        match self {
            Schedule::Every(every) => match every.parts() {
                (1, unit) => format!("every {unit}"),
                (n, unit) => format!("every {n} {unit}s"),
            },
            Schedule::Cron(expr) => match parse_croner(expr) {
                Ok(cron) => format!("cron {expr} ({})", cron.describe().trim_end_matches('.')),
                Err(_) => format!("cron {expr}"),
            },
        }
    }

    /// Stable storage form: "every:90d", "every:2w", "every:6m", "every:1y", "cron:0 2 * * 6".
    pub fn to_text(&self) -> String {
        match self {
            Schedule::Every(e) => format!("every:{}{}", e.parts().0, &e.parts().1[..1]),
            Schedule::Cron(expr) => format!("cron:{expr}"),
        }
    }

    /// Parses the storage form written by [`Schedule::to_text`].
    pub fn from_text(s: &str) -> Result<Schedule, ScheduleError> {
        let text = s.trim();
        let parsed = if let Some(rest) = text.strip_prefix("every:") {
            let unit = rest.chars().last().filter(|u| "dwmy".contains(*u));
            let num = &rest[..rest.len() - unit.map_or(0, char::len_utf8)];
            match unit {
                Some(u) if is_digits(num) => {
                    every_from(num.parse().unwrap_or(u64::MAX), u, text).map(Schedule::Every)
                }
                _ => Err(bad_interval(text, "is not written like \"every:90d\"")),
            }
        } else if let Some(expr) = text.strip_prefix("cron:") {
            Schedule::parse_cron(expr)
        } else {
            Err(ScheduleError::StoredText(STORED_HELP.to_string()))
        };
        let unreadable = |e| format!("The stored schedule \"{text}\" could not be read. {e}");
        parsed.map_err(|e| ScheduleError::StoredText(unreadable(e)))
    }

    /// When the next rotation is due after one done at `after_ms`. An interval adds to
    /// the local date of `after_ms` (months and years clamp to the month's last day) and
    /// is due at the start of that local day; a cron schedule at its first occurrence
    /// strictly after `after_ms`.
    pub fn next_after(&self, after_ms: i64, tz: &TimeZone) -> Result<i64, ScheduleError> {
        let after = to_zoned(after_ms, tz)?;
        let due = match self {
            Schedule::Every(every) => {
                // An ISO 8601 duration such as "P90D", "P2W", "P6M" or "P1Y".
                let (n, unit) = every.parts();
                let span = format!("P{n}{}", unit[..1].to_uppercase()).parse::<Span>();
                let date = span.and_then(|span| after.date().checked_add(span));
                let day = date.and_then(|date| date.to_zoned(tz.clone()));
                day.and_then(|day| day.start_of_day())
                    .map_err(|_| out_of_range())?
            }
            Schedule::Cron(expr) => {
                let cron = parse_croner(expr).map_err(|why| bad_cron(expr, &why))?;
                cron.find_next_occurrence(&after, false)
                    .map_err(|_| out_of_range())?
            }
        };
        Ok(due.timestamp().as_millisecond())
    }

    /// Due dates for a timeline: `first_due_ms` itself, then the next due after
    /// each previous one, while `<= until_ms`; at most 400 entries.
    pub fn due_dates(&self, first_due_ms: i64, until_ms: i64, tz: &TimeZone) -> Vec<i64> {
        let mut dates = Vec::new();
        let mut due = first_due_ms;
        while due <= until_ms && dates.len() < 400 {
            dates.push(due);
            match self.next_after(due, tz) {
                Ok(next) if next > due => due = next,
                _ => break,
            }
        }
        dates
    }
}

/// Parses a first due date typed by a person: "2026-12-05" (start of that
/// local day), "2026-12-05 02:00" or "2026-12-05T02:00" (local time; a time
/// skipped by a DST change moves forward by the gap, a repeated one takes the
/// earlier instant), or RFC 3339 with an offset or "Z".
pub fn parse_due_date(s: &str, tz: &TimeZone) -> Result<i64, ScheduleError> {
    let text = s.trim();
    let bad = || match text {
        "" => ScheduleError::DueDate(format!("The first due date is empty. {DUE_HELP}")),
        _ => ScheduleError::DueDate(format!("\"{text}\" is not a date I understand. {DUE_HELP}")),
    };
    if text.is_empty() || text.contains('[') {
        return Err(bad());
    }
    let zoned = if !text.contains([':', 'T', 't', ' ']) {
        let date = Date::from_str(text).map_err(|_| bad())?;
        date.to_zoned(tz.clone()).and_then(|z| z.start_of_day())
    } else if let Ok(ts) = Timestamp::from_str(text) {
        Ok(ts.to_zoned(tz.clone()))
    } else {
        tz.to_zoned(DateTime::from_str(text).map_err(|_| bad())?)
    };
    let zoned = zoned.map_err(|_| out_of_range())?;
    Ok(zoned.timestamp().as_millisecond())
}

/// A timestamp as a local date for people, e.g. "2026-12-05".
pub fn local_date(ms: i64, tz: &TimeZone) -> String {
    format_local(ms, tz, "%Y-%m-%d")
}

/// A timestamp as a local date and minute for people, e.g. "2026-12-05 02:00".
pub fn local_minute(ms: i64, tz: &TimeZone) -> String {
    format_local(ms, tz, "%Y-%m-%d %H:%M")
}

/// The machine's time zone (jiff falls back to UTC when it cannot be found).
pub fn local_zone() -> TimeZone {
    TimeZone::system()
}

/// Where a database stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DueStatus {
    NoPolicy,
    Ok,
    DueSoon,
    Overdue,
    LastRunFailed,
    /// Every key tdekey recorded for the database was retired without a successor on the HSM
    /// (its migration was rolled back): there is nothing on the HSM to rotate.
    NotOnHsm,
}

impl DueStatus {
    /// Stable machine form, the same as the serde form: "no-policy", "due-soon", …
    pub fn as_str(self) -> &'static str {
        match self {
            DueStatus::NoPolicy => "no-policy",
            DueStatus::Ok => "ok",
            DueStatus::DueSoon => "due-soon",
            DueStatus::Overdue => "overdue",
            DueStatus::LastRunFailed => "last-run-failed",
            DueStatus::NotOnHsm => "not-on-hsm",
        }
    }

    /// For people: "No policy", "OK", "Due within 14 days", "Overdue", "Last run failed".
    pub fn label(self) -> &'static str {
        match self {
            DueStatus::NoPolicy => "No policy",
            DueStatus::Ok => "OK",
            DueStatus::DueSoon => "Due within 14 days",
            DueStatus::Overdue => "Overdue",
            DueStatus::LastRunFailed => "Last run failed",
            DueStatus::NotOnHsm => "Not on the HSM: migrate first",
        }
    }
}

/// Where a database stands. `None` means no policy, which wins over all; then a failed
/// last run; then Overdue when `now >= next_due`; DueSoon when strictly less than
/// 14 × 24 hours remain (exactly 14 days left is Ok); otherwise Ok.
pub fn status(next_due_ms: Option<i64>, last_run_failed: bool, now_ms: i64) -> DueStatus {
    let soon = |due: i64| due.saturating_sub(now_ms) < DUE_SOON_DAYS * 86_400_000;
    match next_due_ms {
        None => DueStatus::NoPolicy,
        Some(_) if last_run_failed => DueStatus::LastRunFailed,
        Some(due) if is_due(due, now_ms) => DueStatus::Overdue,
        Some(due) if soon(due) => DueStatus::DueSoon,
        Some(_) => DueStatus::Ok,
    }
}

/// Whether a rotation due at `next_due_ms` is due at `now_ms` (`now >= due`).
pub fn is_due(next_due_ms: i64, now_ms: i64) -> bool {
    now_ms >= next_due_ms
}

/// Parses with croner, refusing seconds and year fields; the error is croner's
/// reason, phrased to follow "The cron expression "…"".
fn parse_croner(expr: &str) -> Result<Cron, String> {
    let parser = CronParser::builder().seconds(Seconds::Disallowed);
    let parsed = parser.year(Year::Disallowed).build().parse(expr);
    parsed.map_err(|e| format!("is not valid ({})", e.to_string().trim_end_matches('.')))
}

/// Builds an interval from a count and a unit letter (d, w, m, y), refusing
/// zero and anything longer than ten years.
fn every_from(n: u64, unit: char, typed: &str) -> Result<Every, ScheduleError> {
    let (max, make): (u64, fn(u32) -> Every) = match unit {
        'd' => (3653, Every::Days),
        'w' => (521, Every::Weeks),
        'm' => (120, Every::Months),
        _ => (10, Every::Years),
    };
    let why = match u32::try_from(n) {
        Ok(0) => "is zero and would never rotate the key",
        Ok(n) if u64::from(n) <= max => return Ok(make(n)),
        _ => "is longer than the 10 years this tool accepts",
    };
    Err(bad_interval(typed, why))
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

fn bad_interval(typed: &str, why: &str) -> ScheduleError {
    let typed = quoted(typed);
    ScheduleError::Interval(format!("The rotation interval{typed} {why}. {EVERY_HELP}"))
}

fn bad_cron(expr: &str, why: &str) -> ScheduleError {
    let expr = quoted(expr);
    ScheduleError::Cron(format!("The cron expression{expr} {why}. {CRON_HELP}"))
}

fn quoted(text: &str) -> String {
    let quoted = (!text.is_empty()).then(|| format!(" \"{text}\""));
    quoted.unwrap_or_default()
}

const OUT_OF_RANGE: &str = "The date falls outside the years 1 to 4999 that rotation \
    schedules can handle. Type a date in that range, such as \"2026-12-05\".";

fn out_of_range() -> ScheduleError {
    ScheduleError::OutOfRange(OUT_OF_RANGE.to_string())
}

fn to_zoned(ms: i64, tz: &TimeZone) -> Result<Zoned, ScheduleError> {
    let ts = Timestamp::from_millisecond(ms).map_err(|_| out_of_range())?;
    Ok(ts.to_zoned(tz.clone()))
}

fn format_local(ms: i64, tz: &TimeZone, format: &str) -> String {
    let text = to_zoned(ms, tz).map(|z| z.strftime(format).to_string());
    text.unwrap_or_else(|_| format!("(time {ms} ms is out of range)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(name: &str) -> TimeZone {
        match name {
            "NY" => TimeZone::posix("EST5EDT,M3.2.0,M11.1.0").unwrap(),
            "SP" => TimeZone::posix("<-03>3<-02>,M10.3.0/0,M2.3.0/0").unwrap(),
            _ => TimeZone::UTC,
        }
    }

    fn ts(s: &str) -> i64 {
        s.parse::<Timestamp>().unwrap().as_millisecond()
    }

    fn sched(s: &str) -> Schedule {
        let every = Schedule::parse_every(s);
        every.or_else(|_| Schedule::parse_cron(s)).unwrap()
    }

    /// Rows (split at newlines and `;`) of `|` cells, without blanks and `#` comments.
    fn rows(table: &str) -> impl Iterator<Item = Vec<&str>> {
        let rows = table.split(['\n', ';']).map(str::trim);
        let rows = rows.filter(|l| !l.is_empty() && !l.starts_with('#'));
        rows.map(|l| l.split('|').map(str::trim).collect())
    }

    #[test]
    fn next_after_in_local_calendar() {
        let table = "
            UTC | 30d | 2026-01-31 15:00 | 2026-03-02T00:00Z
            UTC | 1d  | 2028-02-28 09:00 | 2028-02-29T00:00Z
            UTC | 1d  | 2027-02-28 09:00 | 2027-03-01T00:00Z
            UTC | 1y  | 2028-02-29 09:00 | 2029-02-28T00:00Z
            UTC | 2w  | 2026-01-10 08:00 | 2026-01-24T00:00Z
            UTC | 1m  | 2026-01-31 08:00 | 2026-02-28T00:00Z
            UTC | 1m  | 2026-03-31 08:00 | 2026-04-30T00:00Z
            UTC | 6m  | 2026-08-31 08:00 | 2027-02-28T00:00Z
            # Due at the start of the local day, whatever the time of the rotation.
            NY  | 90d | 2026-01-10        | 2026-04-10T00:00-04:00
            NY  | 90d | 2026-01-10 23:59  | 2026-04-10T00:00-04:00
            NY  | 90d | 2026-01-11T03:30Z | 2026-04-10T00:00-04:00
            # Across DST changes: local midnight, never 23:00 or 01:00.
            NY  | 1d  | 2026-03-07 23:30  | 2026-03-08T00:00-05:00
            NY  | 90d | 2026-08-15 10:00  | 2026-11-13T00:00-05:00
            NY  | 1d  | 2026-10-31 23:00  | 2026-11-01T00:00-04:00
            # SP: DST starts at 00:00 on 2026-10-18, so that day starts at 01:00, the next at 00:00.
            SP  | 1d  | 2026-10-17 12:00  | 2026-10-18T01:00-02:00
            SP  | 1d  | 2026-10-18        | 2026-10-19T00:00-02:00
            # Cron: the first occurrence strictly after, in the zone.
            NY  | 0 2 * * 6  | 2026-03-06 12:00 | 2026-03-07T02:00-05:00
            NY  | 0 2 * * 6  | 2026-03-07 02:00 | 2026-03-14T02:00-04:00
            NY  | @monthly   | 2026-01-15 09:00 | 2026-02-01T00:00-05:00
            NY  | @monthly   | 2026-02-01       | 2026-03-01T00:00-05:00
            # 02:00 is skipped on 2026-03-08, and 01:30 happens twice on 2026-11-01 (runs once).
            NY  | 0 2 * * 0  | 2026-03-07 12:00 | 2026-03-08T03:00-04:00
            NY  | 30 1 * * * | 2026-10-31 12:00 | 2026-11-01T01:30-04:00
            NY  | 30 1 * * * | 2026-11-01T01:30-04:00 | 2026-11-02T01:30-05:00";
        for row in rows(table) {
            let tz = zone(row[0]);
            let after = parse_due_date(row[2], &tz).unwrap();
            let due = sched(row[1]).next_after(after, &tz).unwrap();
            assert_eq!(due, ts(row[3]), "{row:?} gave {}", local_minute(due, &tz));
        }
    }

    #[test]
    fn accepted_forms() {
        let every = "90d | every:90d; 90 days | every:90d; 90 | every:90d; 365D | every:365d
            +30d | every:30d; 2w | every:2w; 2 weeks | every:2w; 6m | every:6m; 1 year | every:1y
            6 months | every:6m; 120 mo | every:120m; 1y | every:1y; 10 years | every:10y
            every 90 days | every:90d; Every Year | every:1y; 3653 days | every:3653d";
        for row in rows(every) {
            let stored = Schedule::parse_every(row[0]).map(|s| s.to_text());
            assert_eq!(stored.as_deref(), Ok(row[1]), "{row:?}");
        }
        for good in "0 0 29 2 *; 0 2 * * sat; 30 1 L * *; 0 4 * * 5#L; @weekly".split("; ") {
            assert_eq!(Schedule::parse_cron(good), Ok(Schedule::Cron(good.into())));
        }
        let table = "NY | 2026-12-05 | 2026-12-05T00:00-05:00
            NY | 2026-12-05 02:00 | 2026-12-05T02:00-05:00; SP | 2026-10-18 | 2026-10-18T01:00-02:00
            NY | 2026-07-05T02:00 | 2026-07-05T02:00-04:00
            NY | 2026-12-05 02:00Z | 2026-12-05T02:00Z; NY | 2026-12-05T02 | 2026-12-05T02:00-05:00
            NY | 2026-12-05T02:00:00+01:00 | 2026-12-05T01:00Z
            # Skipped by the DST change: moves forward by the gap.
            NY | 2026-03-08 02:30 | 2026-03-08T03:30-04:00";
        for row in rows(table) {
            let got = parse_due_date(row[1], &zone(row[0]));
            assert_eq!(got, Result::Ok(ts(row[2])), "{row:?}");
        }
    }

    #[test]
    fn refusals_are_sentences_that_say_what_to_type() {
        let lists = "Interval=|0|0d|-5d|11y|3654d|522w|121m|99999999999999999999d|1.5y|12h\
                |30 minutes|2 secs|fortnight|90 dayz|d|every|5 5d|@weekly
            Cron=|0 2 * *|99 2 * * *|0 2 * * funday|0 0 30 2 *|0 0 31 4 *|0 0 2 * * 6\
                |0 0 2 * * 6 2027|*/5 * * * *|0 2,14 * * *|@hourly|@fortnightly|90d
            StoredText=|every:0d|every:90|every:90x|every:-5d|every:d|every:11y|every:9é\
                |cron:0 2 * *|cron:|90d|sometimes
            DueDate=|05/12/2026|tomorrow|2026-13-01|2026-12-05 25:00|2026-12-05T02:00[UTC]";
        let (tz, mut messages) = (zone("NY"), Vec::new());
        for (kind, list) in lists.lines().filter_map(|l| l.trim().split_once('=')) {
            for bad in list.split('|') {
                let e = match kind {
                    "Interval" => Schedule::parse_every(bad).map(|_| 0),
                    "Cron" => Schedule::parse_cron(bad).map(|_| 0),
                    "StoredText" => Schedule::from_text(bad).map(|_| 0),
                    _ => parse_due_date(bad, &tz),
                };
                let (e, m) = (e.clone().unwrap_err(), e.unwrap_err().to_string());
                let starts = m.starts_with(|c: char| c.is_uppercase() || c == '"');
                let sentence = starts && m.ends_with('.') && m.contains(". Type ");
                let right_kind = format!("{e:?}").starts_with(kind);
                assert!(sentence && right_kind, "{bad:?}: {e:?}");
                messages.push(m);
            }
        }
        let parts = r#"interval "-5d" is negative.|interval "11y" is longer than the 10 years
            |interval "0d" is zero|"0 0 30 2 *" never fires
            |"@hourly" would rotate the key every hour
            |"0 0 2 * * 6" has a seconds or year field, but rotation runs at most once a day.
            |"every:90x" could not be read. The rotation interval "every:90x" is not written
            |"2026-12-05 02:00"|The first due date is empty. Type
            |"sometimes" could not be read. It should"#;
        for part in parts.split('|').map(str::trim) {
            assert!(messages.iter().any(|m| m.contains(part)), "{part}");
        }
    }

    #[test]
    fn text_round_trip_presets_and_describe() {
        let presets = Schedule::presets();
        let mut all: Vec<Schedule> = presets.iter().map(|(_, s)| s.clone()).collect();
        all.extend(["1d", "2w", "6m", "10y", "0 2 * * 6", " @monthly"].map(sched));
        let want = "every:90d | every 90 days; every:180d | every 180 days; every:1y | every year
            every:1d | every day; every:2w | every 2 weeks; every:6m | every 6 months
            every:10y | every 10 years; cron:0 2 * * 6 | cron 0 2 * * 6 (At 02:00, on Saturday)
            cron:@monthly | cron @monthly (At 00:00, on day 1)";
        assert_eq!(all.len(), rows(want).count());
        for (s, row) in all.iter().zip(rows(want)) {
            assert_eq!([s.to_text(), s.describe()], [row[0], row[1]]);
            assert_eq!(Schedule::from_text(&s.to_text()).as_ref(), Ok(s));
        }
        let labels = presets.map(|(label, _)| label);
        assert_eq!(labels, ["90 days", "180 days", "1 year"]);
    }

    #[test]
    fn due_dates_timeline_and_cap() {
        let tz = zone("NY");
        let first = parse_due_date("2026-01-10", &tz).unwrap();
        let until = parse_due_date("2027-01-10", &tz).unwrap();
        let dates = sched("90d").due_dates(first, until, &tz);
        let shown: Vec<_> = dates.iter().map(|&d| local_minute(d, &tz)).collect();
        let want = "2026-01-10 00:00|2026-04-10 00:00|2026-07-09 00:00|2026-10-07 00:00\
            |2027-01-05 00:00";
        assert_eq!(shown, want.split('|').collect::<Vec<_>>());
        assert!(dates.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(
            sched("90d").due_dates(first, first - 1, &tz),
            Vec::<i64>::new()
        );
        assert_eq!(sched("1d").due_dates(first, first, &tz), [first]);
        let daily = sched("1d").due_dates(first, ts("2036-01-01T00:00Z"), &tz);
        assert_eq!(daily.len(), 400);
        assert_eq!(local_date(daily[399], &tz), "2027-02-13");
        // The first due itself, then the 53 Saturdays 2026-01-10 ..= 2027-01-09 at 02:00.
        let weekly = sched("0 2 * * 6").due_dates(first, until, &tz);
        assert_eq!(weekly.len(), 54);
        assert_eq!(local_minute(weekly[53], &tz), "2027-01-09 02:00");
    }

    #[test]
    fn status_and_is_due() {
        use DueStatus::*;
        let (due, day) = (ts("2026-06-01T00:00-04:00"), 86_400_000);
        let cases = [
            (None, false, due, NoPolicy),
            (None, true, due, NoPolicy),
            (Some(due), true, due - 100 * day, LastRunFailed),
            (Some(due), true, due + day, LastRunFailed),
            (Some(due), false, due, Overdue),
            (Some(due), false, due + 1, Overdue),
            (Some(due), false, due - 1, DueSoon),
            // Exactly 14 days left is still OK; one millisecond less is due soon.
            (Some(due), false, due - 14 * day, Ok),
            (Some(due), false, due - 14 * day + 1, DueSoon),
            (Some(i64::MAX), false, i64::MIN, Ok),
        ];
        for (next, failed, now, want) in cases {
            assert_eq!(status(next, failed, now), want, "{next:?} {failed} {now}");
        }
        assert!(is_due(due, due) && !is_due(due, due - 1));
        let all = [NoPolicy, Ok, DueSoon, Overdue, LastRunFailed];
        let name = |s: DueStatus| format!("{}={}", s.as_str(), s.label());
        let names = all.map(name).join(";");
        let want = "no-policy=No policy;ok=OK;due-soon=Due within 14 days;overdue=Overdue;\
            last-run-failed=Last run failed";
        assert_eq!(names, want);
    }

    #[test]
    fn local_formatting_and_out_of_range() {
        let tz = zone("NY");
        let (morning, night) = (ts("2026-12-05T07:00Z"), ts("2026-12-05T03:00Z"));
        let shown = [local_date(morning, &tz), local_date(night, &tz)];
        assert_eq!(shown, ["2026-12-05", "2026-12-04"]);
        assert_eq!(local_minute(morning, &tz), "2026-12-05 02:00");
        assert!(local_minute(i64::MAX, &tz).contains("out of range"));
        let huge = Schedule::Every(Every::Years(u32::MAX));
        assert_eq!(huge.next_after(0, &tz), Err(out_of_range()));
        assert_eq!(sched("1d").next_after(i64::MAX, &tz), Err(out_of_range()));
        for (s, after) in [("1d", "9999-12-30T12:00Z"), ("@daily", "6000-01-01T00:00Z")] {
            let due = sched(s).next_after(ts(after), &tz);
            assert_eq!(due, Err(out_of_range()), "{s}");
        }
        assert!(OUT_OF_RANGE.contains(". Type "));
        let _ = local_zone();
    }
}
