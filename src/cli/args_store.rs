//! The command line's grammar for `tdekey store …`.

use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum StoreCommand {
    /// Which store is in use (this computer's SQLite file or a team's PostgreSQL database), its
    /// schema version and its audit chain's head.
    Info {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}
