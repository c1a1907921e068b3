//! The migration wizard's command line (`tdekey migrate …`), part of [`super::args`].

use super::args::{LoginArgs, TargetArgs};
use clap::{Args, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum MigrateCommand {
    /// The plan of the database's migration and where each step stands.
    Status {
        /// The database profile.
        name: String,
        /// Print JSON instead of text (a stable format: fields are only ever added).
        #[arg(long)]
        json: bool,
    },
    /// Start a new migration of the database without running a step. After a finished
    /// migration only with --new: the wizard never starts a second migration by itself, and
    /// status, report and rollback keep speaking of the finished one until this is run.
    Start {
        /// The database profile.
        name: String,
        /// Leave the finished migration behind and start a new one (audited, naming it).
        #[arg(long)]
        new: bool,
    },
    /// Run (or check again) the next step; stops where a person must act.
    Next {
        /// The database profile.
        name: String,
        #[command(flatten)]
        step: StepArgs,
    },
    /// Run every step it can, in order, until one waits for a person or fails.
    Run {
        /// The database profile.
        name: String,
        #[command(flatten)]
        step: StepArgs,
    },
    /// Roll the migration back to the file wallet (from step 7 on, or after it finished): the
    /// reverse migration if the master key moved, TDE_CONFIGURATION back, the wallet checked
    /// against the step-6 backup. Stops where a person must act; run it again to go on.
    Rollback {
        /// The database profile.
        name: String,
        /// Why (at least a sentence; audited, and in the report). Needed to start it.
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
        #[command(flatten)]
        step: StepArgs,
    },
    /// Accept the current step's failed checks, with the reason (audited, and in the report).
    Override {
        /// The database profile.
        name: String,
        /// Why the failed checks are acceptable (at least a sentence).
        #[arg(long, value_name = "TEXT")]
        reason: String,
    },
    /// Write the migration report.
    Report {
        /// The database profile.
        name: String,
        /// The report file to write.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Replace FILE when it exists already (a regular file only: a link, device or FIFO
        /// is always refused).
        #[arg(long)]
        force: bool,
        /// html (for people) or json (for tools).
        #[arg(long, value_enum, default_value = "html")]
        format: ReportFormat,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ReportFormat {
    Html,
    Json,
}

/// What a step may be given on the command line.
#[derive(Args, Debug, Default)]
pub struct StepArgs {
    /// Confirm what the current step asks a person to do (a restart, a check on the database
    /// host, a backup made there).
    #[arg(long)]
    pub confirm: bool,
    /// Run only if the current step is still this one (a number of the plan; for a rollback,
    /// R1…R5): nothing runs when another tdekey moved the migration on. Give it with --confirm.
    #[arg(long, value_name = "N")]
    pub step: Option<String>,
    /// Run only if the migration is still this one (its number, as `migrate status` shows it).
    #[arg(long, value_name = "ID", requires = "step")]
    pub migration: Option<i64>,
    /// Rehearsal only: apply the fixes on its simulated host and confirm its restarts, so
    /// that the whole path runs unattended.
    #[arg(long)]
    pub yes: bool,
    /// Back up the wallet without encryption (otherwise a passphrase is asked).
    #[arg(long)]
    pub unencrypted_backup: bool,
    /// Set up HSM auto-login (the optional step 11): the HSM password as the HSM_PASSWORD secret
    /// in the software keystore under WALLET_ROOT/tde, which is made auto-login; the HSM keystore
    /// then opens by itself after a restart.
    #[arg(long)]
    pub auto_login: bool,
    /// Also keep the HSM password in the external store (WALLET_ROOT/tde_seps, step 11), so that
    /// statements can say IDENTIFIED BY EXTERNAL STORE instead of the password. It does not open
    /// the keystore at start-up by itself.
    #[arg(long)]
    pub external_store: bool,
    /// The tag of the wallet backup Oracle makes while migrating.
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// The wallet password from the first line of FILE (else $TDEKEY_WALLET_PASSWORD, else a
    /// prompt), asked only by the steps that need it.
    #[arg(long, value_name = "FILE")]
    pub wallet_password_file: Option<PathBuf>,
    /// The backup passphrase from the first line of FILE (else $TDEKEY_BACKUP_PASSPHRASE, else
    /// a prompt).
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// The output of the command a step shows for a database host (when tdekey does not run
    /// there), saved in FILE. Repeat it for several hosts (RAC nodes, standbys), or put their
    /// outputs one after the other in one file: each begins with its HOST line.
    #[arg(long, value_name = "FILE")]
    pub host_output: Vec<PathBuf>,
    /// Path B: the user Oracle logs in to the HSM the database uses now as.
    #[arg(long, value_name = "USER")]
    pub old_hsm_user: Option<String>,
    /// Path B: that user's password from the first line of FILE (else
    /// $TDEKEY_OLD_HSM_PASSWORD, else a prompt).
    #[arg(long, value_name = "FILE")]
    pub old_hsm_password_file: Option<PathBuf>,
    /// Path B: the HSM the database uses now takes a password only, no user name (Oracle's
    /// statements then say IDENTIFIED BY "<password>" without "user:").
    #[arg(long, conflicts_with = "old_hsm_user")]
    pub old_hsm_password_only: bool,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub login: LoginArgs,
}
