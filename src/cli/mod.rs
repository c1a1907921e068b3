//! The command line: one front end of the workflows (the window is the other). It parses
//! arguments, asks for passwords, calls a workflow, and prints. Errors print one sentence to
//! stderr and exit 1; usage errors exit 2.

mod args;
mod args_audit;
mod args_migrate;
mod args_recover;
mod args_store;
mod audit_cmd;
mod db_cmd;
mod forward_cmd;
mod hsm_cmd;
mod migrate_cmd;
mod oracle_cmd;
mod recover_cmd;
mod reference;
mod rotate_cmd;
mod store_cmd;
mod wallet_cmd;

pub use args::*;
pub use args_recover::RecoverabilityArgs;

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

/// A secret for the command line, from (in this order) the environment variable `env` the
/// person set, the first line of `file`, or a prompt on the terminal (typed twice when
/// `confirm`: a passphrase that protects a file cannot be recovered if mistyped). `what` names
/// it in the prompt and in errors, e.g. "Backup passphrase".
pub(crate) fn read_secret(
    env: &str,
    file: Option<&std::path::Path>,
    what: &str,
    confirm: bool,
) -> Result<crate::secret::Secret, CliError> {
    use crate::secret::Secret;
    let what_lc = what.to_lowercase();
    // An empty variable is treated as absent: no secret is empty.
    if let Some(v) = std::env::var_os(env).filter(|v| !v.is_empty()) {
        return Ok(Secret::new(v.to_string_lossy().into_owned())
            .within_limit(&format!("{what_lc} in {env}"))?);
    }
    if let Some(f) = file {
        return Secret::from_file(f).map_err(|e| {
            CliError(format!(
                "Cannot read the {} file {}: {e}.",
                what.to_lowercase(),
                f.display()
            ))
        });
    }
    let no_tty = |_| {
        CliError(format!(
            "No {}: set {env}, give its file, or run in a terminal to be asked.",
            what.to_lowercase()
        ))
    };
    let first =
        Secret::new(rpassword::prompt_password(format!("{what} (not echoed): ")).map_err(no_tty)?)
            .within_limit(&what_lc)?;
    if confirm {
        let again = Secret::new(rpassword::prompt_password("Once more: ").map_err(no_tty)?);
        if again.expose() != first.expose() {
            return Err(CliError(format!(
                "The two {}s differ. Nothing was done.",
                what.to_lowercase()
            )));
        }
    }
    Ok(first)
}

/// A secret the person gave without being asked (the environment variable `env` or `file`),
/// read up front so a step that needs it does not stop first; `None` when neither is given (a
/// step that needs it then prompts).
pub(crate) fn given_secret(
    env: &str,
    file: Option<&std::path::Path>,
    what: &str,
) -> Result<Option<crate::secret::Secret>, CliError> {
    if std::env::var_os(env).is_some() || file.is_some() {
        read_secret(env, file, what, false).map(Some)
    } else {
        Ok(None)
    }
}

/// How a command reaches a database and its HSM: the target (the flags, else the database's
/// HSM profile), the PIN format, the crypto user's password (asked once: the login and the
/// statements use it), and the database user's password for a SQL*Plus profile with one.
pub(crate) struct DatabaseLogin {
    pub target: crate::session::Target,
    pub pin_format: crate::model::PinFormat,
    pub hsm_password: crate::secret::Secret,
    pub credentials: crate::session::Credentials,
    pub db_password: Option<crate::secret::Secret>,
    pub manual: bool,
}

impl DatabaseLogin {
    pub(crate) fn ask(
        a: &crate::audit::Auditor,
        db: &crate::model::DatabaseProfile,
        target: &TargetArgs,
        login: &LoginArgs,
    ) -> Result<Self, CliError> {
        use crate::model::{ConnectorKind, DbAuth, PinFormat};
        let mut spec = target.spec();
        if spec.profile.is_none() && spec.module.is_none() {
            spec.profile = db.hsm_profile.clone();
        }
        let target = crate::session::Target::resolve(a.store(), &spec)?;
        let pin_format = login
            .pin_format
            .map(Into::into)
            .or(target.profile.as_ref().map(|p| p.pin_format))
            .unwrap_or_else(|| PinFormat::guess(&target.module));
        let hsm_password = hsm_cmd::read_password(login)?;
        let credentials = crate::session::Credentials {
            user: login.user.clone(),
            format: login.pin_format.map(Into::into),
            password: hsm_password.clone(),
        };
        let db_password = match (&db.connector, &db.auth) {
            (ConnectorKind::Sqlplus, DbAuth::User(u)) => Some(db_cmd::read_db_password(u)?),
            _ => None,
        };
        Ok(Self {
            target,
            pin_format,
            hsm_password,
            credentials,
            db_password,
            manual: db.connector == ConnectorKind::Manual,
        })
    }
}

/// The manual pages and shell completions, from the clap definition (so they never drift
/// from the real command line).
fn generate_docs(out: &std::path::Path) -> Result<ExitCode, CliError> {
    use clap::CommandFactory;
    use clap_complete::Shell;
    let man = out.join("man");
    let completions = out.join("completions");
    for d in [&man, &completions] {
        std::fs::create_dir_all(d)
            .map_err(|e| CliError(format!("Cannot create {}: {e}.", d.display())))?;
    }
    clap_mangen::generate_to(Cli::command(), &man).map_err(|e| {
        CliError(format!(
            "Cannot write the man pages in {}: {e}.",
            man.display()
        ))
    })?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, &mut Cli::command(), "tdekey", &completions).map_err(
            |e| {
                CliError(format!(
                    "Cannot write the {shell} completions in {}: {e}.",
                    completions.display()
                ))
            },
        )?;
    }
    let root = Cli::command();
    for (file, text) in [
        ("cli.md", reference::markdown(&root)),
        ("commands.md", reference::overview(&root)),
    ] {
        let p = out.join(file);
        std::fs::write(&p, text)
            .map_err(|e| CliError(format!("Cannot write {}: {e}.", p.display())))?;
    }
    println!(
        "Wrote the manual pages in {}, the completions in {}, and the Markdown reference in {}.",
        man.display(),
        completions.display(),
        out.join("cli.md").display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Entry point of the `tdekey` binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let no_store = cli.store.as_deref().is_none_or(|u| u.trim().is_empty());
    if no_store && cli.store_password_file.is_some() {
        eprintln!(
            "tdekey: --store-password-file (TDEKEY_STORE_PASSWORD_FILE) names the password of a shared store, and no store is named: add --store URL (or TDEKEY_STORE), or leave the password file out."
        );
        return ExitCode::from(2);
    }
    let data = match DataDir::resolve(cli.data_dir.clone()) {
        Ok(d) => d.with_store(
            cli.store
                .clone()
                .filter(|u| !u.trim().is_empty())
                .map(|url| crate::paths::SharedStore {
                    url,
                    password_file: cli.store_password_file.clone(),
                }),
        ),
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
        Some(Command::Wallet { command }) => wallet_cmd::run(&data, command),
        Some(Command::Key { command }) => rotate_cmd::key(&data, command),
        Some(Command::Rotate(args)) => rotate_cmd::rotate(&data, args),
        Some(Command::Policy { command }) => rotate_cmd::policy(&data, command),
        Some(Command::Store { command }) => store_cmd::run(&data, command),
        Some(Command::Recoverability(args)) => recover_cmd::run(&data, args),
        Some(Command::GenerateDocs { out }) => generate_docs(&out),
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
