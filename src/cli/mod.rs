//! The command line, on the same library code as the GUI. Errors print one sentence to stderr
//! and exit 1; usage errors exit 2.

mod audit_cmd;
mod db_run;
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
    /// Database profiles: how tdekey reaches each Oracle database (no passwords are stored).
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
    /// Oracle wallets (ewallet.p12) and WALLET_ROOT.
    Wallet {
        #[command(subcommand)]
        command: WalletCommand,
    },
    /// Oracle: read what Oracle printed.
    Oracle {
        #[command(subcommand)]
        command: OracleCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum DbCommand {
    /// Add a database profile, or replace the one with the same name.
    Add {
        name: String,
        /// manual (you run the statements), sqlplus (tdekey runs sqlplus), rehearsal (simulated).
        #[arg(long, value_enum)]
        connector: ConnectorArg,
        #[arg(long, value_name = "DIR")]
        oracle_home: Option<String>,
        #[arg(long, value_name = "SID", conflicts_with = "connect")]
        sid: Option<String>,
        /// A connect string (EZConnect or a TNS alias) instead of ORACLE_SID.
        #[arg(long, value_name = "STRING")]
        connect: Option<String>,
        /// Connect as this user (its password is asked when needed); default: / AS SYSKM.
        #[arg(long, value_name = "NAME")]
        db_user: Option<String>,
        #[arg(long, value_name = "DIR")]
        wallet_root: Option<String>,
        #[arg(long, value_enum, default_value = "non-cdb")]
        multitenant: MultitenantArg,
        #[arg(long)]
        rac: bool,
        /// The HSM connection profile the keystore uses.
        #[arg(long, value_name = "NAME")]
        hsm_profile: Option<String>,
    },
    /// List the database profiles.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one database profile.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove a database profile (nothing in the database or on the HSM changes).
    Remove { name: String },
    /// Run a read-only query through the profile's connector (Rehearsal: on its HSM token;
    /// SQL*Plus: password from $TDEKEY_DB_PASSWORD or a prompt; Manual: paste on stdin).
    /// Exits 3 when Oracle answers with an error.
    Query {
        name: String,
        #[arg(value_enum)]
        what: db_run::QueryArg,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: TargetArgs,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ConnectorArg {
    Manual,
    Sqlplus,
    Rehearsal,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum MultitenantArg {
    NonCdb,
    CdbUnited,
    CdbIsolated,
}

#[derive(Subcommand, Debug)]
pub enum WalletCommand {
    /// The keystore files of a WALLET_ROOT (owners, modes, warnings) and, with the wallet
    /// password, the TDE master key entries of ewallet.p12 (never their values).
    Inspect {
        /// The WALLET_ROOT directory (the wallet is WALLET_ROOT/tde/ewallet.p12).
        #[arg(
            long,
            value_name = "DIR",
            required_unless_present = "file",
            conflicts_with = "file"
        )]
        wallet_root: Option<PathBuf>,
        /// A wallet file instead of a WALLET_ROOT.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// Read the wallet password from the first line of FILE (else $TDEKEY_WALLET_PASSWORD,
        /// else a prompt).
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
        /// Report the files only; do not ask for the password.
        #[arg(long)]
        files_only: bool,
        #[arg(long)]
        json: bool,
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

impl From<PinFormatArg> for crate::model::PinFormat {
    fn from(v: PinFormatArg) -> Self {
        match v {
            PinFormatArg::Cloudhsm => crate::model::PinFormat::CloudHsm,
            PinFormatArg::Plain => crate::model::PinFormat::Plain,
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
        Some(Command::Db { command }) => db_cmd(&data, command),
        Some(Command::Wallet {
            command:
                WalletCommand::Inspect {
                    wallet_root,
                    file,
                    password_file,
                    files_only,
                    json,
                },
        }) => wallet_inspect(
            &data,
            wallet_root.as_deref(),
            file.as_deref(),
            password_file.as_deref(),
            files_only,
            json,
        ),
    };
    match result {
        Ok(code) => code,
        Err(CliError(msg)) => {
            eprintln!("tdekey: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn db_cmd(data: &DataDir, cmd: DbCommand) -> Result<ExitCode, CliError> {
    use crate::model::{ConnectorKind, DatabaseProfile, DbAuth, Multitenant};
    let mut auditor = hsm_cmd::auditor(data)?;
    let describe = |d: &DatabaseProfile| -> String {
        format!(
            "{}\n  connector     {}{}\n  ORACLE_HOME   {}\n  SID/connect   {}\n  connect as    {}\n  WALLET_ROOT   {}\n  multitenant   {}\n  RAC           {}\n  HSM profile   {}",
            d.name,
            d.connector.as_str(),
            if d.connector == ConnectorKind::Rehearsal {
                " (Rehearsal: simulated, not a real database)"
            } else {
                ""
            },
            d.oracle_home.as_deref().unwrap_or("—"),
            d.oracle_sid
                .as_deref()
                .or(d.connect_string.as_deref())
                .unwrap_or("—"),
            match &d.auth {
                DbAuth::Os => "/ AS SYSKM".to_owned(),
                DbAuth::User(u) => format!("{u} (password asked when needed)"),
            },
            d.wallet_root.as_deref().unwrap_or("—"),
            d.multitenant.as_str(),
            if d.rac { "yes" } else { "no" },
            d.hsm_profile.as_deref().unwrap_or("—"),
        )
    };
    match cmd {
        DbCommand::Add {
            name,
            connector,
            oracle_home,
            sid,
            connect,
            db_user,
            wallet_root,
            multitenant,
            rac,
            hsm_profile,
        } => {
            if name.trim().is_empty() {
                return Err(CliError("Give the database profile a name.".into()));
            }
            let d = DatabaseProfile {
                id: None,
                name: name.trim().to_owned(),
                connector: match connector {
                    ConnectorArg::Manual => ConnectorKind::Manual,
                    ConnectorArg::Sqlplus => ConnectorKind::Sqlplus,
                    ConnectorArg::Rehearsal => ConnectorKind::Rehearsal,
                },
                oracle_home,
                oracle_sid: sid,
                connect_string: connect,
                auth: db_user.map_or(DbAuth::Os, DbAuth::User),
                wallet_root,
                multitenant: match multitenant {
                    MultitenantArg::NonCdb => Multitenant::NonCdb,
                    MultitenantArg::CdbUnited => Multitenant::CdbUnited,
                    MultitenantArg::CdbIsolated => Multitenant::CdbIsolated,
                },
                rac,
                hsm_profile,
            };
            crate::engine::save_database(&mut auditor, &d).map_err(CliError)?;
            println!("Saved the database profile {:?}.", d.name);
        }
        DbCommand::List { json } => {
            let all = auditor.store().databases()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else if all.is_empty() {
                println!(
                    "No database profiles yet: add one with `tdekey db add NAME --connector …`."
                );
            } else {
                for d in &all {
                    println!(
                        "{:<24} {:<10} {:<12} {}",
                        d.name,
                        d.connector.as_str(),
                        d.multitenant.as_str(),
                        d.oracle_sid
                            .as_deref()
                            .or(d.connect_string.as_deref())
                            .unwrap_or("")
                    );
                }
            }
        }
        DbCommand::Show { name, json } => {
            let d = auditor.store().database(&name)?.ok_or_else(|| {
                CliError(format!(
                    "No database profile is named {name:?} (see `tdekey db list`)."
                ))
            })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&d)?);
            } else {
                println!("{}", describe(&d));
            }
        }
        DbCommand::Query {
            name,
            what,
            json,
            target,
        } => return db_run::query(data, &name, what, json, &target),
        DbCommand::Remove { name } => {
            crate::engine::remove_database(&mut auditor, &name)
                .map_err(|e| CliError(format!("{e} (see `tdekey db list`)")))?;
            println!(
                "Removed the database profile {name:?}. Nothing in the database or on the HSM changed."
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn wallet_inspect(
    data: &DataDir,
    root: Option<&std::path::Path>,
    file: Option<&std::path::Path>,
    password_file: Option<&std::path::Path>,
    files_only: bool,
    json_out: bool,
) -> Result<ExitCode, CliError> {
    use crate::wallet::{EntryKind, inspect_root};
    let report = root.map(inspect_root);
    let wallet = match (file, root) {
        (Some(f), _) => Some(f.to_path_buf()),
        (None, Some(r)) => Some(r.join("tde").join("ewallet.p12")).filter(|p| p.is_file()),
        (None, None) => None,
    };
    let mut contents = None;
    let mut note = None;
    if let Some(w) = wallet.filter(|_| !files_only) {
        let password = if let Some(v) = std::env::var_os("TDEKEY_WALLET_PASSWORD") {
            Some(crate::secret::Secret::new(v.to_string_lossy().into_owned()))
        } else if let Some(f) = password_file {
            Some(crate::secret::Secret::from_file(f).map_err(|e| {
                CliError(format!(
                    "Cannot read the password file {}: {e}.",
                    f.display()
                ))
            })?)
        } else {
            rpassword::prompt_password(format!("Password of {} (not echoed): ", w.display()))
                .ok()
                .map(crate::secret::Secret::new)
        };
        match password {
            None => {
                note = Some("Entries not listed: give the wallet password ($TDEKEY_WALLET_PASSWORD, --password-file, or run in a terminal).".to_owned())
            }
            Some(pw) => {
                let mut auditor = hsm_cmd::auditor(data)?;
                contents =
                    Some(crate::engine::inspect_wallet(&mut auditor, &w, pw).map_err(CliError)?);
            }
        }
    }
    if json_out {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "wallet_root": report,
                "wallet": contents,
                "note": note,
            }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(r) = &report {
        println!("WALLET_ROOT {}", r.root);
        for f in &r.files {
            match (&f.mode, &f.owner) {
                (Some(m), Some(o)) => println!(
                    "  {}  {m} {o}  {}",
                    f.path,
                    f.size
                        .map(|s| format!("{s} bytes"))
                        .unwrap_or_else(|| "directory".into())
                ),
                _ => println!("  {}  (absent)", f.path),
            }
        }
        for b in &r.backups {
            println!("  backup: {b}");
        }
        for k in &r.pdb_keystores {
            println!("  isolated PDB keystore {}:", k.guid);
            for f in &k.files {
                match &f.mode {
                    Some(m) => {
                        println!("    {}  {m} {}", f.path, f.owner.as_deref().unwrap_or("?"))
                    }
                    None => println!("    {}  (absent)", f.path),
                }
            }
            for b in &k.backups {
                println!("    backup: {b}");
            }
        }
        for w in &r.warnings {
            println!("  ! {w}");
        }
    }
    if let Some(c) = &contents {
        println!(
            "Wallet: {}; MAC {} ({} iterations)",
            c.encryption, c.mac, c.iterations
        );
        for e in &c.entries {
            let what = match e.kind {
                EntryKind::MasterKey if e.current => "master key (current)",
                EntryKind::MasterKey => "master key",
                EntryKind::CurrentKeyPointer => "names the current key",
                EntryKind::KeyMetadata => "key metadata",
                EntryKind::Identity => "identity",
                EntryKind::KeyBag => "key bag",
                EntryKind::Tablespace => "tablespace key",
                EntryKind::Other => "other",
            };
            println!("  {:<24} {}", what, e.name);
            if let (EntryKind::CurrentKeyPointer, Some(k)) = (e.kind, &e.key_id) {
                println!("  {:<24} -> {k}", "");
            }
        }
        println!("(Key values are never shown.)");
    }
    if let Some(n) = note {
        println!("{n}");
    }
    Ok(ExitCode::SUCCESS)
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
