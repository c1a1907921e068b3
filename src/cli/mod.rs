//! The command line, on the same library code as the GUI. Errors print one sentence to stderr
//! and exit 1; usage errors exit 2.

mod audit_cmd;
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
    /// Oracle: read what Oracle printed.
    Oracle {
        #[command(subcommand)]
        command: OracleCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum OracleCommand {
    /// Read pasted Oracle output (standard input without FILE) and print what tdekey understood, as JSON.
    Parse {
        #[arg(value_enum)]
        what: ParseWhat,
        /// The text to read; standard input when absent.
        file: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ParseWhat {
    /// SELECT * FROM V$ENCRYPTION_WALLET
    Wallet,
    /// SELECT * FROM V$ENCRYPTION_KEYS
    Keys,
    /// SHOW PARAMETER …
    Parameter,
    /// An ORA- error
    Error,
    /// A sqlnet.ora file
    Sqlnet,
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
    /// List entries, newest first.
    List {
        #[command(flatten)]
        filter: FilterArgs,
        /// At most this many entries.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Export entries (oldest first) to CSV or JSON Lines, with a manifest beside the file.
    Export {
        #[arg(long, value_enum)]
        format: FormatArg,
        /// The export file; FILE.manifest.json is written beside it.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        #[command(flatten)]
        filter: FilterArgs,
        /// Encrypt for transport (Argon2id + AES-256-GCM). The passphrase comes from
        /// $TDEKEY_EXPORT_PASSPHRASE, --passphrase-file, or a prompt.
        #[arg(long)]
        encrypt: bool,
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
        /// After the export, log in to the HSM and write a checkpoint of the chain head.
        #[arg(long)]
        checkpoint: bool,
        #[command(flatten)]
        target: TargetArgs,
        #[command(flatten)]
        login: LoginArgs,
    },
    /// Decrypt an encrypted export.
    Decrypt {
        #[arg(long = "in", value_name = "FILE")]
        input: PathBuf,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FormatArg {
    Csv,
    Jsonl,
}

/// Which audit entries: every flag narrows the selection.
#[derive(Args, Debug, Default)]
pub struct FilterArgs {
    /// From this time (RFC 3339, or a date YYYY-MM-DD meaning its start, UTC).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Before this time (same forms).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Action name, or a prefix ending in '.' (hsm.).
    #[arg(long)]
    pub action: Option<String>,
    /// Who acted: OS user or HSM user.
    #[arg(long, value_name = "NAME")]
    pub actor: Option<String>,
    /// started, success, failure or cancelled.
    #[arg(long)]
    pub outcome: Option<String>,
    /// Text in the target or the details (case-insensitive).
    #[arg(long)]
    pub text: Option<String>,
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
        Some(Command::Audit { command }) => audit_cmd::run(&data, command),
        Some(Command::Oracle {
            command: OracleCommand::Parse { what, file },
        }) => oracle_parse(what, file.as_deref()),
    };
    match result {
        Ok(code) => code,
        Err(CliError(msg)) => {
            eprintln!("tdekey: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn oracle_parse(what: ParseWhat, file: Option<&std::path::Path>) -> Result<ExitCode, CliError> {
    use crate::tde::{output, sqlnet};
    use std::io::Read;
    let (source, text) = match file {
        Some(f) => (
            f.display().to_string(),
            std::fs::read(f).map_err(|e| CliError(format!("Cannot read {}: {e}.", f.display())))?,
        ),
        None => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .map_err(|e| CliError(format!("Cannot read standard input: {e}.")))?;
            ("standard input".to_owned(), buf)
        }
    };
    let text = String::from_utf8_lossy(&text);
    let fail = |e: &dyn std::fmt::Display| CliError(format!("{source}: {e}"));
    let json = match what {
        ParseWhat::Wallet => serde_json::to_value(
            output::parse_view(&text, output::View::EncryptionWallet).map_err(|e| fail(&e))?,
        ),
        ParseWhat::Keys => serde_json::to_value(
            output::parse_view(&text, output::View::EncryptionKeys).map_err(|e| fail(&e))?,
        ),
        ParseWhat::Parameter => {
            serde_json::to_value(output::parse_parameters(&text).map_err(|e| fail(&e))?)
        }
        ParseWhat::Error => serde_json::to_value(output::parse_error(&text).map_err(|e| fail(&e))?),
        ParseWhat::Sqlnet => {
            serde_json::to_value(sqlnet::parse_sqlnet(&text).map_err(|e| fail(&e))?)
        }
    }?;
    println!("{}", serde_json::to_string_pretty(&json)?);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_command_line_is_well_formed() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
