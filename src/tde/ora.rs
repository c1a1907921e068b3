//! The ORA- errors tdekey meets on the way to an HSM keystore: their exact texts (as Oracle 19c
//! prints them in English), the [`Reply`] a database gives with them, and a sentence for a DBA
//! on what each usually means and what to do (reference/oracle-tde.md, "Errors a DBA meets on
//! the way to an HSM, and what they usually mean").

use crate::tde::output::OraError;
use crate::tde::request::Reply;

/// One ORA- error as Oracle prints it: `<code>: <text>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OraCode {
    /// `ORA-28353`
    pub code: &'static str,
    /// `failed to open wallet`
    pub text: &'static str,
}

impl OraCode {
    /// The error line as [`crate::tde::output::ora_errors`] reads it back.
    pub fn error(self) -> OraError {
        OraError {
            code: self.code.to_owned(),
            text: self.text.to_owned(),
        }
    }

    /// Oracle refused with this error alone.
    pub fn reply(self) -> Reply {
        reply(self, &[])
    }

    /// Oracle refused with this error, then `next` (as `ORA-28353` is followed by the
    /// `ORA-28407` that says why).
    pub fn then(self, next: OraCode) -> Reply {
        reply(self, &[next])
    }

    /// What the error usually means and what to do.
    pub fn explain(self) -> Option<&'static str> {
        explain(self.code)
    }
}

impl From<OraCode> for OraError {
    fn from(c: OraCode) -> Self {
        c.error()
    }
}

/// `Reply::Error` with `first` and the errors printed after it, in order.
pub fn reply(first: OraCode, more: &[OraCode]) -> Reply {
    Reply::Error {
        error: first.error(),
        more: more.iter().map(|c| c.error()).collect(),
    }
}

/// `Reply::Error` from error lines in the order Oracle printed them; `None` when there is none.
pub fn reply_of(errors: impl IntoIterator<Item = OraError>) -> Option<Reply> {
    let mut it = errors.into_iter();
    let error = it.next()?;
    Some(Reply::Error {
        error,
        more: it.collect(),
    })
}

/// `ORA-28407: Hardware Security Module failed with PKCS#11 error <name>(<number>)`, for any
/// PKCS#11 return value (`CKR_GENERAL_ERROR`, 5).
pub fn hsm_failed(ckr_name: &str, ckr_value: u64) -> OraError {
    OraError {
        code: HSM_FAILED_CODE.to_owned(),
        text: format!("{HSM_FAILED_TEXT} {ckr_name}({ckr_value})"),
    }
}

const HSM_FAILED_CODE: &str = "ORA-28407";
const HSM_FAILED_TEXT: &str = "Hardware Security Module failed with PKCS#11 error";

