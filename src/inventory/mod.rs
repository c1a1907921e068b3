//! The key inventory: what each object on the token is, and what is wrong with it.
//! Plain Rust over [`ObjectInfo`] values: no HSM, no window.

use crate::model::ObjectInfo;
use crate::tde::labels::{LabelMeaning, classify};
use serde::Serialize;
use std::collections::HashMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Critical,
}

/// One finding about one object, with its one-line reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HealthFlag {
    pub severity: Severity,
    /// Stable short name: `extractable`, `not-sensitive`, `not-aes-256`, `no-encrypt-decrypt`,
    /// `not-a-secret-key`, `session-object`, `duplicate-label`, `malformed-label`, `unreadable`.
    pub code: &'static str,
    pub reason: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct InventoryRow {
    #[serde(flatten)]
    pub object: ObjectInfo,
    /// Category of the label (see [`LabelMeaning::kind`]).
    pub kind: &'static str,
    /// The label's meaning in a sentence.
    pub meaning: String,
    /// The 34-hex `USE KEY` id of the master key this object is or describes.
    pub master_key_id: Option<String>,
    pub health: Vec<HealthFlag>,
}

impl InventoryRow {
    pub fn worst(&self) -> Option<Severity> {
        self.health.iter().map(|h| h.severity).max()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub objects: usize,
    pub master_keys: usize,
    pub critical: usize,
    pub warnings: usize,
}

pub fn summarize(rows: &[InventoryRow]) -> Summary {
    Summary {
        objects: rows.len(),
        master_keys: rows.iter().filter(|r| r.kind == "tde-master-key").count(),
        critical: rows
            .iter()
            .filter(|r| r.worst() == Some(Severity::Critical))
            .count(),
        warnings: rows
            .iter()
            .filter(|r| r.worst() == Some(Severity::Warning))
            .count(),
    }
}

fn master_key_checks(o: &ObjectInfo, flags: &mut Vec<HealthFlag>) {
    let crit = |code, reason: String| HealthFlag {
        severity: Severity::Critical,
        code,
        reason,
    };
    if !o.is_secret_key() {
        flags.push(crit(
            "not-a-secret-key",
            format!(
                "A master key label on a {} object: Oracle looks for a secret key with this label.",
                o.class
            ),
        ));
        return;
    }
    let aes = o.key_type.as_deref() == Some("CKK_AES");
    if !aes || o.value_len != Some(32) {
        let what = match (&o.key_type, o.value_len) {
            (Some(t), Some(n)) => format!("{t}, {} bits", n * 8),
            (Some(t), None) => format!("{t}, length unknown"),
            (None, _) => "unknown key type".to_owned(),
        };
        flags.push(crit(
            "not-aes-256",
            format!("Not AES-256 ({what}): Oracle TDE master keys on an HSM are 256-bit AES keys."),
        ));
    }
    if o.flags.extractable != Some(false) {
        flags.push(crit(
            "extractable",
            "Extractable: the key value can be wrapped out of the HSM. cloudhsm-cli creates keys extractable by default; a master key should have CKA_EXTRACTABLE false.".to_owned(),
        ));
    }
    if o.flags.sensitive != Some(true) {
        flags.push(crit(
            "not-sensitive",
            "Not sensitive: CKA_SENSITIVE is false, so the token may reveal the key value in plain text.".to_owned(),
        ));
    }
    if o.flags.encrypt != Some(true) || o.flags.decrypt != Some(true) {
        flags.push(crit(
            "no-encrypt-decrypt",
            "CKA_ENCRYPT or CKA_DECRYPT is not set: Oracle wraps and unwraps its data keys with C_Encrypt and C_Decrypt and cannot use this key.".to_owned(),
        ));
    }
    if o.flags.token == Some(false) {
        flags.push(HealthFlag {
            severity: Severity::Warning,
            code: "session-object",
            reason: "A session object (CKA_TOKEN false): it disappears when the session closes."
                .to_owned(),
        });
    }
}

/// Classifies every object and computes its health flags.
pub fn analyze(objects: Vec<ObjectInfo>) -> Vec<InventoryRow> {
    let mut label_count: HashMap<&str, usize> = HashMap::new();
    for o in &objects {
        if !o.label.is_empty() {
            *label_count.entry(o.label.as_str()).or_default() += 1;
        }
    }
    let dup: HashMap<String, usize> = label_count
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(l, n)| (l.to_owned(), n))
        .collect();

