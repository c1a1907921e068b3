//! `tdekey store …`

use super::hsm_cmd::auditor;
use super::{CliError, StoreCommand};
use crate::paths::DataDir;
use crate::store::StoreFacts;
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