pub const FAILED_TO_OPEN: OraCode = OraCode {
    code: "ORA-28353",
    text: "failed to open wallet",
};
pub const ALREADY_OPEN: OraCode = OraCode {
    code: "ORA-28354",
    text: "Encryption wallet, auto login wallet, or HSM is already open",
};
pub const NO_MASTER_KEY: OraCode = OraCode {
    code: "ORA-28362",
    text: "master key not found",
};
pub const NOT_OPEN: OraCode = OraCode {
    code: "ORA-28365",
    text: "wallet is not open",
};
pub const INVALID_OPERATION: OraCode = OraCode {
    code: "ORA-28366",
    text: "invalid wallet operation",
};
pub const DOES_NOT_EXIST: OraCode = OraCode {
    code: "ORA-28367",
    text: "wallet does not exist",
};
pub const KEY_NOT_FOUND: OraCode = OraCode {
    code: "ORA-28374",
    text: "typed master key not found in wallet",
};
pub const NO_PKCS11_LIBRARY: OraCode = OraCode {
    code: "ORA-28376",
    text: "cannot find PKCS11 library",
};
/// ORA-28407 for a wrong HSM password.
pub const HSM_PIN_INCORRECT: OraCode = OraCode {
    code: HSM_FAILED_CODE,
    text: "Hardware Security Module failed with PKCS#11 error CKR_PIN_INCORRECT(160)",
};
/// ORA-28407 for an HSM user locked after too many failed logins.
pub const HSM_PIN_LOCKED: OraCode = OraCode {
    code: HSM_FAILED_CODE,
    text: "Hardware Security Module failed with PKCS#11 error CKR_PIN_LOCKED(164)",
};
pub const KEYS_IN_HSM: OraCode = OraCode {
    code: "ORA-28414",
    text: "specified keys are in HSM",
};
pub const MASTER_KEY_IN_FILE: OraCode = OraCode {
    code: "ORA-28415",
    text: "current master key is in the FILE wallet",
};
pub const PASSWORD_KEYSTORE_NOT_OPEN: OraCode = OraCode {
    code: "ORA-28417",
    text: "password-based keystore is not open",
};
pub const MISMATCH: OraCode = OraCode {
    code: "ORA-46627",
    text: "keystore password mismatch",
};
pub const CANNOT_CREATE: OraCode = OraCode {
    code: "ORA-46630",
    text: "keystore cannot be created at the specified location",
};
pub const NEEDS_BACKUP: OraCode = OraCode {
    code: "ORA-46631",
    text: "keystore needs to be backed up",
};
pub const NO_WALLET_ROOT: OraCode = OraCode {
    code: "ORA-46693",
    text: "The WALLET_ROOT location is missing or invalid.",
};
pub const SPFILE_UPDATE_FAILED: OraCode = OraCode {
    code: "ORA-32017",
    text: "failure in updating SPFILE",
};
pub const CLOSE_PASSWORD_MISMATCH: OraCode = OraCode {
    code: "ORA-28391",
    text: "cannot close wallet or HSM, password mismatch",
};
/// CONTAINER = ALL re-keyed some containers and not others (21c text, seen in two real
/// outputs: tests/fixtures/oracle/feedback/ora-46663-*.txt).
pub const NOT_CREATED_FOR_ALL_PDBS: OraCode = OraCode {
    code: "ORA-46663",
    text: "master keys not created for all PDBs for REKEY",
};
/// The 12.2 text of the same outcome (tests/fixtures/oracle/feedback/ora-46665-*.txt).
pub const NOT_ACTIVATED_FOR_ALL_PDBS: OraCode = OraCode {
    code: "ORA-46665",
    text: "master keys not activated for all PDBs during REKEY",
};
pub const NO_SUCH_KEY_ID: OraCode = OraCode {
    code: "ORA-46649",
    text: "master key with the specified identifier does not exist",
};
pub const INSUFFICIENT_PRIVILEGES: OraCode = OraCode {
    code: "ORA-01031",
    text: "insufficient privileges",
};
pub const WALLET_OPEN_FAILED: OraCode = OraCode {
    code: "ORA-12578",
    text: "TNS:wallet open failed",
};

/// Every error of the catalogue, by code (ORA-28407 twice: two PKCS#11 errors).
pub const CATALOGUE: &[OraCode] = &[
    FAILED_TO_OPEN,
    ALREADY_OPEN,
    NO_MASTER_KEY,
    NOT_OPEN,
    INVALID_OPERATION,
    DOES_NOT_EXIST,
    KEY_NOT_FOUND,
    NO_PKCS11_LIBRARY,
    HSM_PIN_INCORRECT,
    HSM_PIN_LOCKED,
    KEYS_IN_HSM,
    MASTER_KEY_IN_FILE,
    PASSWORD_KEYSTORE_NOT_OPEN,
    MISMATCH,
    CANNOT_CREATE,
    NEEDS_BACKUP,
    NO_WALLET_ROOT,
    SPFILE_UPDATE_FAILED,
    CLOSE_PASSWORD_MISMATCH,
    NOT_CREATED_FOR_ALL_PDBS,
    NOT_ACTIVATED_FOR_ALL_PDBS,
    NO_SUCH_KEY_ID,
    INSUFFICIENT_PRIVILEGES,
    WALLET_OPEN_FAILED,
];

