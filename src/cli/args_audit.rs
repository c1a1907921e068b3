//! `tdekey audit forward …`, part of [`super::args`].

use clap::Args;
use std::path::PathBuf;

/// Forward the audit log to a SIEM: RFC 5424 syslog over TCP or TLS, or journald.
#[derive(Args, Debug)]
pub struct ForwardArgs {
    /// Where: syslog+tcp://HOST:PORT (octet-counted RFC 5424, RFC 6587), syslog+tls://HOST:PORT
    /// (RFC 5425) or journald.
    #[arg(long, value_name = "URL", required_unless_present = "status")]
    pub to: Option<String>,
    /// Forward what the destination lacks, then stop (exit 1 when it cannot be reached).
    /// Without it, tdekey follows the log and forwards new entries as they are written, retrying
    /// a failing destination with a backoff, until SIGTERM or Ctrl-C.
    #[arg(long)]
    pub once: bool,
    /// Print each destination and how far it has been sent (seq acknowledged vs the head).
    #[arg(long, conflicts_with_all = ["to", "once"])]
    pub status: bool,
    /// The CA certificate(s) (PEM) that signed the SIEM's certificate; only they are trusted.
    /// Default: the system's CA store.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// A client certificate (PEM) for a SIEM that authenticates its senders.
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// The client certificate's private key (PKCS#8 PEM).
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Entries per acknowledged batch: the position is saved after each, so at most this many
    /// are sent again after a crash or an outage.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub batch: usize,
}
