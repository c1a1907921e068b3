//! One audit entry as one RFC 5424 syslog message, octet-counted (RFC 6587 §3.4.1 over TCP,
//! RFC 5425 over TLS), and as the fields of a journald entry. Pure: no I/O.
//!
//! - PRI: facility authpriv (10), the facility for security and authorisation messages that
//!   syslog daemons keep in restricted files (auth.log); auditors find key management there,
//!   not among local0..7, whose meaning differs per site.
//! - Severity from the outcome: `failure` → warning (4), a refused or failed security action
//!   is what a SIEM alerts on, but not a malfunction of the log itself (err); `success` and
//!   `cancelled` → notice (5), normal but significant; `started` → info (6).
//! - VERSION 1; TIMESTAMP the entry's time in UTC with milliseconds; HOSTNAME the entry's host
//!   when it is 1..=255 printable US-ASCII characters, else "-" (and the host goes in the
//!   structured data as `host`); APP-NAME `tdekey`; PROCID "-"; MSGID the action, cut to its
//!   first 32 characters when longer (the whole action is in the text), "-" when it holds
//!   anything but printable US-ASCII.
//! - STRUCTURED-DATA `[tdekey@32473 seq="…" hash="…" prev="…" outcome="…" osuser="…"
//!   hsmuser="…"]` (hsmuser only when there is one); `"`, `\` and `]` escaped with `\`.
//! - MSG: a UTF-8 BOM, then the line `tdekey audit list` prints, then the details (JSON), every
//!   control character escaped so one entry stays one line. Nothing else: the same fields as
//!   an export, which hold no secret by construction.

use crate::model::printable;
use crate::store::AuditRowRef;
use std::fmt::Write as _;

/// authpriv: security/authorisation messages (private).
pub const FACILITY: u8 = 10;
/// The SD-ID: `tdekey@` and a Private Enterprise Number; 32473 is the one RFC 5612 reserves
/// for documentation, until tdekey has its own.
pub const SD_ID: &str = "tdekey@32473";
pub const APP_NAME: &str = "tdekey";
const MAX_MSGID: usize = 32;
const MAX_HOSTNAME: usize = 255;

/// The syslog severity of an outcome.
pub fn severity(outcome: &str) -> u8 {
    match outcome {
        "failure" => 4,
        "started" => 6,
        _ => 5,
    }
}

fn printable_ascii(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| (33..=126).contains(&b))
}

/// The MSGID: the action, cut to 32 characters, or "-".
pub fn msgid(action: &str) -> &str {
    if !printable_ascii(action) {
        return "-";
    }
    &action[..action.len().min(MAX_MSGID)]
}

fn hostname(host: &str) -> Option<&str> {
    (printable_ascii(host) && host.len() <= MAX_HOSTNAME).then_some(host)
}

fn sd_value(out: &mut Vec<u8>, v: &str) {
    for b in v.bytes() {
        if matches!(b, b'"' | b'\\' | b']') {
            out.push(b'\\');
        }
        out.push(b);
    }
}

fn sd_param(out: &mut Vec<u8>, name: &str, v: &str) {
    out.push(b' ');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"=\"");
    sd_value(out, v);
    out.push(b'"');
}

fn hex32<'a>(b: &[u8], out: &'a mut [u8; 64]) -> &'a str {
    let n = b.len().min(32);
    if hex::encode_to_slice(&b[..n], &mut out[..n * 2]).is_err() {
        return "";
    }
    std::str::from_utf8(&out[..n * 2]).unwrap_or("")
}

/// The entry's text (without the BOM): what `tdekey audit list` prints, then the details.
pub fn text(r: &AuditRowRef<'_>, time: &str, out: &mut String) {
    let _ = write!(
        out,
        "{:>7}  {}  {:<9}  {:<22}  {:<10} {:<12} {}  {}",
        r.seq,
        time,
        printable(r.outcome),
        printable(r.action),
        printable(r.os_user),
        printable(r.hsm_user.unwrap_or("-")),
        printable(r.target),
        printable(r.details)
    );
}

/// Reusable buffers for formatting many entries without allocating per entry.
#[derive(Default)]
pub struct Formatter {
    times: crate::audit::export::UtcCache,
    text: String,
    msg: Vec<u8>,
}

