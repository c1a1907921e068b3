//! The audit log, as a workflow: every state-changing or security-relevant action is recorded
//! through [`Auditor::act`] or [`Auditor::attempt`], in a SHA-256 hash chain
//! (`chain.rs`), anchored by checkpoints whose HMAC is computed in the HSM (`checkpoint.rs`),
//! read, exported and decrypted by the auditor's use cases (`log.rs`, `export.rs`).
//!
//! The canonical encoding is, for each of seq, ts_ms, os_user, hsm_user, host, action, target,
//! outcome, details in that order: a 4-byte big-endian length then the UTF-8 bytes (integers
//! as decimal text); an absent hsm_user is the length 0xFFFFFFFF with no bytes. Secrets never
//! reach an entry: the types that hold them cannot be serialized.

mod action;
mod auditor;
mod chain;
mod checkpoint;
pub mod copy;
pub mod export;
pub mod forward;
mod log;

pub use action::{Action, Outcome};
pub use auditor::{Acted, AuditError, Auditor, Entry, Origin, Step};
pub use chain::{Verification, canonical, checkpoint_message, row_hash, verify};
pub use checkpoint::{Checked, MacCheck, check_macs, checkpoint, verification_summary, verify_log};
pub use log::{
    LogError, OUTCOMES, begin_reading, check_outcome, count, decrypt, export, head_seq, list, page,
    parse_time,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{AuditRow, Store};
    use serde_json::json;

    fn auditor(dir: &tempfile::TempDir) -> Auditor {
        Auditor::new(Store::open(&dir.path().join("t.sqlite3")).unwrap())
    }

    #[test]
    fn entries_chain_and_verify() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = auditor(&dir);
        let r1 = a
            .record(
                Action::HsmLogin,
                "tok",
                Outcome::Success,
                Some("cu"),
                json!({}),
            )
            .unwrap();
        assert_eq!(r1.seq, 1);
        assert_eq!(r1.prev_hash, [0; 32]);
        let acted = a
            .act(
                Entry::new(Action::KeyGenerate, "ORACLE.TDE.HSM.MK.06AA")
                    .user(Some("cu"))
                    .details(json!({"bits": 256})),
                |step| {
                    step.note("handle", 7);
                    Ok::<_, String>(())
                },
            )
            .unwrap();
        let r3 = acted.recorded.unwrap();
        assert_eq!(r3.prev_hash, a.store().recent_audit(2).unwrap()[1].hash);
        assert!(r3.details.contains("\"started_seq\":2"), "{}", r3.details);
        assert!(r3.details.contains("\"handle\":7"), "{}", r3.details);
        assert_eq!(r3.outcome, "success");
        assert_eq!(
            verify(a.store()).unwrap(),
            Verification::Intact { entries: 3 }
        );
    }

    #[test]
    fn an_action_is_not_taken_when_its_start_cannot_be_recorded_and_failures_say_why() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = auditor(&dir);
        let acted = a
            .act(Entry::new(Action::DatabaseChange, "db"), |step| {
                step.outcome(Outcome::Cancelled);
                Err::<(), _>("the DBA cancelled")
            })
            .unwrap();
        let row = acted.recorded.unwrap();
        assert_eq!(row.outcome, "cancelled");
        assert!(row.details.contains("the DBA cancelled"), "{}", row.details);
        let failed = a.attempt(Entry::new(Action::HsmLogin, "tok"), |_| {
            Err::<(), _>("CKR_PIN_INCORRECT")
        });
        assert_eq!(failed.recorded.unwrap().outcome, "failure");

        // A log that refuses every write: the action's closure never runs.
        drop(a);
        let path = dir.path().join("t.sqlite3");
        let mut perms = std::fs::metadata(&path).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o400);
        std::fs::set_permissions(&path, perms).unwrap();
        if nix_is_root() {
            return; // root writes through file modes: the refusal cannot be staged this way
        }
        let mut a = auditor(&dir);
        let mut ran = false;
        let r = a.act(Entry::new(Action::DatabaseChange, "db"), |_| {
            ran = true;
            Ok::<_, String>(())
        });
        assert!(matches!(r, Err(AuditError::NotStarted(_))));
        assert!(!ran);
    }

    fn nix_is_root() -> bool {
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() == 0 }
    }

    #[test]
    fn a_batch_chains_like_single_appends() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = auditor(&dir);
        a.record(Action::HsmLogin, "t", Outcome::Success, None, json!({}))
            .unwrap();
        let batch: Vec<_> = (0..50)
            .map(|i| {
                (
                    Action::HsmInventory,
                    format!("t{i}"),
                    Outcome::Success,
                    Some("cu".to_owned()),
                    json!({ "i": i }),
                )
            })
            .collect();
        let last = a.record_batch(&batch).unwrap().unwrap();
        assert_eq!(last.seq, 51);
        a.record(Action::HsmLogout, "t", Outcome::Success, None, json!({}))
            .unwrap();
        assert_eq!(
            verify(a.store()).unwrap(),
            Verification::Intact { entries: 52 }
        );
    }

    #[test]
    fn canonical_encoding_separates_fields_unambiguously() {
        let base = AuditRow {
            seq: 1,
            ts_ms: 2,
            os_user: "ab".into(),
            hsm_user: None,
            host: "c".into(),
            action: "a".into(),
            target: "t".into(),
            outcome: "success".into(),
            details: "{}".into(),
            prev_hash: [0; 32],
            hash: [0; 32],
        };
        let mut shifted = base.clone();
        shifted.os_user = "a".into();
        shifted.host = "bc".into();
        assert_ne!(canonical(&base), canonical(&shifted));
        let mut empty_user = base.clone();
        empty_user.hsm_user = Some(String::new());
        assert_ne!(canonical(&base), canonical(&empty_user));
    }

    #[test]
    fn action_names_are_unique_and_dotted() {
        let mut names: Vec<_> = Action::ALL.iter().map(|a| a.as_str()).collect();
        assert!(names.iter().all(|n| n.contains('.')));
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Action::ALL.len());
    }
}
