//! `tdekey store …`

use super::hsm_cmd::auditor;
use super::{CliError, StoreCommand};
use crate::audit::copy;
use crate::paths::DataDir;
use crate::store::{Location, StoreFacts};
use std::process::ExitCode;

pub(super) fn run(data: &DataDir, cmd: StoreCommand) -> Result<ExitCode, CliError> {
    match cmd {
        StoreCommand::Info { json } => {
            let a = auditor(data)?;
            let facts = a.store().facts().map_err(|e| CliError(e.to_string()))?;
            if json {
                let text = serde_json::to_string_pretty(&facts).map_err(|e| {
                    CliError(format!("The facts could not be written as JSON: {e}."))
                })?;
                println!("{text}");
            } else {
                print!("{}", info_text(&facts));
            }
            Ok(ExitCode::SUCCESS)
        }
        StoreCommand::Copy {
            to,
            to_password_file,
        } => {
            let location = Location::shared(&to, to_password_file.as_deref())
                .map_err(|e| CliError(e.to_string()))?;
            let mut a = auditor(data)?;
            let from = a.store().at().to_string();
            let copied =
                copy::copy_store(&mut a, &location).map_err(|e| CliError(e.to_string()))?;
            let rows: u64 = copied.tables.iter().map(|(_, n)| n).sum();
            println!("Copied {from} into {}: {rows} rows.", location.name());
            for (table, n) in &copied.tables {
                println!("  {table:<18} {n}");
            }
            match copied.head {
                Some((seq, hash)) => println!(
                    "The audit chain verifies on both sides up to seq {seq} (hash {}); the copy is entry {} of the shared chain.",
                    hex::encode(hash),
                    copied.recorded_seq
                ),
                None => println!(
                    "The audit log was empty; the copy is entry {} of the shared chain.",
                    copied.recorded_seq
                ),
            }
            println!(
                "Use it with --store '{to}' (or TDEKEY_STORE) on every tdekey of the team; this computer's store is left as it was."
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn info_text(f: &StoreFacts) -> String {
    let mut out = String::new();
    let mut line = |k: &str, v: &str| out.push_str(&format!("{k:<14}{v}\n"));
    match f.engine {
        "postgresql" => line("Store:", &format!("PostgreSQL, shared: {}", f.location)),
        _ => line(
            "Store:",
            &format!("this computer's SQLite file {}", f.location),
        ),
    }
    if let Some(v) = &f.server_version {
        line("Server:", &format!("PostgreSQL {v}"));
    }
    if let Some(t) = &f.tls {
        line(
            "TLS:",
            if t == "none" {
                "none (the connection is not encrypted)"
            } else {
                t
            },
        );
    }
    let schema = if f.schema_version == f.schema_known {
        format!("version {}", f.schema_version)
    } else {
        format!(
            "version {} (this tdekey writes {})",
            f.schema_version, f.schema_known
        )
    };
    line("Schema:", &schema);
    let head = match (&f.head_seq, &f.head_hash) {
        (Some(seq), Some(hash)) => format!("{} entries, head seq {seq}, hash {hash}", f.entries),
        _ => "empty".to_owned(),
    };
    line("Audit chain:", &head);
    let search = match f.text_search {
        "fts5" => "full-text index (FTS5 trigrams)",
        "trigram" => "trigram index (pg_trgm)",
        _ => "no index (pg_trgm is not installed: searches read every entry)",
    };
    line("Text search:", search);
    out
}