impl Formatter {
    /// The RFC 5424 message of `r` (no framing), valid until the next call.
    pub fn message(&mut self, r: &AuditRowRef<'_>) -> &[u8] {
        let out = &mut self.msg;
        out.clear();
        let mut n = itoa::Buffer::new();
        let pri = u32::from(FACILITY) * 8 + u32::from(severity(r.outcome));
        out.push(b'<');
        out.extend_from_slice(n.format(pri).as_bytes());
        out.extend_from_slice(b">1 ");
        let time = self.times.format(r.ts_ms);
        out.extend_from_slice(time.as_bytes());
        out.push(b' ');
        let host = hostname(r.host);
        out.extend_from_slice(host.unwrap_or("-").as_bytes());
        out.push(b' ');
        out.extend_from_slice(APP_NAME.as_bytes());
        out.extend_from_slice(b" - ");
        out.extend_from_slice(msgid(r.action).as_bytes());
        out.extend_from_slice(b" [");
        out.extend_from_slice(SD_ID.as_bytes());
        sd_param(out, "seq", n.format(r.seq));
        let mut h = [0u8; 64];
        sd_param(out, "hash", hex32(r.hash, &mut h));
        sd_param(out, "prev", hex32(r.prev_hash, &mut h));
        sd_param(out, "outcome", r.outcome);
        sd_param(out, "osuser", r.os_user);
        if let Some(u) = r.hsm_user {
            sd_param(out, "hsmuser", u);
        }
        if host.is_none() {
            sd_param(out, "host", r.host);
        }
        out.extend_from_slice(b"] \xEF\xBB\xBF");
        self.text.clear();
        text(r, time, &mut self.text);
        out.extend_from_slice(self.text.as_bytes());
        &self.msg
    }

    /// Writes `r` as one octet-counted frame: `LEN SP MSG`.
    pub fn frame(
        &mut self,
        r: &AuditRowRef<'_>,
        w: &mut impl std::io::Write,
    ) -> std::io::Result<()> {
        let msg = self.message(r);
        let mut n = itoa::Buffer::new();
        w.write_all(n.format(msg.len()).as_bytes())?;
        w.write_all(b" ")?;
        w.write_all(msg)
    }

    /// The journald fields of `r` (native protocol: `NAME=value` lines; a value with a newline
    /// as `NAME\n`, its length as 64-bit little-endian, the value, `\n`).
    pub fn journal_fields(&mut self, r: &AuditRowRef<'_>, out: &mut Vec<u8>) {
        out.clear();
        let time = self.times.format(r.ts_ms).to_owned();
        self.text.clear();
        text(r, &time, &mut self.text);
        let mut n = itoa::Buffer::new();
        let mut h = [0u8; 64];
        let sev = severity(r.outcome);
        field(out, "MESSAGE", &self.text);
        field(out, "PRIORITY", n.format(sev));
        field(out, "SYSLOG_FACILITY", n.format(FACILITY));
        field(out, "SYSLOG_IDENTIFIER", APP_NAME);
        field(out, "TDEKEY_SEQ", n.format(r.seq));
        field(out, "TDEKEY_TIME", &time);
        field(out, "TDEKEY_HASH", hex32(r.hash, &mut h));
        field(out, "TDEKEY_PREV", hex32(r.prev_hash, &mut h));
        field(out, "TDEKEY_ACTION", r.action);
        field(out, "TDEKEY_OUTCOME", r.outcome);
        field(out, "TDEKEY_OSUSER", r.os_user);
        if let Some(u) = r.hsm_user {
            field(out, "TDEKEY_HSMUSER", u);
        }
        field(out, "TDEKEY_HOST", r.host);
        field(out, "TDEKEY_TARGET", r.target);
        field(out, "TDEKEY_DETAILS", r.details);
    }
}