    objects
        .into_iter()
        .map(|o| {
            if let Some(why) = &o.unreadable {
                return unreadable_row(why.clone(), o);
            }
            let meaning = classify(&o.label);
            let mut health = Vec::new();
            match &meaning {
                LabelMeaning::MasterKey(_) | LabelMeaning::LegacyTablespaceKey(_) => {
                    master_key_checks(&o, &mut health)
                }
                LabelMeaning::MalformedMasterKey(why) => {
                    health.push(HealthFlag {
                        severity: Severity::Warning,
                        code: "malformed-label",
                        reason: format!(
                            "Starts with ORACLE.TDE.HSM.MK. but is not a master key label: {why}. Oracle will not find it."
                        ),
                    });
                    // Meant as a master key: it gets the master key's attribute checks too.
                    master_key_checks(&o, &mut health);
                }
                _ => {}
            }
            if let Some(n) = dup.get(&o.label) {
                let is_mk = matches!(meaning, LabelMeaning::MasterKey(_));
                health.push(HealthFlag {
                    severity: if is_mk {
                        Severity::Critical
                    } else {
                        Severity::Warning
                    },
                    code: "duplicate-label",
                    reason: format!(
                        "{n} objects share this label: Oracle finds keys by label and cannot tell them apart."
                    ),
                });
            }
            InventoryRow {
                kind: meaning.kind(),
                meaning: meaning.describe(),
                master_key_id: meaning.master_key().map(|id| id.use_key_id()),
                object: o,
                health,
            }
        })
        .collect()
}

/// What to do about an object whose attributes the token would not give.
pub fn unreadable_advice(handle: u64) -> String {
    format!(
        "Identify object handle {handle} with the HSM's own tool (pkcs11-tool --list-objects, cloudhsm-cli key list): a process killed while creating an object can leave it half-written. tdekey never deletes it; remove it with that tool only once you know it holds no master key."
    )
}

fn unreadable_row(why: String, o: ObjectInfo) -> InventoryRow {
    InventoryRow {
        kind: "unreadable",
        meaning: format!("An object whose attributes cannot be read ({why})."),
        master_key_id: None,
        health: vec![HealthFlag {
            severity: Severity::Critical,
            code: "unreadable",
            reason: format!(
                "The token lists this object but will not give its attributes ({why}). {}",
                unreadable_advice(o.handle)
            ),
        }],
        object: o,
    }
}

/// Columns of the Keys table that can be sorted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortColumn {
    Health,
    Label,
    Kind,
    Class,
    KeyType,
    Length,
    Id,
}

/// Indices of the rows matching `filter` (case-insensitive, over label, meaning, class, key
/// type, CKA_ID and health codes; words must all match), sorted by `column`.
pub fn view(
    rows: &[InventoryRow],
    filter: &str,
    column: SortColumn,
    ascending: bool,
) -> Vec<usize> {
    view_with(rows, filter, &|_| String::new(), column, ascending)
}

