//! Who holds a lease (a migration's, a rotation run's) and whether that holder still runs.
//!
//! A holder is `host:pid:start:random`: `start` is the process's start time (field 22 of
//! `/proc/<pid>/stat`, clock ticks since boot), so a pid that the kernel gave to another process
//! since is not mistaken for the holder. Owners written by older versions (`host:pid:random`)
//! are still read; for them only the pid can be checked.

use crate::store::Store;

/// How long a lease lasts without being renewed, unless the `lease_ms` setting says otherwise.
const LEASE_MS: i64 = 10 * 60 * 1000;
/// The setting that changes it (milliseconds; tests make it short).
pub const LEASE_SETTING: &str = "lease_ms";

/// How long a lease lasts without being renewed: the `lease_ms` setting (at least 50 ms, at
/// most a day), else ten minutes. While a process holds one it renews it every third of that.
pub(crate) fn lease_ms(store: &Store) -> i64 {
    store
        .setting(LEASE_SETTING)
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .map_or(LEASE_MS, |ms| ms.clamp(50, 24 * 60 * 60 * 1000))
}

/// A lease holder as written in a lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    pub host: String,
    pub pid: u32,
    /// The process's start time in clock ticks since boot (none in owners older versions wrote).
    pub start: Option<u64>,
}

/// Reads `host:pid:start:random` (or the older `host:pid:random`).
pub fn parse_holder(s: &str) -> Option<Holder> {
    let parts: Vec<&str> = s.split(':').collect();
    let (host, pid, start) = match parts.as_slice() {
        [host, pid, _random] => (*host, *pid, None),
        [host, pid, start, _random] => (*host, *pid, Some(start.parse::<u64>().ok()?)),
        _ => return None,
    };
    Some(Holder {
        host: host.to_owned(),
        pid: pid.parse().ok()?,
        start,
    })
}

/// The start time (field 22, clock ticks since boot) in the text of `/proc/<pid>/stat`. The
/// command name (field 2) is in parentheses and may hold spaces and parentheses itself, so the
/// fields are counted from the last `)`.
pub fn stat_start_time(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // Fields after the name begin at field 3: field 22 is the 20th of them.
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// When process `pid` started (clock ticks since boot), if it runs and this system says.
pub fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat_start_time(&stat)
}

/// This host's name, as lease owners carry it. Builds with the `failpoints` feature (the crash
/// tests' builds, never a release) take `TDEKEY_TEST_HOSTNAME` instead when it is set, so a
/// test can make a process of this host look like one of another host's.
fn this_host() -> String {
    #[cfg(feature = "failpoints")]
    if let Some(h) = std::env::var_os("TDEKEY_TEST_HOSTNAME").filter(|h| !h.is_empty()) {
        return h.to_string_lossy().into_owned();
    }
    gethostname::gethostname().to_string_lossy().into_owned()
}

/// This process, as a lease holder: host, pid, start time and a random part.
pub(crate) fn owner() -> String {
    use aes_gcm::aead::{OsRng, rand_core::RngCore};
    let pid = std::process::id();
    let random = OsRng.next_u32();
    match process_start_time(pid) {
        Some(start) => format!("{}:{pid}:{start}:{random:08x}", this_host()),
        None => format!("{}:{pid}:{random:08x}", this_host()),
    }
}

/// A lease held by a process of this host that no longer runs can be taken over at once: its
/// pid is gone, or the pid now belongs to a process that started at another time.
pub fn holder_gone(holder: &str) -> bool {
    let Some(h) = parse_holder(holder) else {
        return false;
    };
    if h.host != this_host() {
        return false;
    }
    if !std::path::Path::new(&format!("/proc/{}", h.pid)).exists() {
        return true;
    }
    match (h.start, process_start_time(h.pid)) {
        (Some(then), Some(now)) => then != now,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_time_is_field_22_counted_after_the_command_name() {
        let stat = "4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 120 0 0 0 3 1 0 0 20 0 1 0 987654 1234567 300 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        assert_eq!(stat_start_time(stat), Some(987_654));
        assert_eq!(stat_start_time("4242 (cut) S 1 2"), None, "too few fields");
        assert_eq!(stat_start_time("no parenthesis"), None);
    }

    #[test]
    fn holders_old_and_new_are_read() {
        assert_eq!(
            parse_holder("db1:4242:987654:0badf00d"),
            Some(Holder {
                host: "db1".into(),
                pid: 4242,
                start: Some(987_654)
            })
        );
        assert_eq!(
            parse_holder("db1:4242:0badf00d"),
            Some(Holder {
                host: "db1".into(),
                pid: 4242,
                start: None
            }),
            "an owner an older version wrote"
        );
        assert_eq!(parse_holder("db1:x:0badf00d"), None);
        assert_eq!(parse_holder("db1:4242:notanumber:0badf00d"), None);
        assert_eq!(parse_holder("garbage"), None);
    }

    #[test]
    fn this_process_holds_and_a_pid_with_another_start_time_does_not() {
        let me = owner();
        assert!(!holder_gone(&me), "{me}");
        let h = parse_holder(&me).unwrap();
        let start = h.start.expect("Linux says when a process started");
        let reused = format!("{}:{}:{}:00000000", h.host, h.pid, start + 1);
        assert!(holder_gone(&reused), "the pid runs another process now");
        let other_host = format!("elsewhere:{}:{}:00000000", h.pid, start + 1);
        assert!(
            !holder_gone(&other_host),
            "another host's process is not judged"
        );
    }
}
