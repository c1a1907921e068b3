//! The arguments of `tdekey recoverability`.

use super::args::{LoginArgs, TargetArgs};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct RecoverabilityArgs {
    /// The database profile.
    pub name: String,
    /// Print JSON instead of text (a stable format: fields are only ever added).
    #[arg(long)]
    pub json: bool,
    /// A tdekey wallet backup to open too (repeat for several); the ones tdekey's migrations
    /// recorded are opened anyway. A sealed one asks for its passphrase.
    #[arg(long = "backup", value_name = "FILE")]
    pub backups: Vec<PathBuf>,
    /// Read this WALLET_ROOT instead of the profile's (a copy of it, a standby's).
    #[arg(long, value_name = "DIR")]
    pub wallet_root: Option<PathBuf>,
    /// The wallet password from the first line of FILE (else $TDEKEY_WALLET_PASSWORD, else a
    /// prompt on a terminal, where Enter alone reads only an auto-login cwallet.sso).
    #[arg(long, value_name = "FILE")]
    pub wallet_password_file: Option<PathBuf>,
    /// The backups' passphrase from the first line of FILE (else $TDEKEY_BACKUP_PASSPHRASE,
    /// else a prompt when a backup given is sealed).
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// Also write the report as an HTML page to FILE (for a change ticket).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Also write the report as JSON to FILE.
    #[arg(long = "json-file", value_name = "FILE")]
    pub json_file: Option<PathBuf>,
    /// Overwrite the report files if they exist.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub login: LoginArgs,
}
