//! The report as pages for a change ticket: JSON (every form of every key) and one HTML page,
//! written through a temporary file and recorded with the file's SHA-256.

use super::RecoverError;
use super::model::{KeyFinding, KeyKind, Recoverability};
use crate::audit::{Action, Auditor, Entry};

use crate::paths::out::html_escape as esc;

impl Recoverability {
    pub fn json(&self) -> Result<String, RecoverError> {
        serde_json::to_string_pretty(self)
            .map_err(|e| RecoverError::Invalid(format!("The report could not be written: {e}")))
    }

    pub fn html(&self) -> String {
        let mut h = String::new();
        h.push_str(&crate::paths::out::html_page_start(
            &format!("TDE recoverability: {}", self.database),
            "body{max-width:70em}code{word-break:break-all}ul{margin:0;padding-left:1.2em}",
        ));
        let class = if self.exit_code() == 0 { "ok" } else { "bad" };
        h.push_str(&format!(
            "<p class=\"{class}\"><strong>{}</strong></p>",
            esc(&self.summary())
        ));
        h.push_str(&format!(
            "<p>Generated {} by tdekey {}; {} PKCS#11 calls for the HSM lookups{}.</p>",
            esc(&self.generated_utc),
            esc(self.tdekey_version),
            self.hsm_calls,
            self.audit_seq
                .map(|s| format!("; recorded in the audit log as seq {s}"))
                .unwrap_or_default()
        ));
        h.push_str(
            "<table><tr><th>Master key</th><th>What depends on it</th><th>Where it is</th></tr>",
        );
        for k in &self.keys {
            key_html(&mut h, k);
        }
        h.push_str("</table>");
        if !self.unread.is_empty() {
            h.push_str("<h2>Not read</h2><table><tr><th>Source</th><th>Why</th></tr>");
            for u in &self.unread {
                h.push_str(&format!(
                    "<tr><td><code>{}</code>{}</td><td>{}</td></tr>",
                    esc(&u.source),
                    if u.needed {
                        " <span class=\"bad\">(needed)</span>"
                    } else {
                        ""
                    },
                    esc(&u.why)
                ));
            }
            h.push_str("</table>");
        }
        h.push_str("<p>A key is <em>missing</em> when something depends on it and it was found nowhere tdekey could look: on the HSM by its label, in the file keystore, in Oracle's keystore backups, in tdekey's wallet backups. Oracle does not say which keys a restore will need; every key V$ENCRYPTION_KEYS has listed may be needed by a backup or archived redo made while it was active.</p>");
        h.push_str("</body></html>\n");
        h
    }
}

fn key_html(h: &mut String, k: &KeyFinding) {
    let state = if k.missing() {
        "<span class=\"bad\"><strong>MISSING</strong></span><br>"
    } else if k.unusable() {
        "<span class=\"bad\"><strong>NOT USABLE</strong></span><br>"
    } else if k.places.is_empty() && k.unchecked {
        "<span class=\"bad\"><strong>NOT CHECKED</strong></span><br>"
    } else {
        ""
    };
    let list = |items: Vec<String>| -> String {
        if items.is_empty() {
            "—".to_owned()
        } else {
            format!(
                "<ul>{}</ul>",
                items
                    .iter()
                    .map(|i| format!("<li>{}</li>", esc(i)))
                    .collect::<String>()
            )
        }
    };
    h.push_str(&format!(
        "<tr><td>{state}<code>{}</code><br><small>MASTERKEYID <code>{}</code>{}</small></td><td>{}</td><td>{}</td></tr>",
        esc(&k.id),
        esc(&k.forms.masterkeyid),
        match k.kind {
            KeyKind::Hsm => format!("<br>HSM label <code>{}</code>", esc(&k.forms.hsm_label)),
            KeyKind::Software => format!(
                "<br>wallet entry <code>{}</code>",
                esc(&k.forms.wallet_entry)
            ),
            KeyKind::Unknown => format!(
                "<br>HSM label <code>{}</code><br>or wallet entry <code>{}</code>",
                esc(&k.forms.hsm_label),
                esc(&k.forms.wallet_entry)
            ),
        },
        list(k.needs.iter().map(|n| n.describe()).collect()),
        list(k.places.iter().map(|p| p.describe()).collect()),
    ));
}

/// Writes the report to `path` (JSON when `json`, else the HTML page) through a temporary
/// file renamed when complete; recorded as `recoverability.report` (with `file`) with the SHA-256.
pub fn write_report(
    a: &mut Auditor,
    report: &Recoverability,
    path: &std::path::Path,
    force: bool,
    json: bool,
) -> Result<(), RecoverError> {
    let text = if json { report.json()? } else { report.html() };
    let entry = Entry::new(
        Action::RecoverabilityReport,
        format!("database {}", report.database),
    )
    .details(serde_json::json!({
        "file": path.display().to_string(),
        "format": if json { "json" } else { "html" },
        "force": force,
        "report_seq": report.audit_seq,
    }));
    a.act(entry, |step| {
        crate::paths::out::write(path, force, ".tdekey-report-", text.as_bytes())
            .map_err(|e| RecoverError::Invalid(e.to_string()))?;
        step.note("sha256", crate::databases::sha256_hex(text.as_bytes()));
        Ok::<_, RecoverError>(())
    })?
    .into_result::<RecoverError>("The report was written")
}
