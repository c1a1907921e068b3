//! The command line's grammar (clap).

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

pub use super::args_audit::ForwardArgs;
pub use super::args_migrate::{MigrateCommand, ReportFormat, StepArgs};
pub use super::args_store::StoreCommand;

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

    /// A team's shared store on PostgreSQL, postgresql://USER@HOST:PORT/DB?sslmode=verify-full (no password in it). Default: the data directory's SQLite file.
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "TDEKEY_STORE",
        hide_env_values = true
    )]
    pub store: Option<String>,

    /// A file (mode 0600) whose first line is the store's PostgreSQL password. Else PGPASSWORD, else PGPASSFILE or ~/.pgpass.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        env = "TDEKEY_STORE_PASSWORD_FILE"
    )]
    pub store_password_file: Option<PathBuf>,

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
    /// The migration wizard: a database's TDE master key from its file wallet to the HSM.
    Migrate {
        #[command(subcommand)]
        command: MigrateCommand,
    },
    /// TDE master keys on the HSM.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Rotate a database's master key now, or (--due) every database whose policy is due.
    /// Exits 0 when every rotation was verified, 1 when one failed (it stays due), 3 when
    /// Oracle refused a statement.
    Rotate(RotateArgs),
    /// Rotation policies per database: when each master key is rotated, and how.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Can everything still be decrypted? Every master key the database's data and backups
    /// need (V$ENCRYPTION_KEYS, V$DATABASE_KEY_INFO, V$ENCRYPTED_TABLESPACES, tdekey's
    /// migrations and rotations) and where each is found: on the HSM by its label, in the file
    /// keystore, in Oracle's keystore backups, in tdekey's wallet backups. Exits 0 when every
    /// key is found, 4 when one something depends on is found nowhere, 1 when a source a
    /// complete answer needs could not be read.
    Recoverability(super::RecoverabilityArgs),
    /// The store: this computer's SQLite file, or a team's PostgreSQL database (--store).
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
    /// Write the manual pages (tdekey.1 and one per subcommand) and the shell completions
    /// (bash, zsh, fish) generated from this command line's definition, for packaging.
    #[command(hide = true)]
    GenerateDocs {
        /// The directory to write man/ and completions/ into.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Generate a TDE master key on the HSM (AES-256, sensitive, never extractable, labelled
    /// ORACLE.TDE.HSM.MK.06<id> with the id from the HSM's random generator), read it back and
    /// check it; prints the USE KEY statement and, when needed, the cloudhsm-cli share command.
    Generate {
        /// The tag the USE KEY statement gives the key.
        #[arg(long, value_name = "TAG")]
        tag: Option<String>,
        /// Oracle's crypto user, who must be able to use the key (default: the logged-in
        /// user). When it differs, the cloudhsm-cli key share command is printed.
        #[arg(long, value_name = "USER")]
        oracle_user: Option<String>,
        /// The database the key is for (recorded in the audit log).
        #[arg(long, value_name = "NAME")]
        database: Option<String>,
        /// Print JSON instead of text (a stable format: fields are only ever added).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: TargetArgs,
        #[command(flatten)]
        login: LoginArgs,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum WayArg {
    /// tdekey generates the key on the HSM, then USE KEY.
    Hsm,
    /// Oracle generates it (SET KEY); tdekey finds the new label on the token.
    Oracle,
}

impl From<WayArg> for crate::rotation::Way {
    fn from(v: WayArg) -> Self {
        match v {
            WayArg::Hsm => crate::rotation::Way::Hsm,
            WayArg::Oracle => crate::rotation::Way::Oracle,
        }
    }
}

#[derive(Args, Debug)]
pub struct RotateArgs {
    /// The database profile to rotate now.
    #[arg(required_unless_present = "due", conflicts_with = "due")]
    pub name: Option<String>,
    /// Rotate every database whose policy is due (for a systemd timer). Secrets come from
    /// $CREDENTIALS_DIRECTORY (systemd) or --credentials DIR: files hsm-pin[.<HSM profile>]
    /// and db-password[.<database>], mode 0600 or 0400.
    #[arg(long)]
    pub due: bool,
    /// Say what would be rotated and what stands in the way, changing nothing: logs in,
    /// proves key generation with a session key, reads each database's keystore and keys.
    #[arg(long)]
    pub dry_run: bool,
    /// With --due: the credentials directory when not run by systemd.
    #[arg(long, value_name = "DIR", requires = "due")]
    pub credentials: Option<PathBuf>,
    /// hsm (tdekey generates the key, then USE KEY) or oracle (SET KEY). Default: the
    /// policy's, else hsm for a non-CDB and oracle for a CDB.
    #[arg(long, value_enum, conflicts_with = "due")]
    pub way: Option<WayArg>,
    /// The tag Oracle records with the new key.
    #[arg(long, value_name = "TAG", conflicts_with = "due")]
    pub tag: Option<String>,
    /// Way hsm: activate this key generated beforehand (`tdekey key generate`), by its label,
    /// instead of generating one; it must be healthy, on the token once and claimed by no
    /// database.
    #[arg(long, value_name = "LABEL", conflicts_with = "due")]
    pub key: Option<String>,
    /// Rotate now because the key may be compromised: the reason (at least a sentence) is
    /// recorded with the run and in the audit log.
    #[arg(long, value_name = "REASON", conflicts_with = "due")]
    pub compromise: Option<String>,
    /// Print JSON instead of text (a stable format: fields are only ever added).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub login: LoginArgs,
}

#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// Set (or change) a database's policy.
    Set {
        /// The database profile.
        name: String,
        /// Every 90d, 180d, 1y, 6m, 2w… (days, weeks, months, years).
        #[arg(
            long,
            value_name = "INTERVAL",
            required_unless_present = "cron",
            conflicts_with = "cron"
        )]
        every: Option<String>,
        /// A cron expression (minute hour day-of-month month day-of-week, local time), e.g.
        /// "0 2 1 */3 *".
        #[arg(long, value_name = "EXPR")]
        cron: Option<String>,
        /// The first due date (YYYY-MM-DD, or YYYY-MM-DD HH:MM, local time), to line rotations
        /// up with a maintenance window. A date in the past makes the database due now.
        /// Default: the policy's date when its schedule does not change, else one period
        /// after the current key was made.
        #[arg(long, value_name = "DATE")]
        next_due: Option<String>,
        /// hsm or oracle. Default: the policy's way, else hsm for a non-CDB and oracle for a CDB.
        #[arg(long, value_enum)]
        way: Option<WayArg>,
    },
    /// A database's policy, its current key, its last runs.
    Show {
        /// The database profile.
        name: String,
        /// Print JSON instead of text (a stable format: fields are only ever added).
        #[arg(long)]
        json: bool,
    },
    /// Every database: policy, current key, next due date, status.
    List {
        /// Print JSON instead of text (a stable format: fields are only ever added).
        #[arg(long)]
        json: bool,
    },
    /// Remove a database's policy (its keys and runs stay).
    Remove { name: String },
}

