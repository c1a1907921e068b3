//! A password wallet (`ewallet.p12`) against its auto-login copy (`cwallet.sso`): Oracle keeps
//! them in step when it changes an open keystore, but a copied, restored or hand-made
//! `cwallet.sso` can be stale, and a database that opens it then misses the current master
//! key (a classic cause of ORA-28374).

use super::{Entry, EntryKind, WalletContents};

/// Sentences for every difference between the two wallets' entries (by name) and for a
/// different current master key; empty when they hold the same entries. Values are never
/// compared (the reader does not keep them).
pub fn compare_entries(ewallet: &WalletContents, sso: &WalletContents) -> Vec<String> {
    let mut out = Vec::new();
    let has = |w: &WalletContents, name: &str| w.entries.iter().any(|e| e.name == name);
    for e in &ewallet.entries {
        if !has(sso, &e.name) {
            out.push(match e.kind {
                EntryKind::MasterKey => format!(
                    "Master key {} is in ewallet.p12 but not in cwallet.sso: a database that opens the auto-login wallet cannot use it (ORA-28374 when it is needed). Recreate cwallet.sso from ewallet.p12.",
                    key_of(e)
                ),
                _ => format!("{} is in ewallet.p12 but not in cwallet.sso.", e.name),
            });
        }
    }
    for e in &sso.entries {
        if !has(ewallet, &e.name) {
            out.push(match e.kind {
                EntryKind::MasterKey => format!(
                    "Master key {} is in cwallet.sso but not in ewallet.p12: the auto-login wallet holds a key the password wallet lacks (was ewallet.p12 replaced by an older copy?). Back up both files before changing either.",
                    key_of(e)
                ),
                _ => format!("{} is in cwallet.sso but not in ewallet.p12.", e.name),
            });
        }
    }
    // The current master key, per MASTERKEY entry (the root's, and each PDB's).
    let pointers = |w: &WalletContents| -> Vec<(Option<String>, Option<String>)> {
        w.entries
            .iter()
            .filter(|e| e.kind == EntryKind::CurrentKeyPointer)
            .map(|e| (e.pdb.clone(), e.key_id.clone()))
            .collect()
    };
    let (pe, ps) = (pointers(ewallet), pointers(sso));
    let mut pdbs: Vec<Option<String>> = pe.iter().chain(&ps).map(|(p, _)| p.clone()).collect();
    pdbs.sort();
    pdbs.dedup();
    for pdb in pdbs {
        let find = |v: &[(Option<String>, Option<String>)]| {
            v.iter()
                .find(|(p, _)| *p == pdb)
                .and_then(|(_, k)| k.clone())
        };
        let (ke, ks) = (find(&pe), find(&ps));
        if ke == ks {
            continue;
        }
        let whose = match &pdb {
            Some(guid) => format!("The current master key of PDB {guid}"),
            None => "The current master key".to_owned(),
        };
        let name = |k: &Option<String>| k.clone().unwrap_or_else(|| "none".to_owned());
        out.push(format!(
            "{whose} differs: ewallet.p12 names {}, cwallet.sso names {}. The auto-login wallet is stale: a database opened with it looks for the wrong key (a classic cause of ORA-28374). Recreate cwallet.sso from ewallet.p12 (ADMINISTER KEY MANAGEMENT CREATE [LOCAL] AUTO_LOGIN KEYSTORE FROM KEYSTORE …).",
            name(&ke),
            name(&ks)
        ));
    }
    out
}

fn key_of(e: &Entry) -> &str {
    e.key_id.as_deref().unwrap_or(e.name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, kind: EntryKind, key_id: Option<&str>, pdb: Option<&str>) -> Entry {
        Entry {
            name: name.to_owned(),
            kind,
            key_id: key_id.map(str::to_owned),
            master_key_id: None,
            pdb: pdb.map(str::to_owned),
            current: false,
        }
    }

    fn wallet(entries: Vec<Entry>) -> WalletContents {
        WalletContents {
            encryption: "PBES2".into(),
            mac: "HMAC-SHA1".into(),
            iterations: 1,
            entries,
            certificates: 0,
            other_items: 0,
            auto_login: None,
        }
    }

    const GUID: &str = "0F1E2D3C4B5A69788796A5B4C3D2E1F0";

    #[test]
    fn same_entries_say_nothing_and_each_pdbs_current_key_is_compared() {
        let pointer = |pdb: Option<&str>, id: &str| {
            let name = match pdb {
                Some(g) => format!("ORACLE.SECURITY.DB.ENCRYPTION.MASTERKEY.{g}"),
                None => "ORACLE.SECURITY.DB.ENCRYPTION.MASTERKEY".to_owned(),
            };
            entry(&name, EntryKind::CurrentKeyPointer, Some(id), pdb)
        };
        let a = wallet(vec![pointer(None, "AX"), pointer(Some(GUID), "AY")]);
        assert!(compare_entries(&a, &a.clone()).is_empty());
        let b = wallet(vec![pointer(None, "AX"), pointer(Some(GUID), "AZ")]);
        let diff = compare_entries(&a, &b);
        assert_eq!(diff.len(), 1, "{diff:?}");
        assert!(
            diff[0].starts_with(&format!("The current master key of PDB {GUID} differs"))
                && diff[0].contains("ewallet.p12 names AY, cwallet.sso names AZ"),
            "{}",
            diff[0]
        );
        // A pointer on one side only.
        let c = wallet(vec![pointer(None, "AX")]);
        let diff = compare_entries(&a, &c);
        assert!(
            diff.iter()
                .any(|d| d.contains("is in ewallet.p12 but not in cwallet.sso"))
        );
        assert!(
            diff.iter()
                .any(|d| d.contains("names AY, cwallet.sso names none"))
        );
    }

    #[test]
    fn other_entries_are_named_by_their_name() {
        let a = wallet(vec![entry(
            "oracle.security.client.password1",
            EntryKind::Other,
            None,
            None,
        )]);
        let b = wallet(vec![]);
        assert_eq!(
            compare_entries(&b, &a),
            ["oracle.security.client.password1 is in cwallet.sso but not in ewallet.p12."]
        );
    }
}
