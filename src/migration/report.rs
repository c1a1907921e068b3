//! The migration report, for the change ticket and the auditor: every step, the statements with
//! their secrets hidden, what came back, the checks and overrides, the new key, the backup, and
//! the audit log's seq range; as JSON and as a self-contained HTML page that prints well.

use super::MigrationError;
use super::state::{MigrationState, StepRecord, StepStatus};
use crate::audit::Auditor;
use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub tdekey_version: &'static str,
    pub generated_utc: String,
    pub database: crate::model::DatabaseProfile,
    pub migration: MigrationState,
    /// The audit entries of the migration: from its start to the log's head now.
    pub audit_first_seq: Option<i64>,
    pub audit_last_seq: Option<i64>,
    /// The audit chain, verified when the report was made.
    pub audit_chain: super::report_check::ChainCheck,
    /// What does not agree (a broken chain, a new key the audit log does not record); empty
    /// when the report can be relied on.
    pub warnings: Vec<String>,
}

impl Report {
    /// Whether nothing in the report needs a warning.
    pub fn trustworthy(&self) -> bool {
        self.warnings.is_empty()
    }
}

/// The report of a database's latest migration.
pub fn report(a: &Auditor, database: &str) -> Result<Report, MigrationError> {
    let migration = super::wizard::load(a, database)?
        .ok_or_else(|| MigrationError::NotStarted(database.to_owned()))?;
    let audit_chain = super::report_check::chain(a.store())?;
    let mut warnings = Vec::new();
    if !audit_chain.intact {
        warnings.push(audit_chain.statement.clone());
    }
    warnings.extend(super::report_check::key_warnings(
        a.store(),
        database,
        &migration,
    )?);
    Ok(Report {
        tdekey_version: crate::VERSION,
        generated_utc: crate::audit::export::utc(crate::model::now_ms()),
        database: crate::databases::get(a, database)?,
        audit_first_seq: migration.first_seq,
        audit_last_seq: a.store().audit_head()?.map(|(s, _)| s),
        audit_chain,
        warnings,
        migration,
    })
}

/// Writes the report of a database's latest migration to `path` (JSON when `json`, else the
/// HTML page), through a temporary file renamed when complete; recorded as `migration.report`
/// with the file's SHA-256.
pub fn write_report(
    a: &mut Auditor,
    database: &str,
    path: &std::path::Path,
    force: bool,
    json: bool,
) -> Result<Report, MigrationError> {
    let report = report(a, database)?;
    let text = if json { report.json()? } else { report.html() };
    let entry = crate::audit::Entry::new(
        crate::audit::Action::MigrationReport,
        format!("database {database}"),
    )
    .details(serde_json::json!({
        "file": path.display().to_string(),
        "format": if json { "json" } else { "html" },
        "force": force,
        "chain_intact": report.audit_chain.intact,
        "warnings": report.warnings.len(),
    }));
    a.act(entry, |step| {
        crate::paths::out::write(path, force, ".tdekey-report-", text.as_bytes())
            .map_err(|e| MigrationError::Invalid(e.to_string()))?;
        step.note("sha256", crate::databases::sha256_hex(text.as_bytes()));
        Ok::<_, MigrationError>(())
    })?
    .into_result::<MigrationError>("The report was written")?;
    Ok(report)
}

use crate::paths::out::html_escape as esc;

impl Report {
    pub fn json(&self) -> Result<String, MigrationError> {
        serde_json::to_string_pretty(self)
            .map_err(|e| MigrationError::Invalid(format!("The report could not be written: {e}")))
    }

