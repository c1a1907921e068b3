//! `tdekey oracle parse`: what tdekey understands of pasted Oracle output, as JSON.

use super::{CliError, ParseWhat};
use std::process::ExitCode;

pub(super) fn parse(what: ParseWhat, file: Option<&std::path::Path>) -> Result<ExitCode, CliError> {
    use crate::tde::{output, sqlnet};
    let (source, text) = match file {
        Some(f) => (
            f.display().to_string(),
            crate::paths::input::read_text_file(f, "Oracle output")?,
        ),
        None => (
            "standard input".to_owned(),
            crate::paths::input::read_stdin("Oracle output")?,
        ),
    };
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