#[derive(Subcommand, Debug)]
pub enum DbCommand {
    /// Add a database profile, or replace the one with the same name.
    Add {
        /// The profile's name, as the other commands and the window show it.
        name: String,
        /// manual (you run the statements), sqlplus (tdekey runs sqlplus), rehearsal (simulated).
        #[arg(long, value_enum)]
        connector: ConnectorArg,
        /// ORACLE_HOME on this host (SQL*Plus connector).
        #[arg(long, value_name = "DIR")]
        oracle_home: Option<String>,
        /// ORACLE_SID (SQL*Plus connector, local bequeath connection).
        #[arg(long, value_name = "SID", conflicts_with = "connect")]
        sid: Option<String>,
        /// A connect string (EZConnect or a TNS alias) instead of ORACLE_SID.
        #[arg(long, value_name = "STRING")]
        connect: Option<String>,
        /// Connect as this user (its password is asked when needed); default: OS authentication (/).
        #[arg(long, value_name = "NAME")]
        db_user: Option<String>,
        /// The administrative privilege of the connection: sysdba (every step), syskm (ADMINISTER
        /// KEY MANAGEMENT and the encryption views only: not ALTER SYSTEM nor SHOW PARAMETER), or
        /// normal (a named user with the privileges granted to it). Step 1 reads the session's
        /// privileges and says which steps it could not run.
        #[arg(long, value_enum, default_value = "sysdba")]
        connect_as: ConnectAsArg,
        /// The database's WALLET_ROOT parameter (where its keystore files are).
        #[arg(long, value_name = "DIR")]
        wallet_root: Option<String>,
        /// non-cdb, cdb-united (one keystore for the CDB and its PDBs) or cdb-isolated (PDBs with their own).
        #[arg(long, value_enum, default_value = "non-cdb")]
        multitenant: MultitenantArg,
        /// A RAC database (every instance must see the same wallet and HSM client).
        #[arg(long)]
        rac: bool,
        /// A RAC node, as `hostname` prints it there (repeat for each node; implies --rac). The
        /// migration wizard checks the HSM client, Oracle's PKCS#11 library and the wallet
        /// files on each one.
        #[arg(long = "rac-node", value_name = "HOST")]
        rac_nodes: Vec<String>,
        /// A Data Guard standby: its DB_UNIQUE_NAME and the host it runs on (repeat for each;
        /// a RAC standby once per host). The wizard checks each host as it checks the primary's
        /// and says what each standby needs before the migration.
        #[arg(long = "standby", value_name = "NAME@HOST")]
        standbys: Vec<String>,
        /// The HSM connection profile the keystore uses.
        #[arg(long, value_name = "NAME")]
        hsm_profile: Option<String>,
        /// Rehearsal only: set its simulated database up on another vendor's HSM (the
        /// migration wizard's path B): a password file keystore under WALLET_ROOT/tde with an
        /// older key, TDE_CONFIGURATION=HSM, the master key on that HSM (simulated). The
        /// wallet password comes from $TDEKEY_WALLET_PASSWORD, else a prompt.
        #[arg(long, requires = "old_hsm_user", conflicts_with = "with_file_wallet")]
        start_on_other_hsm: bool,
        /// Rehearsal only: set its simulated database up as the demo's is, a password file
        /// keystore with one master key under WALLET_ROOT/tde, ready to migrate. The wallet
        /// password comes from $TDEKEY_WALLET_PASSWORD, else a prompt.
        #[arg(long)]
        with_file_wallet: bool,
        /// With --start-on-other-hsm: the other HSM's user, whose password comes from
        /// $TDEKEY_OLD_HSM_PASSWORD, else a prompt (kept only as a verifier).
        #[arg(long, value_name = "USER", requires = "start_on_other_hsm")]
        old_hsm_user: Option<String>,
    },
    /// List the database profiles.
    List {
        /// Print JSON instead of text (a stable format: fields are only ever added).
        #[arg(long)]
        json: bool,
    },
    /// Show one database profile.
    Show {
        /// The database profile.
        name: String,
        /// Print JSON instead of text (a stable format: fields are only ever added).
        #[arg(long)]
        json: bool,
    },
    /// Remove a database profile (nothing in the database or on the HSM changes).
    Remove { name: String },
    /// Run a read-only query through the profile's connector (Rehearsal: on its HSM token;
    /// SQL*Plus: password from $TDEKEY_DB_PASSWORD or a prompt; Manual: paste on stdin).
    /// Exits 3 when Oracle answers with an error.
    Query {
        /// The database profile.
        name: String,
        /// What to ask: wallet (V$ENCRYPTION_WALLET), keys (V$ENCRYPTION_KEYS), wallet-root or tde-configuration (the parameters).
        #[arg(value_enum)]
        what: super::db_cmd::QueryArg,
        /// Print JSON instead of text (a stable format: fields are only ever added).
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
pub enum ConnectAsArg {
    Sysdba,
    Syskm,
    Normal,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum MultitenantArg {
    NonCdb,
    CdbUnited,
    CdbIsolated,
}

#[derive(Subcommand, Debug)]
pub enum WalletCommand {
    /// The keystore files of a WALLET_ROOT (owners, modes, warnings, each cwallet.sso's kind),
    /// the entries of an auto-login cwallet.sso (no password needed) and, with the wallet
    /// password, those of ewallet.p12: entry names only, never their values.
    Inspect {
        /// The WALLET_ROOT directory (the wallet is WALLET_ROOT/tde/ewallet.p12), or a wallet
        /// directory holding ewallet.p12 itself (the layout before WALLET_ROOT).
        #[arg(
            long,
            value_name = "DIR",
            required_unless_present = "file",
            conflicts_with = "file"
        )]
        wallet_root: Option<PathBuf>,
        /// A wallet file instead of a WALLET_ROOT: ewallet.p12 (needs the password) or
        /// cwallet.sso (opened without one).
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// Read the wallet password from the first line of FILE (else $TDEKEY_WALLET_PASSWORD
        /// when it is not empty, else a prompt).
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
        /// Report the files only (with --file: what the file is, from its first bytes); open
        /// no wallet, ask for no password.
        #[arg(long)]
        files_only: bool,
        /// Print JSON instead of text (a stable format: fields are only ever added).
        #[arg(long)]
        json: bool,
    },
    /// Seal a WALLET_ROOT's keystore files (ewallet.p12, cwallet.sso, Oracle's ewallet_*.p12
    /// backups) into one backup file under a passphrase, then read it back and check it.
    Backup {
        /// The WALLET_ROOT directory.
        #[arg(long, value_name = "DIR")]
        wallet_root: PathBuf,
        /// The backup file to write (default: DATA_DIR/backups/wallet-<UTC time>.tdkb).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Read the passphrase from the first line of FILE (else $TDEKEY_BACKUP_PASSPHRASE,
        /// else a prompt, typed twice).
        #[arg(long, value_name = "FILE", conflicts_with = "unencrypted")]
        passphrase_file: Option<PathBuf>,
        /// Write the backup without a passphrase (the wallet inside stays protected by its own
        /// password; an auto-login cwallet.sso does not).
        #[arg(long)]
        unencrypted: bool,
    },
    /// Open a wallet backup, check every file in it against its SHA-256, and list them.
    CheckBackup {
        /// The backup file.
        #[arg(value_name = "BACKUP")]
        input: PathBuf,
        /// Read the passphrase from the first line of FILE (else $TDEKEY_BACKUP_PASSPHRASE,
        /// else a prompt).
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
        /// Print JSON instead of text (a stable format: fields are only ever added).
        #[arg(long)]
        json: bool,
    },
    /// Write a wallet backup's files back where they were, with their modes, after checking
    /// each. Files already there with the same bytes are left alone.
    Restore {
        /// The backup file.
        #[arg(value_name = "BACKUP")]
        input: PathBuf,
        /// Read the passphrase from the first line of FILE (else $TDEKEY_BACKUP_PASSPHRASE,
        /// else a prompt).
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
        /// The WALLET_ROOT to restore into: the backup's files are written under it, by the
        /// relative names the backup records (tde/ewallet.p12, …), and nowhere else.
        #[arg(long, value_name = "DIR")]
        wallet_root: PathBuf,
        /// Overwrite files that exist with other contents (Oracle must not have the keystore
        /// open: close it or stop the database first).
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum OracleCommand {
    /// Read pasted Oracle output (standard input without FILE) and print what tdekey understood, as JSON.
    Parse {
        /// What the text is: wallet, keys, parameter, error or sqlnet.
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
        /// Print JSON instead of text (a stable format: fields are only ever added).
        #[arg(long)]
        json: bool,
    },
    /// Library information, slots, tokens and the mechanisms tdekey needs.
    Info {
        #[command(flatten)]
        target: TargetArgs,
        /// Also log in and prove that the token generates an AES-256 key and computes the
        /// checkpoint HMAC (with session keys, destroyed at once): a mechanism list is no proof.
        #[arg(long)]
        probe: bool,
        #[command(flatten)]
        login: LoginArgs,
        /// Print JSON instead of text (a stable format: fields are only ever added).
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
    /// HSM connection profiles: module, token, crypto user, PIN format (never a password).
    Profile {
        #[command(subcommand)]
        command: ProfileCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum ProfileCommand {
    /// Save a profile (a new one, or the one with this name).
    Add {
        /// The profile's name.
        name: String,
        /// PKCS#11 library (.so), e.g. /opt/cloudhsm/lib/libcloudhsm_pkcs11.so.
        #[arg(long, value_name = "PATH")]
        module: PathBuf,
        /// Token label.
        #[arg(long, value_name = "LABEL", conflicts_with = "slot")]
        token: Option<String>,
        /// Slot id.
        #[arg(long, value_name = "ID")]
        slot: Option<u64>,
        /// Oracle's crypto user on the HSM.
        #[arg(long, value_name = "NAME")]
        user: String,
        /// cloudhsm (the PIN is user:password) or plain. Default: from the module path.
        #[arg(long, value_enum, value_name = "FORMAT")]
        pin_format: Option<PinFormatArg>,
        /// Make it the default profile (the window opens it; commands use it without --profile).
        #[arg(long)]
        default: bool,
    },
    /// List the profiles.
    List {
        /// Print JSON instead of text (a stable format: fields are only ever added).
        #[arg(long)]
        json: bool,
    },
    /// Remove a profile (database profiles that name it keep their other settings).
    Remove { name: String },
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
        /// Print JSON instead of text (a stable format: fields are only ever added).
        #[arg(long)]
        json: bool,
    },
    /// Export entries (oldest first) to CSV or JSON Lines, with a manifest beside the file.
    Export {
        /// csv or jsonl (one JSON object per line).
        #[arg(long, value_enum)]
        format: FormatArg,
        /// The export file; FILE.manifest.json is written beside it.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Replace FILE (and its manifest) when they exist already (a regular file only: a
        /// link, device or FIFO is always refused).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        filter: FilterArgs,
        /// Encrypt for transport (Argon2id + AES-256-GCM). The passphrase comes from
        /// $TDEKEY_EXPORT_PASSPHRASE, --passphrase-file, or a prompt.
        #[arg(long)]
        encrypt: bool,
        /// The passphrase from the first line of FILE (else $TDEKEY_EXPORT_PASSPHRASE, else a prompt, asked twice).
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
    /// Forward the log to a SIEM (syslog over TCP or TLS, or journald), at least once, in
    /// order, resuming where the destination stopped.
    Forward(ForwardArgs),
    /// Decrypt an encrypted export.
    Decrypt {
        /// The encrypted export.
        #[arg(long = "in", value_name = "FILE")]
        input: PathBuf,
        /// Where to write the decrypted export.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Replace FILE when it exists already (a regular file only).
        #[arg(long)]
        force: bool,
        /// The passphrase from the first line of FILE (else $TDEKEY_EXPORT_PASSPHRASE, else a prompt).
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
