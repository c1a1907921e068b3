//! The steps of a migration, in order, with what each does and why: AWS's procedure for
//! Oracle 19c with CloudHSM Client SDK 5 (reference/oracle-tde.md), path A (file wallet → HSM).

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepId {
    Choose,
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
                "Logs in to the HSM as the crypto user Oracle will use, lists the token's objects (a snapshot to compare with after the migration) and reads V$ENCRYPTION_WALLET and TDE_CONFIGURATION to tell where the master key is now."
            }
            StepId::HsmClient => {
                "Oracle talks to AWS CloudHSM through the CloudHSM PKCS#11 client on the database host: it must be configured with the cluster's HSM addresses and the customer CA certificate, and the crypto user must be able to generate AES keys."
            }
            StepId::OracleLibrary => {
                "Oracle loads the HSM vendor's PKCS#11 library from /opt/oracle/extapi/64/hsm/<vendor>/<version>/. There must be exactly one library there, readable by the Oracle software owner, or Oracle answers ORA-28376."
            }
            StepId::WalletConfig => {
                "The keystore is found through WALLET_ROOT and TDE_CONFIGURATION (sqlnet.ora's ENCRYPTION_WALLET_LOCATION is deprecated from 19c). The software keystore must be where they say, with its master key."
            }
            StepId::Backup => {
                "Before anything changes, ewallet.p12, cwallet.sso and the wallet's backups are sealed into one file under a passphrase, each file's SHA-256 recorded in the audit log, and the backup read back and checked."
            }
            StepId::HsmFile => {
                "TDE_CONFIGURATION=\"KEYSTORE_CONFIGURATION=HSM|FILE\" makes the HSM the primary keystore and keeps the file wallet as secondary, so the old keys stay readable. It takes effect after a restart, which tdekey never does by itself."
            }
            StepId::FileOpen => {
                "The migration reads the current master key from the file keystore, so it must be open (V$ENCRYPTION_WALLET: FILE OPEN)."
            }
            StepId::Migrate => {
                "ADMINISTER KEY MANAGEMENT SET ENCRYPTION KEY … MIGRATE USING … makes a new master key on the HSM and re-encrypts the table and tablespace keys with it; the data itself is not re-encrypted. The passwords are asked here only."
            }
            StepId::Verify => {
                "V$ENCRYPTION_WALLET must show the HSM keystore OPEN and PRIMARY, the token exactly one new ORACLE.TDE.HSM.MK.06… key (and its metadata object) since the first step, healthy, and V$ENCRYPTION_KEYS that key active in the HSM."
            }
            StepId::AutoLogin => {
                "Optional (recommended for RAC and Data Guard): the HSM password stored as the HSM_PASSWORD secret in an auto-login keystore under WALLET_ROOT/tde_seps, so that the HSM keystore opens by itself after a restart."
            }
            StepId::Done => {
                "A report of the migration for the change ticket and the auditor: every step, the statements with their secrets hidden, what came back, the checks, the overrides and their reasons, the new key and the backup."
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_numbered_named_and_parsed() {
        assert_eq!(StepId::ALL.len(), 11);
        for (i, s) in StepId::ALL.iter().enumerate() {
            assert_eq!(s.number(), i + 1);
            assert_eq!(StepId::parse(s.as_str()), Some(*s));
            assert_eq!(StepId::parse(&(i + 1).to_string()), Some(*s));
            assert!(!s.about().is_empty() && !s.title().is_empty());
        }
        assert_eq!(StepId::parse("nope"), None);
    }
}
