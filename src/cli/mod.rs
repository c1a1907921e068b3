//! The command line, on the same library code as the GUI. Errors print one sentence to stderr
//! and exit 1; usage errors exit 2.

mod hsm_cmd;

use crate::paths::DataDir;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "tdekey",
    version,
    about = "Oracle TDE master keys in a PKCS#11 HSM: inventory, migration, rotation, audit.",
    long_about = "Without a command, tdekey starts its window (the GUI)."
)]
pub struct Cli {
    /// tdekey's data directory (database, demo token). Default: $TDEKEY_DATA_DIR, else ~/.local/share/tdekey.
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Start the window (the default).
    Gui,
    /// The HSM: modules, tokens, keys.
    Hsm {
        #[command(subcommand)]
        command: HsmCommand,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum HsmCommand {
    /// List the PKCS#11 modules found on this machine.
    Modules {
        #[arg(long)]
        json: bool,
    },
    /// Library information, slots, tokens and the mechanisms tdekey needs.
    Info {
        #[command(flatten)]
        target: TargetArgs,
        #[arg(long)]
        json: bool,
    },
    /// Log in and list every key and data object on the token, with health flags.
    Keys {
        #[command(flatten)]
        target: TargetArgs,
        #[command(flatten)]
        login: LoginArgs,
        /// Print JSON (format documented in the README).
        #[arg(long)]
        json: bool,
    },
    /// Create the demo SoftHSM2 token (label tdekey-demo) in the data directory, with demo PINs.
    DemoToken,
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Recompute the hash chain and check the checkpoints. Exit 0 when intact, 1 when broken.
    Verify {
        /// Also log in to the HSM and recompute every checkpoint's HMAC there.
        #[arg(long)]
        hsm: bool,
        #[command(flatten)]
        target: TargetArgs,
        #[command(flatten)]
        login: LoginArgs,
    },
    /// Anchor the chain head with an HMAC computed in the HSM (creates TDEKEY.AUDIT.HMAC on first use).
    Checkpoint {
        #[command(flatten)]
        target: TargetArgs,
        #[command(flatten)]
        login: LoginArgs,
    },
}

#[derive(Args, Debug, Default)]
pub struct TargetArgs {
    /// PKCS#11 library (.so). Default: the profile's module.
    #[arg(long, value_name = "PATH")]
    pub module: Option<PathBuf>,
    /// Token label.
    #[arg(long, value_name = "LABEL", conflicts_with = "slot")]
    pub token: Option<String>,
    /// Slot id.
    #[arg(long, value_name = "ID")]
    pub slot: Option<u64>,
    /// Connection profile to take defaults from. Default: the default profile.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
}

#[derive(Args, Debug, Default)]
pub struct LoginArgs {
    /// Crypto user name.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// How the PIN is formed: cloudhsm (user:password) or plain.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub pin_format: Option<PinFormatArg>,
    /// Read the password from the first line of FILE (else $TDEKEY_PIN, else a prompt).
    #[arg(long, value_name = "FILE")]
    pub pin_file: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum PinFormatArg {
    Cloudhsm,
    Plain,
}

impl From<PinFormatArg> for crate::hsm::PinFormat {
    fn from(v: PinFormatArg) -> Self {
        match v {
            PinFormatArg::Cloudhsm => crate::hsm::PinFormat::CloudHsm,
            PinFormatArg::Plain => crate::hsm::PinFormat::Plain,
        }
    }
}

/// An error for the user: one sentence, exit code 1.
#[derive(Debug)]
pub struct CliError(pub String);

impl<E: std::fmt::Display> From<E> for CliError {
    fn from(e: E) -> Self {
        CliError(e.to_string())
    }
}

/// Entry point of the `tdekey` binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let data = match DataDir::resolve(cli.data_dir.clone()) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("tdekey: {e}");
            return ExitCode::FAILURE;
        }
    };
    // SoftHSM2 reads SOFTHSM2_CONF at C_Initialize: settle it now, before any thread starts.
    if matches!(
        cli.command,
        Some(Command::Hsm {
            command: HsmCommand::DemoToken
        })
    ) {
        if let Err(e) = hsm_cmd::prepare_demo_conf(&data) {
            eprintln!("tdekey: {}", e.0);
            return ExitCode::FAILURE;
        }
    } else {
        crate::paths::adopt_demo_softhsm_conf(&data);
    }
    let result = match cli.command {
        None | Some(Command::Gui) => crate::ui::run(data).map_err(CliError),
        Some(Command::Hsm { command }) => hsm_cmd::run(&data, command),
        Some(Command::Audit { command }) => audit_cmd(&data, command),
    };
    match result {
        Ok(code) => code,
        Err(CliError(msg)) => {
            eprintln!("tdekey: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn audit_cmd(data: &DataDir, cmd: AuditCommand) -> Result<ExitCode, CliError> {
    use crate::audit::{Action, MacCheck, Outcome, Verification, check_macs, checkpoint, verify};
    match cmd {
        AuditCommand::Checkpoint { target, login } => {
            let mut auditor = hsm_cmd::auditor(data)?;
            let (hsm, _, _, _) = hsm_cmd::open_logged_in(&mut auditor, &target, &login)?;
            let c = checkpoint(&mut auditor, &hsm).map_err(CliError)?;
            println!(
                "Checkpoint {} written: seq {}, head {}, HMAC computed in the HSM with {} on token {:?}.",
                c.id.unwrap_or(0),
                c.seq,
                hex::encode(c.head_hash),
                c.key_label,
                c.token_label
            );
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Verify { hsm, target, login } => {
            let mut auditor = hsm_cmd::auditor(data)?;
            let session = if hsm {
                Some(hsm_cmd::open_logged_in(&mut auditor, &target, &login)?.0)
            } else {
                None
            };
            let result = verify(auditor.store())?;
            let checkpoints = auditor.store().checkpoints()?;
            let macs = match (&result, &session) {
                (Verification::Intact { .. }, Some(h)) => {
                    check_macs(auditor.store(), h).map_err(CliError)?
                }
                _ => MacCheck::NotChecked,
            };
            let last = checkpoints.last().map(|c| {
                format!(
                    "last checkpoint at seq {} ({})",
                    c.seq,
                    chrono::DateTime::from_timestamp_millis(c.created_ms)
                        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
                        .unwrap_or_default()
                )
            });
            let (ok, line) = match (&result, &macs) {
                (Verification::Broken { seq, reason }, _) => {
                    (false, format!("Chain broken at seq {seq}: {reason}."))
                }
                (Verification::Intact { .. }, MacCheck::Mismatch { checkpoint, seq }) => (
                    false,
                    format!(
                        "Checkpoint {checkpoint} (seq {seq}) does not verify in the HSM: the checkpoint or the chain under it was forged."
                    ),
                ),
                (Verification::Intact { entries }, m) => {
                    let cp = match (m, &last) {
                        (_, None) => "no checkpoints yet".to_owned(),
                        (MacCheck::Verified { checkpoints }, Some(l)) => {
                            format!("{checkpoints} checkpoints verified in the HSM, {l}")
                        }
                        (MacCheck::NoKey, Some(l)) => format!(
                            "{l}; the connected token has no audit key, so the checkpoint HMACs were not checked"
                        ),
                        (_, Some(l)) => format!(
                            "{l}; checkpoint HMACs not checked (add --hsm to check them in the HSM)"
                        ),
                    };
                    (true, format!("{entries} entries, chain intact, {cp}."))
                }
            };
            println!("{line}");
            let hsm_user = session.as_ref().and_then(|h| h.user().map(str::to_owned));
            auditor.record(
                Action::AuditVerify,
                "audit_log",
                if ok {
                    Outcome::Success
                } else {
                    Outcome::Failure
                },
                hsm_user.as_deref().filter(|u| !u.is_empty()),
                serde_json::json!({ "intact": ok, "result": line }),
            )?;
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}
