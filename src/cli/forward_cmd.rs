//! `tdekey audit forward`: to a SIEM once (`--once`) or following the log until SIGTERM/SIGINT.

use super::hsm_cmd::auditor;
use super::{CliError, ForwardArgs};
use crate::audit::forward::{self, Event, Options, TlsOptions};
use crate::paths::DataDir;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set by SIGTERM or SIGINT: the follower finishes its batch, saves its position, records its
/// stop and exits.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn catch_stop_signals() -> Result<(), CliError> {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: the handler only stores into an atomic, which is async-signal-safe.
        let previous = unsafe { libc::signal(sig, on_signal as *const () as libc::sighandler_t) };
        if previous == libc::SIG_ERR {
            return Err(CliError(
                "Cannot catch SIGTERM and SIGINT, so a stop could not be recorded: nothing was forwarded.".into(),
            ));
        }
    }
    Ok(())
}

pub(super) fn run(data: &DataDir, args: &ForwardArgs) -> Result<ExitCode, CliError> {
    if args.status {
        return status(data);
    }
    let url = args.to.as_deref().unwrap_or_default();
    let opts = Options::new(
        url,
        TlsOptions {
            ca: args.ca.clone(),
            cert: args.cert.clone(),
            key: args.key.clone(),
        },
        Some(args.batch),
    )?;
    let key = opts.destination.key();
    let mut a = auditor(data)?;
    if args.once {
        let before = a.store().forward_position(&key)?;
        let sent = forward::forward_once(&mut a, &opts)?;
        if sent.entries == 0 {
            println!("Nothing new for {key}: it has every entry up to seq {before}.");
        } else {
            println!(
                "Forwarded {} entries (seq {}..{}) to {key}; it has every entry up to seq {}.",
                sent.entries,
                sent.first_seq.unwrap_or(before + 1),
                sent.position,
                sent.position
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    catch_stop_signals()?;
    println!("Following the audit log to {key} (SIGTERM or Ctrl-C stops).");
    let sent = forward::follow(&mut a, &opts, &STOP, &mut |e| match e {
        Event::Connected => println!("Connected to {key}."),
        Event::Sent(s) => println!(
            "{key} has every entry up to seq {} ({} sent since the start).",
            s.position, s.entries
        ),
        Event::Failed { error, retry_in } => {
            eprintln!("tdekey: {error} Trying again in {} s.", retry_in.as_secs());
        }
    })?;
    println!(
        "Stopped: {} entries sent to {key}; it has every entry up to seq {}.",
        sent.entries, sent.position
    );
    Ok(ExitCode::SUCCESS)
}

fn status(data: &DataDir) -> Result<ExitCode, CliError> {
    let a = auditor(data)?;
    let s = forward::status(a.store())?;
    if s.destinations.is_empty() {
        println!("No destination yet (head: seq {}).", s.head);
    }
    for d in &s.destinations {
        println!(
            "{}  seq {} of {} ({} behind), last acknowledged {}",
            d.destination,
            d.seq,
            s.head,
            (s.head - d.seq).max(0),
            crate::audit::export::utc(d.updated_ms)
        );
    }
    Ok(ExitCode::SUCCESS)
}
