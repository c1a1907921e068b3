//! The command line's grammar for `tdekey store …`.

use clap::Subcommand;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum StoreCommand {
    /// Which store is in use (this computer's SQLite file or a team's PostgreSQL database), its
    /// schema version and its audit chain's head.
    Info {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Copy this computer's store (the data directory's SQLite file) into an empty PostgreSQL
    /// database: every profile, policy, run, migration and the whole audit chain, verified
    /// before and after; the copy is recorded in both chains.
    Copy {
        /// The PostgreSQL database, postgresql://USER@HOST:PORT/DB?sslmode=verify-full (no
        /// password in it).
        #[arg(long, value_name = "URL")]
        to: String,
        /// A file (mode 0600) whose first line is that database's password. Else PGPASSWORD,
        /// else PGPASSFILE or ~/.pgpass.
        #[arg(long, value_name = "FILE")]
        to_password_file: Option<PathBuf>,
    },
}