/// Codes with an explanation whose text is not in the catalogue (Oracle's wording is not known).
pub const EXPLAINED_WITHOUT_TEXT: &[&str] = &["ORA-46623"];

/// Oracle's answers for CONTAINER = ALL done in some containers only (ORA-46662 … ORA-46666):
/// some containers changed and others did not.
pub fn partial_container_all(code: &str) -> bool {
    (46662..=46666).contains(
        &code
            .trim()
            .to_ascii_uppercase()
            .strip_prefix("ORA-")
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(0),
    )
}

/// Oracle's refusal as a sentence, with what it usually means; `None` when the reply is not
/// an error.
pub fn refusal(reply: &Reply) -> Option<String> {
    let Reply::Error { error, more } = reply else {
        return None;
    };
    let mut s = format!("Oracle answered {}: {}.", error.code, error.text);
    for m in more {
        s.push_str(&format!(" {}: {}.", m.code, m.text));
    }
    if let Some(x) = explain(&error.code) {
        s.push(' ');
        s.push_str(x);
    }
    Some(s)
}

/// What an ORA- error usually means for a DBA moving TDE to an HSM, and what to do; `None`
/// for a code tdekey knows nothing about. `code` is `ORA-nnnnn` (any case).
pub fn explain(code: &str) -> Option<&'static str> {
    let code = code.trim().to_ascii_uppercase();
    Some(match code.as_str() {
        "ORA-28353" => {
            "The keystore could not be opened: usually a wrong keystore password, a wrong HSM user:password, or no wallet where TDE_CONFIGURATION points. Check the password and the user, then WALLET_ROOT and TDE_CONFIGURATION; an ORA-28407 line after it gives the HSM's reason."
        }
        "ORA-28354" => {
            "The keystore is already open: nothing was changed. Query V$ENCRYPTION_WALLET to see how it is open (an auto-login keystore opens by itself when the view is queried)."
        }
        "ORA-28362" => {
            "The keystore holds no master key for this container yet (V$ENCRYPTION_WALLET then shows OPEN_NO_MASTER_KEY): set one with ADMINISTER KEY MANAGEMENT SET KEY first (unverified: which statements Oracle answers this to)."
        }
        "ORA-28365" => {
            "The keystore is not open: open it first. With auto-login, check the auto-login file under WALLET_ROOT; a local auto-login keystore is not supported on RAC."
        }
        "ORA-28366" => {
            "The operation does not fit the keystore's state or TDE_CONFIGURATION (unverified: Oracle's error for migrating while TDE_CONFIGURATION lacks HSM is not confirmed anywhere public). Query V$ENCRYPTION_WALLET and SHOW PARAMETER tde_configuration, and set KEYSTORE_CONFIGURATION=HSM|FILE before a migration."
        }
        "ORA-28367" => {
            "Oracle finds no keystore: WALLET_ROOT is wrong, or the HSM library cannot be reached. Check WALLET_ROOT (the file wallet lives in WALLET_ROOT/tde) and the library under /opt/oracle/extapi/64/hsm/."
        }
        "ORA-28374" => {
            "The key id named is not in the keystore: a wrong wallet was copied, or the HSM key is not shared with Oracle's crypto user. Check the ORACLE.TDE.HSM.MK. label on the token and share the key with the crypto user Oracle logs in as."
        }
        "ORA-28376" => {
            "Oracle cannot find its PKCS#11 library: there is no library under /opt/oracle/extapi/64/hsm/<vendor>/<version>/, or more than one. Leave exactly one, owned by the Oracle software owner (the owner of ORACLE_HOME, often oracle:oinstall), at the same path on every RAC node."
        }
        "ORA-28407" => {
            "The HSM refused the PKCS#11 call named in the message. CKR_PIN_INCORRECT(160): wrong HSM password; CKR_PIN_LOCKED(164): the user is locked after too many failed logins and an HSM admin must reset it; CKR_GENERAL_ERROR(5): wrong user, or the HSM client cannot reach the cluster; CKR_FUNCTION_FAILED(6) has been seen with EXTERNAL STORE."
        }
        "ORA-28414" => {
            "TDE_CONFIGURATION says FILE while the keys are in the HSM. Set KEYSTORE_CONFIGURATION to HSM (or HSM|FILE) so Oracle looks for them there."
        }
        "ORA-28415" => {
            "TDE_CONFIGURATION says HSM while the current master key is still in the file wallet: migrate the key first (SET ENCRYPTION KEY … MIGRATE USING with KEYSTORE_CONFIGURATION=HSM|FILE)."
        }
        "ORA-28417" => {
            "An auto-login keystore is open where the password-based one is needed: close it and open the password keystore, or add FORCE KEYSTORE to the statement."
        }
        "ORA-46623" => {
            "(unverified: Oracle's text for this error is not published) One KMS vendor reports it for MIGRATE … WITH BACKUP in HSM|FILE mode and drops WITH BACKUP to avoid it. tdekey's sealed backup of step 6 holds the wallet: run the statement without WITH BACKUP."
        }
        "ORA-46627" => {
            "The password given is not the keystore's password: check the wallet password and run the statement again."
        }
        "ORA-46630" => {
            "Oracle cannot create a keystore where asked: usually one already exists there, or the directory is wrong (unverified). Check WALLET_ROOT/tde before creating a keystore."
        }
        "ORA-46631" => {
            "A statement that changes a password file keystore needs WITH BACKUP: add WITH BACKUP (optionally USING '<tag>') and run it again."
        }
        "ORA-46693" => {
            "WALLET_ROOT is not set or not usable. Set it first (ALTER SYSTEM SET WALLET_ROOT=… SCOPE=SPFILE, a static parameter, then restart); TDE_CONFIGURATION cannot be set before it."
        }
        "ORA-32017" => {
            "ALTER SYSTEM could not update the server parameter file; the ORA- line after it says why (ORA-46693 when TDE_CONFIGURATION is set before WALLET_ROOT)."
        }
        "ORA-28391" => {
            "The keystore was not closed: the password given is not the one it was opened with, or a password or HSM keystore was closed without IDENTIFIED BY (a bare SET KEYSTORE CLOSE closes an auto-login keystore only). Close it IDENTIFIED BY its password, the HSM user:password, or EXTERNAL STORE."
        }
        "ORA-46662" | "ORA-46663" | "ORA-46664" | "ORA-46665" | "ORA-46666" => {
            "CONTAINER = ALL worked in some containers only: some PDBs kept their old key (their keystore was closed, or the statement failed there). Read V$ENCRYPTION_KEYS for every CON_ID to see which container holds which key, open the keystore where it is closed, and run the statement again for the containers left."
        }
        "ORA-46649" => {
            "USE KEY named an id the keystore does not hold (reference/oracle-tde.md: whether 19c answers this or ORA-28374 is not confirmed; tdekey reads both the same way). Check the ORACLE.TDE.HSM.MK.06… label on the token and that the key is shared with Oracle's crypto user."
        }
        "ORA-01031" => {
            "The session lacks a privilege for this statement. SYSKM (or ADMINISTER KEY MANAGEMENT) may run ADMINISTER KEY MANAGEMENT and read the encryption views, but not ALTER SYSTEM nor SHOW PARAMETER/V$PARAMETER: connect AS SYSDBA for those, or have ALTER SYSTEM and SELECT on V$PARAMETER granted to the user the profile names."
        }
        "ORA-12578" => {
            "A local auto-login wallet was copied from another host or OS user: it opens only where it was made. Create the auto-login keystore again on this host (a local auto-login wallet is not supported on RAC)."
        }
        _ => return None,
    })
}

