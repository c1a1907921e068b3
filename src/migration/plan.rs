//! The steps of a migration, in order, with what each does and why: AWS's procedure for
//! Oracle 19c with CloudHSM Client SDK 5 (reference/oracle-tde.md), path A (file wallet → HSM).

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepId {
    Choose,
    FromOtherHsm,
    HsmClient,
    OracleLibrary,
    WalletConfig,
    Backup,
    HsmFile,
    FileOpen,
    Migrate,
    Verify,
    AutoLogin,
    Done,
}

impl StepId {
    pub const ALL: &'static [StepId] = &[
        StepId::Choose,
        StepId::FromOtherHsm,
        StepId::HsmClient,
        StepId::OracleLibrary,
        StepId::WalletConfig,
        StepId::Backup,
        StepId::HsmFile,
        StepId::FileOpen,
        StepId::Migrate,
        StepId::Verify,
        StepId::AutoLogin,
        StepId::Done,
    ];

    /// 1-based, as the plan numbers them.
    pub fn number(self) -> usize {
        Self::ALL.iter().position(|s| *s == self).unwrap_or(0) + 1
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StepId::Choose => "choose",
            StepId::FromOtherHsm => "from-other-hsm",
            StepId::HsmClient => "hsm-client",
            StepId::OracleLibrary => "oracle-library",
            StepId::WalletConfig => "wallet-config",
            StepId::Backup => "backup",
            StepId::HsmFile => "hsm-file",
            StepId::FileOpen => "file-open",
            StepId::Migrate => "migrate",
            StepId::Verify => "verify",
            StepId::AutoLogin => "auto-login",
            StepId::Done => "done",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        Self::ALL
            .iter()
            .copied()
            .find(|x| x.as_str() == s || x.number().to_string() == s)
    }

    pub fn title(self) -> &'static str {
        match self {
            StepId::Choose => "Database and HSM",
            StepId::FromOtherHsm => "From the other HSM to the file wallet",
            StepId::HsmClient => "HSM client",
            StepId::OracleLibrary => "Oracle's PKCS#11 library",
            StepId::WalletConfig => "Wallet configuration",
            StepId::Backup => "Back up the wallet",
            StepId::HsmFile => "TDE_CONFIGURATION HSM|FILE",
            StepId::FileOpen => "File keystore open",
            StepId::Migrate => "Migrate the master key",
            StepId::Verify => "Verify on both sides",
            StepId::AutoLogin => "HSM auto-login",
            StepId::Done => "Report",
        }
    }

    /// What the step does and why, for the person running it.
    pub fn about(self) -> &'static str {
        match self {
            StepId::Choose => {
                "Logs in to the HSM as the crypto user Oracle will use, proves that the token generates an AES-256 key and computes the checkpoint HMAC (with session keys, destroyed at once: a mechanism list is no proof), reads the session's privileges and roles (SESSION_PRIVS, SESSION_ROLES: the later steps need ADMINISTER KEY MANAGEMENT, ALTER SYSTEM and SHOW PARAMETER) and reads V$ENCRYPTION_WALLET, TDE_CONFIGURATION and V$ENCRYPTION_KEYS to tell where the master key is now (the key ids it lists are recorded: the migration's key is the one the database did not know, found on the token by its label, whatever other databases add to a shared HSM meanwhile)."
            }
            StepId::FromOtherHsm => {
                "Path B only (skipped when the master key is in a file wallet): with the old vendor's PKCS#11 library still in place, TDE_CONFIGURATION becomes FILE|HSM, the master key is reverse-migrated from the old HSM into the file wallet, and TDE_CONFIGURATION becomes FILE. Then the old library is replaced by this HSM's (step 4) and the migration goes on as from a file wallet."
            }
            StepId::HsmClient => {
                "Oracle talks to AWS CloudHSM through the CloudHSM PKCS#11 client on the database host: it must be configured with the cluster's HSM addresses, and the cluster's CA certificate must be at the path its configuration names (hsm_ca_file: /opt/cloudhsm/etc/customerCA.crt unless configure-pkcs11 --hsm-ca-cert named another), on every database host (each RAC node, each standby); the crypto user must be able to generate AES keys."
            }
            StepId::OracleLibrary => {
                "Oracle loads the HSM vendor's PKCS#11 library from /opt/oracle/extapi/64/hsm/<vendor>/<version>/. There must be exactly one library there, readable by the Oracle software owner, or Oracle answers ORA-28376; and it must be this HSM's (a copy of the library tdekey loads), or Oracle keeps talking to the HSM it belongs to. On every RAC node and every standby's host."
            }
            StepId::WalletConfig => {
                "The keystore is found through WALLET_ROOT and TDE_CONFIGURATION (sqlnet.ora's ENCRYPTION_WALLET_LOCATION is deprecated from 19c). The software keystore must be where they say, with its master key, on every RAC node and standby host (no local auto-login wallet on RAC)."
            }
            StepId::Backup => {
                "Before anything changes, ewallet.p12, cwallet.sso and the wallet's backups are sealed into one file under a passphrase, each file's SHA-256 recorded in the audit log, and the backup read back and checked."
            }
            StepId::HsmFile => {
                "TDE_CONFIGURATION=\"KEYSTORE_CONFIGURATION=HSM|FILE\" makes the HSM the primary keystore and keeps the file wallet as secondary, so the old keys stay readable. It takes effect after a restart, which tdekey never does by itself."
            }
            StepId::FileOpen => {
                "The migration reads the current master key from the file keystore, so it must be open (V$ENCRYPTION_WALLET: FILE OPEN). With Data Guard standbys, each must be ready before the migration: the same HSM client and library, TDE_CONFIGURATION HSM|FILE and its HSM keystore open (or auto-login), since redo made under the new master key will need it; a person confirms it."
            }
            StepId::Migrate => {
                "ADMINISTER KEY MANAGEMENT SET ENCRYPTION KEY … MIGRATE USING … makes a new master key on the HSM and re-encrypts the table and tablespace keys with it; the data itself is not re-encrypted. The passwords are asked here only."
            }
            StepId::Verify => {
                "V$ENCRYPTION_WALLET must show the HSM keystore OPEN and PRIMARY, V$ENCRYPTION_KEYS exactly one new key since the first step, active, in the HSM, and the token that key once under the ORACLE.TDE.HSM.MK.06… label its id gives (and its metadata object), healthy. Only those labels are looked up: keys other databases make on a shared HSM meanwhile change nothing."
            }
            StepId::AutoLogin => {
                "Optional (recommended for RAC and Data Guard): the HSM password is added as the secret HSM_PASSWORD to the software keystore under WALLET_ROOT/tde (WITH BACKUP), the password keystore is closed, an auto-login keystore is made from it, and after a restart the auto-login file keystore opens the HSM keystore by itself (TDE_CONFIGURATION HSM|FILE). Separately, and only if chosen, the HSM password also goes to the external store (WALLET_ROOT/tde_seps) so statements can say IDENTIFIED BY EXTERNAL STORE; that store opens nothing by itself."
            }
            StepId::Done => {
                "A report of the migration for the change ticket and the auditor: every step, the statements with their secrets hidden, what came back, the checks, the overrides and their reasons, the new key and the backup."
            }
        }
    }
}

