//! The command line: one front end of the workflows (the window is the other). It parses
//! arguments, asks for passwords, calls a workflow, and prints. Errors print one sentence to
//! stderr and exit 1; usage errors exit 2.

mod args;
mod audit_cmd;
mod db_cmd;
mod hsm_cmd;
mod migrate_cmd;
mod oracle_cmd;
mod wallet_cmd;

pub use args::*;

use crate::paths::DataDir;
use clap::Parser;
use std::process::ExitCode;

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
        }) => oracle_cmd::parse(what, file.as_deref()),
        Some(Command::Db { command }) => db_cmd::run(&data, command),
        Some(Command::Migrate { command }) => migrate_cmd::run(&data, command),
        Some(Command::Wallet {
            command:
                WalletCommand::Inspect {
                    wallet_root,
                    file,
                    password_file,
                    files_only,
                    json,
                },
        }) => wallet_cmd::inspect(
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

#[cfg(test)]
mod tests {
    #[test]
    fn every_command_line_is_well_formed() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