fn field(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    if value.contains('\n') {
        out.push(b'\n');
        out.extend_from_slice(&(value.len() as u64).to_le_bytes());
    } else {
        out.push(b'=');
    }
    out.extend_from_slice(value.as_bytes());
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row<'a>(
        action: &'a str,
        host: &'a str,
        hsm_user: Option<&'a str>,
        target: &'a str,
    ) -> AuditRowRef<'a> {
        AuditRowRef {
            seq: 42,
            ts_ms: 1_795_493_945_007,
            os_user: "oracle",
            hsm_user,
            host,
            action,
            target,
            outcome: "failure",
            details: r#"{"error":"CKR_PIN_INCORRECT"}"#,
            prev_hash: &[0xab; 32],
            hash: &[0x01; 32],
        }
    }

    /// RFC 5424 §6: HEADER = PRI VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID.
    fn parse(msg: &[u8]) -> (String, Vec<String>, String, Vec<u8>) {
        let s = std::str::from_utf8(msg).unwrap();
        let close = s.find('>').unwrap();
        assert!(s.starts_with('<'));
        let pri = s[1..close].to_owned();
        assert!(pri.len() <= 3 && pri.bytes().all(|b| b.is_ascii_digit()));
        let rest = &s[close + 1..];
        let header: Vec<String> = rest.splitn(7, ' ').map(str::to_owned).collect();
        let sd_and_msg = header[6].clone();
        let end = sd_and_msg.find("] \u{feff}").unwrap();
        let sd = sd_and_msg[..=end].to_owned();
        let msg = sd_and_msg.as_bytes()[end + 2..].to_vec();
        (pri, header[..6].to_vec(), sd, msg)
    }

    /// RFC 5424 §6's ABNF, checked field by field: PRI, VERSION, TIMESTAMP (full-date "T"
    /// full-time in UTC), HOSTNAME 1*255, APP-NAME 1*48, PROCID 1*128, MSGID 1*32 PRINTUSASCII
    /// (or NILVALUE), SD-ELEMENTs whose SD-NAMEs exclude '=', SP, ']' and '"' (1*32) and whose
    /// PARAM-VALUEs escape '"', '\' and ']', then SP and a MSG that starts with the BOM.
    fn assert_abnf(msg: &[u8]) {
        let printus = |s: &str, max: usize| {
            !s.is_empty() && s.len() <= max && s.bytes().all(|b| (33..=126).contains(&b))
        };
        let (pri, header, sd, rest) = parse(msg);
        let pri: u32 = pri.parse().unwrap();
        assert!(pri <= 191);
        assert_eq!(header[0], "1");
        let t = chrono::DateTime::parse_from_rfc3339(&header[1]).unwrap();
        assert_eq!(t.offset().local_minus_utc(), 0);
        assert!(
            header[1].ends_with('Z') && header[1].len() == 24,
            "{}",
            header[1]
        );
        assert!(printus(&header[2], 255), "{}", header[2]);
        assert!(printus(&header[3], 48));
        assert!(printus(&header[4], 128));
        assert!(printus(&header[5], 32), "{}", header[5]);
        // SD-ELEMENT = "[" SD-ID *(SP SD-PARAM) "]"
        let sd = sd.as_bytes();
        assert_eq!(sd[0], b'[');
        let mut i = 1;
        let name = |i: &mut usize| {
            let start = *i;
            while *i < sd.len() && !b"= ]\"".contains(&sd[*i]) && (33..=126).contains(&sd[*i]) {
                *i += 1;
            }
            let n = *i - start;
            assert!(
                (1..=32).contains(&n),
                "an SD-NAME of {n} characters at {start}"
            );
        };
        name(&mut i);
        while sd[i] == b' ' {
            i += 1;
            name(&mut i);
            assert_eq!(&sd[i..i + 2], b"=\"");
            i += 2;
            loop {
                match sd[i] {
                    b'\\' => {
                        assert!(b"\"\\]".contains(&sd[i + 1]), "a stray escape");
                        i += 2;
                    }
                    b'"' => break,
                    b']' => panic!("an unescaped ] inside a PARAM-VALUE"),
                    _ => i += 1,
                }
            }
            i += 1;
        }
        assert_eq!(sd[i], b']');
        assert_eq!(i, sd.len() - 1);
        std::str::from_utf8(&rest).unwrap();
        assert!(rest.starts_with(b"\xEF\xBB\xBF"));
    }

    #[test]
    fn hostile_fields_still_make_valid_messages() {
        let mut f = Formatter::default();
        let long = "h".repeat(300);
        let cases = [
            row("hsm.login", "db01", Some("cu"), "t"),
            row("a.b", "x y", Some("a\"b]c\\"), "line\nbreak"),
            row(&long, &long, None, "]\"["),
            row("bad action", "hôte", Some(""), ""),
        ];
        for r in &cases {
            assert_abnf(f.message(r));
        }
        let mut r = row("a.b", "h", None, "t");
        r.os_user = "=\"] ";
        assert_abnf(f.message(&r));
    }

    #[test]
    fn a_message_follows_rfc5424() {
        let mut f = Formatter::default();
        let r = row("hsm.login", "db01.example.com", Some("crypto_user"), "tok");
        let (pri, header, sd, msg) = parse(f.message(&r));
        assert_eq!(pri, "84"); // authpriv (10) * 8 + warning (4)
        assert_eq!(
            header,
            [
                "1",
                "2026-11-24T04:19:05.007Z",
                "db01.example.com",
                "tdekey",
                "-",
                "hsm.login"
            ]
        );
        assert_eq!(
            sd,
            format!(
                "[tdekey@32473 seq=\"42\" hash=\"{}\" prev=\"{}\" outcome=\"failure\" osuser=\"oracle\" hsmuser=\"crypto_user\"]",
                "01".repeat(32),
                "ab".repeat(32)
            )
        );
        assert!(msg.starts_with(b"\xEF\xBB\xBF"));
        let text = std::str::from_utf8(&msg[3..]).unwrap();
        assert!(
            text.contains("hsm.login") && text.contains("CKR_PIN_INCORRECT"),
            "{text}"
        );
        assert!(
            text.trim_start()
                .starts_with("42  2026-11-24T04:19:05.007Z  failure"),
            "{text}"
        );
    }

    #[test]
    fn severities_follow_the_outcome() {
        assert_eq!(severity("failure"), 4);
        assert_eq!(severity("success"), 5);
        assert_eq!(severity("cancelled"), 5);
        assert_eq!(severity("started"), 6);
        let mut f = Formatter::default();
        let mut r = row("a.b", "h", None, "t");
        r.outcome = "started";
        assert!(f.message(&r).starts_with(b"<86>1 "));
        r.outcome = "success";
        assert!(f.message(&r).starts_with(b"<85>1 "));
    }

    #[test]
    fn sd_values_are_escaped_and_absent_users_left_out() {
        let mut f = Formatter::default();
        let mut r = row("a.b", "h", None, "t");
        r.os_user = r#"ev"il\]x"#;
        let (_, _, sd, _) = parse(f.message(&r));
        assert!(sd.contains(r#"osuser="ev\"il\\\]x""#), "{sd}");
        assert!(!sd.contains("hsmuser"), "{sd}");
    }

    #[test]
    fn hostnames_and_msgids_outside_the_grammar_become_nil() {
        let mut f = Formatter::default();
        let long = "x".repeat(256);
        for (host, want) in [
            ("db 01", "-"),
            ("", "-"),
            ("hôte", "-"),
            (long.as_str(), "-"),
            ("h", "h"),
        ] {
            let r = row("a.b", host, None, "t");
            let (_, header, sd, _) = parse(f.message(&r));
            assert_eq!(header[2], want, "{host}");
            assert_eq!(sd.contains(" host=\""), want == "-", "{sd}");
        }
        assert_eq!(msgid("hsm.login"), "hsm.login");
        assert_eq!(msgid(&"a".repeat(40)), "a".repeat(32));
        assert_eq!(msgid("bad action"), "-");
        assert_eq!(msgid(""), "-");
    }

    #[test]
    fn one_entry_is_one_line_and_one_frame() {
        let mut f = Formatter::default();
        let r = row("a.b", "h", None, "line1\nline2\r\u{1b}[31m");
        let mut framed = Vec::new();
        f.frame(&r, &mut framed).unwrap();
        let (len, msg) = std::str::from_utf8(&framed)
            .unwrap()
            .split_once(' ')
            .unwrap();
        assert_eq!(len.parse::<usize>().unwrap(), msg.len());
        assert!(
            !msg.contains('\n') && !msg.contains('\r') && !msg.contains('\u{1b}'),
            "{msg}"
        );
        assert!(msg.contains("line1\\nline2\\r"), "{msg}");
    }

    #[test]
    fn journal_fields_use_the_native_protocol() {
        let mut f = Formatter::default();
        let r = row("hsm.login", "h", Some("cu"), "t");
        let mut out = Vec::new();
        f.journal_fields(&r, &mut out);
        let s = String::from_utf8(out.clone()).unwrap();
        for want in [
            "PRIORITY=4\n",
            "SYSLOG_IDENTIFIER=tdekey\n",
            "TDEKEY_SEQ=42\n",
            "TDEKEY_HSMUSER=cu\n",
            "TDEKEY_OUTCOME=failure\n",
        ] {
            assert!(s.contains(want), "{want} in {s}");
        }
        assert!(s.contains(&format!("TDEKEY_HASH={}\n", "01".repeat(32))));
        let mut multi = Vec::new();
        field(&mut multi, "X", "a\nb");
        assert_eq!(multi, b"X\n\x03\0\0\0\0\0\0\0a\nb\n");
    }
}