/// The steps of a rollback, in order. Each reads the database first, so a rollback resumes
/// where it stopped like the plan does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackStep {
    FileFirst,
    Reverse,
    FileOnly,
    Wallet,
    Closed,
}

impl BackStep {
    pub const ALL: &'static [BackStep] = &[
        BackStep::FileFirst,
        BackStep::Reverse,
        BackStep::FileOnly,
        BackStep::Wallet,
        BackStep::Closed,
    ];

    /// 1-based, as the rollback numbers them (shown as R1, R2, …).
    pub fn number(self) -> usize {
        Self::ALL.iter().position(|s| *s == self).unwrap_or(0) + 1
    }

    pub fn as_str(self) -> &'static str {
        match self {
            BackStep::FileFirst => "file-first",
            BackStep::Reverse => "reverse",
            BackStep::FileOnly => "file-only",
            BackStep::Wallet => "wallet",
            BackStep::Closed => "closed",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            BackStep::FileFirst => "TDE_CONFIGURATION FILE|HSM",
            BackStep::Reverse => "Reverse migration",
            BackStep::FileOnly => "TDE_CONFIGURATION back",
            BackStep::Wallet => "The file wallet",
            BackStep::Closed => "Rolled back",
        }
    }

    pub fn about(self) -> &'static str {
        match self {
            BackStep::FileFirst => {
                "Only when the master key is on the HSM: TDE_CONFIGURATION=\"KEYSTORE_CONFIGURATION=FILE|HSM\" makes the file wallet primary again, as the reverse migration needs. It takes effect after a restart, which tdekey never does by itself."
            }
            BackStep::Reverse => {
                "ADMINISTER KEY MANAGEMENT SET ENCRYPTION KEY IDENTIFIED BY \"<wallet password>\" REVERSE MIGRATE USING \"<user>:<password>\" WITH BACKUP: Oracle makes a new master key in the file wallet and re-encrypts the table and tablespace keys with it. The master key on the HSM is not deleted (tdekey never deletes a master key): old backups of the database may need it."
            }
            BackStep::FileOnly => {
                "TDE_CONFIGURATION goes back to what it was at step 1 (normally FILE), then a restart; after it, V$ENCRYPTION_WALLET shows the file keystore only, open."
            }
            BackStep::Wallet => {
                "When the master key never left the file wallet, the wallet files are compared with the step-6 backup and restored from it if they changed. After a reverse migration they are not: the wallet then holds the new master key the data needs, and the backup does not."
            }
            BackStep::Closed => {
                "The migration is closed as rolled back; the report shows the plan, the rollback and their reasons."
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_numbered_named_and_parsed() {
        assert_eq!(StepId::ALL.len(), 12);
        for (i, s) in StepId::ALL.iter().enumerate() {
            assert_eq!(s.number(), i + 1);
            assert_eq!(StepId::parse(s.as_str()), Some(*s));
            assert_eq!(StepId::parse(&(i + 1).to_string()), Some(*s));
            assert!(!s.about().is_empty() && !s.title().is_empty());
        }
        assert_eq!(StepId::parse("nope"), None);
    }
}
