//! The program's one clock: UTC milliseconds since the Unix epoch, as stored and audited.

/// Now, in UTC milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