impl OraError {
    /// [`explain`] for this error's code.
    pub fn explanation(&self) -> Option<&'static str> {
        explain(&self.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tde::output::ora_errors;

    #[test]
    fn the_catalogue_reads_back_as_it_is_written() {
        for c in CATALOGUE {
            let line = format!("{}: {}", c.code, c.text);
            assert_eq!(ora_errors(&line), [c.error()], "{line}");
            assert!(
                c.code.starts_with("ORA-") && c.code.len() == 9,
                "{}",
                c.code
            );
            assert!(!c.text.is_empty());
        }
    }

    #[test]
    fn partial_container_all_outcomes_are_recognised_and_explained() {
        for code in ["ORA-46662", "ora-46663", "ORA-46666"] {
            assert!(partial_container_all(code), "{code}");
            assert!(explain(code).is_some(), "{code}");
        }
        for code in ["ORA-46661", "ORA-46667", "ORA-28353", "46663"] {
            assert!(!partial_container_all(code), "{code}");
        }
    }

    #[test]
    fn every_code_is_explained_in_a_sentence_or_two() {
        let all = CATALOGUE
            .iter()
            .map(|c| c.code)
            .chain(EXPLAINED_WITHOUT_TEXT.iter().copied());
        for code in all {
            let e = explain(code).unwrap_or_else(|| panic!("no explanation for {code}"));
            assert!(e.ends_with('.'), "{code}: {e}");
            assert!(e.matches(". ").count() <= 2, "{code}: {e}");
            assert!(e.len() <= 400, "{code} is {} characters", e.len());
        }
        assert_eq!(explain("ora-28353"), explain("ORA-28353"));
        assert_eq!(explain("ORA-00942"), None);
        // What the reference leaves unconfirmed is marked so.
        for code in ["ORA-46623", "ORA-28366"] {
            assert!(explain(code).is_some_and(|e| e.contains("(unverified")));
        }
    }

    #[test]
    fn the_reference_errors_are_all_explained() {
        // reference/oracle-tde.md, "Errors a DBA meets …" and "Useful errors".
        for code in [
            "ORA-28353",
            "ORA-28365",
            "ORA-28367",
            "ORA-28374",
            "ORA-28376",
            "ORA-28407",
            "ORA-28414",
            "ORA-28415",
            "ORA-28417",
            "ORA-46631",
            "ORA-12578",
            "ORA-46623",
        ] {
            assert!(explain(code).is_some(), "{code}");
        }
    }

    #[test]
    fn replies_from_one_or_several_codes() {
        assert_eq!(
            FAILED_TO_OPEN.reply(),
            Reply::Error {
                error: OraError {
                    code: "ORA-28353".into(),
                    text: "failed to open wallet".into()
                },
                more: vec![]
            }
        );
        let two = FAILED_TO_OPEN.then(HSM_PIN_INCORRECT);
        assert_eq!(
            two,
            reply(FAILED_TO_OPEN, &[HSM_PIN_INCORRECT]),
            "then is reply with one more"
        );
        assert_eq!(
            two.summary(),
            "ORA-28353: failed to open wallet",
            "the first error is the summary"
        );
        match &two {
            Reply::Error { more, .. } => assert_eq!(
                more[0].text,
                "Hardware Security Module failed with PKCS#11 error CKR_PIN_INCORRECT(160)"
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            reply_of([SPFILE_UPDATE_FAILED.error(), NO_WALLET_ROOT.error()]),
            Some(SPFILE_UPDATE_FAILED.then(NO_WALLET_ROOT))
        );
        assert_eq!(reply_of(Vec::new()), None);
        assert_eq!(OraError::from(NOT_OPEN), NOT_OPEN.error());
        assert!(NOT_OPEN.error().explanation().is_some());
        assert_eq!(NOT_OPEN.explain(), explain("ORA-28365"));
    }

    #[test]
    fn hsm_failures_for_any_pkcs11_error() {
        assert_eq!(
            hsm_failed("CKR_PIN_INCORRECT", 160),
            HSM_PIN_INCORRECT.error()
        );
        assert_eq!(hsm_failed("CKR_PIN_LOCKED", 164), HSM_PIN_LOCKED.error());
        assert_eq!(
            hsm_failed("CKR_GENERAL_ERROR", 5).text,
            "Hardware Security Module failed with PKCS#11 error CKR_GENERAL_ERROR(5)"
        );
    }
}