    pub fn html(&self) -> String {
        let m = &self.migration;
        let utc = |ms: Option<i64>| ms.map(crate::audit::export::utc).unwrap_or_default();
        let mut h = String::new();
        h.push_str(&crate::paths::out::html_page_start(
            &format!("TDE master key migration: {}", m.database),
            ".rehearsal{background:#fd5;padding:.2em .5em}",
        ));
        if self.database.connector == crate::model::ConnectorKind::Rehearsal {
            h.push_str("<p class=\"rehearsal\">REHEARSAL: a simulated Oracle 19c database; its HSM keys are real keys on the token.</p>");
        }
        for w in &self.warnings {
            h.push_str(&format!("<p class=\"bad\"><strong>{}</strong></p>", esc(w)));
        }
        if self.audit_chain.intact {
            h.push_str(&format!(
                "<p class=\"ok\">{}</p>",
                esc(&self.audit_chain.statement)
            ));
        }
        let rows = [
            (
                "Outcome",
                match (&m.rollback, m.finished()) {
                    (Some(r), _) if r.finished_ms.is_some() => "rolled back".to_owned(),
                    (Some(_), _) => "being rolled back".to_owned(),
                    (None, true) => "migrated".to_owned(),
                    (None, false) => "in progress".to_owned(),
                },
            ),
            ("Connector", self.database.connector.label().to_owned()),
            ("HSM module", m.hsm_module.clone().unwrap_or_default()),
            ("Token", m.token.clone().unwrap_or_default()),
            ("Crypto user", m.hsm_user.clone().unwrap_or_default()),
            ("WALLET_ROOT", m.wallet_root.clone().unwrap_or_default()),
            ("Started (UTC)", utc(Some(m.started_ms))),
            ("Finished (UTC)", utc(m.finished_ms)),
            (
                "New master key",
                m.new_key.clone().unwrap_or_else(|| "—".into()),
            ),
            (
                "Wallet backup",
                m.backup
                    .as_ref()
                    .map(|b| {
                        format!(
                            "{} (SHA-256 {}{})",
                            b.file,
                            b.sha256,
                            if b.encrypted { "" } else { ", not encrypted" }
                        )
                    })
                    .unwrap_or_else(|| "—".into()),
            ),
            (
                "Audit log entries",
                format!(
                    "seq {} to {}",
                    self.audit_first_seq.map_or("?".into(), |s| s.to_string()),
                    self.audit_last_seq.map_or("?".into(), |s| s.to_string())
                ),
            ),
            ("Report generated (UTC)", self.generated_utc.clone()),
        ];
        h.push_str("<table>");
        for (k, v) in rows {
            h.push_str(&format!(
                "<tr><th>{}</th><td><code>{}</code></td></tr>",
                esc(k),
                esc(&v)
            ));
        }
        h.push_str("</table>");
        for s in &m.steps {
            step_html(
                &mut h,
                &format!("{}. {}", s.step.number(), s.step.title()),
                s.step.about(),
                s,
            );
        }
        self.standbys_html(&mut h);
        if m.path == Some(super::Path::OtherHsm) {
            h.push_str(&format!(
                "<h1>The other HSM</h1><p>{}</p>",
                esc(&super::steps::keep_old_hsm(&m.old_hsm_keys))
            ));
        }
        if let Some(r) = &m.rollback {
            h.push_str("<h1>Rollback</h1><table>");
            for (k, v) in [
                ("Reason", r.reason.clone()),
                (
                    "From step",
                    r.from.map_or("the end".into(), |s| {
                        format!("{}. {}", s.number(), s.title())
                    }),
                ),
                ("Started (UTC)", utc(Some(r.started_ms))),
                ("Finished (UTC)", utc(r.finished_ms)),
            ] {
                h.push_str(&format!("<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(&v)));
            }
            h.push_str("</table>");
            for s in &r.steps {
                step_html(
                    &mut h,
                    &format!("R{}. {}", s.step.number(), s.step.title()),
                    s.step.about(),
                    s,
                );
            }
        }
        h.push_str("</body></html>\n");
        h
    }
}

impl Report {
    /// Data Guard: each standby's to-do before step 9, and whether a person confirmed it.
    fn standbys_html(&self, h: &mut String) {
        if self.database.standbys.is_empty() {
            return;
        }
        let m = &self.migration;
        h.push_str("<h1>Data Guard standbys</h1><p>Each standby must have the same HSM client and library, TDE_CONFIGURATION HSM|FILE and its HSM keystore open (or auto-login) before redo made under the new master key reaches it, that is before step 9 runs on the primary.</p>");
        for s in &self.database.standbys {
            let title = format!(
                "Standby {} on {}: ready for the new master key",
                s.name, s.host
            );
            let confirmed = m
                .step(super::StepId::FileOpen)
                .and_then(|r| r.checks.iter().find(|c| c.what == title))
                .is_some_and(|c| c.passes());
            h.push_str(&format!(
                "<h2>{} — <span class=\"{}\">{}</span></h2><ul>",
                esc(&s.to_string()),
                if confirmed { "ok" } else { "bad" },
                if confirmed {
                    "confirmed before step 9"
                } else {
                    "not confirmed"
                }
            ));
            for l in super::steps::standby_todo(&self.database, Some(m), s) {
                h.push_str(&format!("<li>{}</li>", esc(&l)));
            }
            h.push_str("</ul>");
        }
    }
}

/// One step (of the plan or of the rollback): its title and state, what it does, why it
/// stopped, its checks, what it sent and what came back, its notes.
fn step_html<S>(h: &mut String, title: &str, about: &str, s: &StepRecord<S>) {
    h.push_str(&format!(
        "<h2>{} — <span class=\"{}\">{}</span></h2>",
        esc(title),
        if matches!(s.status, StepStatus::Done | StepStatus::Skipped) {
            "ok"
        } else {
            "bad"
        },
        esc(s.status.as_str())
    ));
    h.push_str(&format!("<p>{}</p>", esc(about)));
    if let Some(r) = &s.reason {
        h.push_str(&format!("<p><b>{}</b></p>", esc(r)));
    }
    if !s.checks.is_empty() {
        h.push_str("<table><tr><th>Check</th><th>Result</th><th>Detail</th></tr>");
        for c in &s.checks {
            let result = match (&c.ok, &c.overridden) {
                (true, _) => "passed".to_owned(),
                (false, Some(why)) => format!("failed, accepted: {why}"),
                (false, None) => "failed".to_owned(),
            };
            h.push_str(&format!(
                "<tr><td>{}</td><td class=\"{}\">{}</td><td>{}</td></tr>",
                esc(&c.what),
                if c.ok { "ok" } else { "bad" },
                esc(&result),
                esc(&c.detail)
            ));
        }
        h.push_str("</table>");
    }
    if !s.hosts.is_empty() {
        h.push_str("<table><tr><th>Host</th><th>What</th><th>Result</th><th>Printed on</th><th>When (UTC)</th></tr>");
        for x in &s.hosts {
            h.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td></tr>",
                esc(if x.host.is_empty() {
                    "database host"
                } else {
                    &x.host
                }),
                esc(&x.role),
                if x.passed { "ok" } else { "bad" },
                if x.passed { "passed" } else { "failed" },
                esc(x.printed_on.as_deref().unwrap_or("read by tdekey")),
                esc(&crate::audit::export::utc(x.at_ms))
            ));
        }
        h.push_str("</table>");
    }
    for x in &s.sent {
        h.push_str(&format!(
            "<p>{} ({}), {}:</p><pre>{}</pre><p>Answer: <code>{}</code></p>",
            esc(&x.title),
            esc(&x.connector),
            esc(&crate::audit::export::utc(x.at_ms)),
            esc(&x.statement),
            esc(x.answer.as_deref().unwrap_or("never seen"))
        ));
    }
    for n in &s.notes {
        h.push_str(&format!("<p>Note: {}</p>", esc(n)));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn html_escapes_what_it_shows() {
        assert_eq!(
            super::esc("<a href=\"x\">&"),
            "&lt;a href=&quot;x&quot;&gt;&amp;"
        );
    }
}