/// [`view`], the filter also matching what a screen shows of each row besides the object
/// (`shown`: the database that claims a key, "unclaimed", "retired").
pub fn view_with(
    rows: &[InventoryRow],
    filter: &str,
    shown: &dyn Fn(&InventoryRow) -> String,
    column: SortColumn,
    ascending: bool,
) -> Vec<usize> {
    let words: Vec<String> = filter.split_whitespace().map(str::to_lowercase).collect();
    let mut idx: Vec<usize> = (0..rows.len())
        .filter(|&i| {
            if words.is_empty() {
                return true;
            }
            let r = &rows[i];
            // The health word the table shows ("ok", "warning", "critical").
            let health = match r.worst() {
                Some(Severity::Critical) => "critical",
                Some(Severity::Warning) => "warning",
                None => "ok",
            };
            let hay = format!(
                "{} {} {} {} {} {} {} {health} {}",
                r.object.label,
                r.meaning,
                r.object.class,
                r.object.key_type.as_deref().unwrap_or(""),
                r.object.id_hex,
                r.kind,
                r.health
                    .iter()
                    .map(|h| h.code)
                    .collect::<Vec<_>>()
                    .join(" "),
                shown(r)
            )
            .to_lowercase();
            words.iter().all(|w| hay.contains(w.as_str()))
        })
        .collect();
    idx.sort_by(|&a, &b| {
        let (ra, rb) = (&rows[a], &rows[b]);
        let ord = match column {
            SortColumn::Health => ra.worst().cmp(&rb.worst()).reverse(),
            SortColumn::Label => ra.object.label.cmp(&rb.object.label),
            SortColumn::Kind => ra.kind.cmp(rb.kind),
            SortColumn::Class => ra.object.class.cmp(&rb.object.class),
            SortColumn::KeyType => ra.object.key_type.cmp(&rb.object.key_type),
            SortColumn::Length => ra.object.value_len.cmp(&rb.object.value_len),
            SortColumn::Id => ra.object.id_hex.cmp(&rb.object.id_hex),
        }
        .then_with(|| ra.object.label.cmp(&rb.object.label));
        if ascending { ord } else { ord.reverse() }
    });
    idx
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ObjectFlags;

    fn good_mk(label: &str) -> ObjectInfo {
        ObjectInfo {
            class: "CKO_SECRET_KEY".into(),
            key_type: Some("CKK_AES".into()),
            label: label.into(),
            value_len: Some(32),
            flags: ObjectFlags {
                token: Some(true),
                private: Some(true),
                sensitive: Some(true),
                extractable: Some(false),
                encrypt: Some(true),
                decrypt: Some(true),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    const MK: &str = "ORACLE.TDE.HSM.MK.0615A5142C9E2D3C2F18FD435814257DFD";

    fn codes(r: &InventoryRow) -> Vec<&'static str> {
        r.health.iter().map(|h| h.code).collect()
    }

    #[test]
    fn a_well_made_master_key_has_no_flags() {
        let rows = analyze(vec![good_mk(MK)]);
        assert_eq!(rows[0].kind, "tde-master-key");
        assert_eq!(
            rows[0].master_key_id.as_deref(),
            Some("0615A5142C9E2D3C2F18FD435814257DFD")
        );
        assert!(rows[0].health.is_empty(), "{:?}", rows[0].health);
    }

    #[test]
    fn each_flaw_is_flagged_with_a_reason() {
        let mut extractable = good_mk(MK);
        extractable.flags.extractable = Some(true);
        let mut weak = good_mk("ORACLE.TDE.HSM.MK.06000000000000000000000000000000AA");
        weak.value_len = Some(16);
        weak.flags.sensitive = Some(false);
        weak.flags.decrypt = Some(false);
        let mut data = good_mk("ORACLE.TDE.HSM.MK.06000000000000000000000000000000BB");
        data.class = "CKO_DATA".into();
        let malformed = good_mk("ORACLE.TDE.HSM.MK.06abc");
        let mut malformed_weak = good_mk("ORACLE.TDE.HSM.MK.06xyz");
        malformed_weak.value_len = Some(16);
        let rows = analyze(vec![extractable, weak, data, malformed, malformed_weak]);
        assert_eq!(codes(&rows[0]), ["extractable"]);
        assert_eq!(
            codes(&rows[1]),
            ["not-aes-256", "not-sensitive", "no-encrypt-decrypt"]
        );
        assert_eq!(codes(&rows[2]), ["not-a-secret-key"]);
        assert_eq!(codes(&rows[3]), ["malformed-label"], "well made otherwise");
        assert_eq!(
            codes(&rows[4]),
            ["malformed-label", "not-aes-256"],
            "a malformed master key label gets the master key's attribute checks too"
        );
        assert!(
            rows.iter()
                .flat_map(|r| &r.health)
                .all(|h| h.reason.len() > 20)
        );
        let s = summarize(&rows);
        assert_eq!((s.objects, s.critical, s.warnings), (5, 4, 1));
    }

    #[test]
    fn duplicate_labels_are_flagged_on_both_objects() {
        let rows = analyze(vec![good_mk(MK), good_mk(MK), good_mk("other")]);
        assert_eq!(codes(&rows[0]), ["duplicate-label"]);
        assert_eq!(rows[0].health[0].severity, Severity::Critical);
        assert_eq!(codes(&rows[1]), ["duplicate-label"]);
        assert!(rows[2].health.is_empty());
    }

    #[test]
    fn view_filters_by_all_words_and_sorts() {
        let mut bad = good_mk("ORACLE.TDE.HSM.MK.06000000000000000000000000000000AA");
        bad.flags.extractable = Some(true);
        let rows = analyze(vec![good_mk(MK), bad, good_mk("zzz-app-key")]);
        assert_eq!(view(&rows, "", SortColumn::Label, true), [1, 0, 2]);
        assert_eq!(view(&rows, "", SortColumn::Label, false), [2, 0, 1]);
        assert_eq!(view(&rows, "EXTRACTABLE", SortColumn::Label, true), [1]);
        assert_eq!(view(&rows, "master 15a5", SortColumn::Label, true), [0]);
        assert_eq!(view(&rows, "", SortColumn::Health, true)[0], 1);
        assert!(view(&rows, "nothing-matches", SortColumn::Label, true).is_empty());
    }
}
