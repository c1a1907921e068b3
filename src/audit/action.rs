//! What tdekey records: every action by its dotted name, and how it ended.

/// Every action tdekey records, by its dotted name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Loading a PKCS#11 module and reading its slots.
    HsmConnect,
    /// A crypto-user login (success or failure).
    HsmLogin,
    HsmLogout,
    /// Closing the session and unloading the module.
    HsmDisconnect,
    /// Listing the objects on a token.
    HsmInventory,
    /// Key generation and the checkpoint HMAC proved with session keys that are destroyed.
    HsmProbe,
    /// Initializing a (demo) token.
    HsmTokenInit,
    /// Generating a key on the HSM.
    KeyGenerate,
    /// Creating a data object on the HSM.
    DataObjectCreate,
    /// Saving or deleting a connection profile.
    ProfileChange,
    /// Verifying the audit chain.
    AuditVerify,
    /// Anchoring the chain head with an HMAC computed in the HSM.
    AuditCheckpoint,
    /// Exporting entries to a file.
    AuditExport,
    /// Decrypting an encrypted export.
    AuditDecrypt,
    /// Forwarding the log to a SIEM (`tdekey audit forward`): started, failed, resumed,
    /// stopped, with the destination, how many entries and up to which seq; never an entry per
    /// forwarded entry.
    AuditForward,
    /// Opening a wallet with its password to list its entries.
    WalletInspect,
    /// Adding, changing or removing a database profile.
    DatabaseChange,
    /// Reading the audit log (PCI DSS 10.2.1.3: access to audit logs is captured).
    AuditRead,
    /// A state-changing statement run through a database connector (Rehearsal included).
    OracleStatement,
    /// A migration of a database's master key to the HSM begins.
    MigrationStart,
    /// A step of the migration wizard ran (done, skipped, waiting for a person, failed).
    MigrationStep,
    /// A person overrode a failed check of the migration wizard, with a reason.
    MigrationOverride,
    /// A migration ended (done, rolled back, abandoned).
    MigrationEnd,
    /// A person chose to roll a migration back, with the reason.
    MigrationRollback,
    /// A migration's report written to a file.
    MigrationReport,
    /// Keystore files sealed into a backup, each with its SHA-256.
    WalletBackup,
    /// Keystore files written back from a backup.
    WalletRestore,
    /// A wallet backup opened and its files checked against their SHA-256.
    WalletBackupCheck,
    /// A master key recorded as a database's.
    KeyOwner,
    /// A master key on the token that nothing claims (neither V$ENCRYPTION_KEYS nor tdekey's
    /// records), after a run stopped while a key was being made: named, with what to do; never deleted.
    KeyOrphan,
    /// A rotation of a database's master key (started, then its outcome).
    RotationRun,
    /// A rotation policy set, changed or removed (with the old and new values).
    RotationPolicy,
    /// An unattended run over every due database (`tdekey rotate --due`).
    RotationDue,
    /// This computer's store copied into a team's shared store (`tdekey store copy`).
    StoreCopy,
    /// A recoverability report made (counts, missing key ids) or written to a file.
    RecoverabilityReport,
}

impl Action {
    /// What a filter may name: every family (`hsm.`) and every action, in order.
    pub fn filter_choices() -> Vec<&'static str> {
        let mut families: Vec<&'static str> = Self::ALL
            .iter()
            .filter_map(|a| {
                let name = a.as_str();
                name.find('.').map(|i| &name[..=i])
            })
            .collect();
        families.sort_unstable();
        families.dedup();
        let mut names: Vec<&'static str> = Self::ALL.iter().map(|a| a.as_str()).collect();
        names.sort_unstable();
        families.extend(names);
        families
    }

    pub const ALL: &'static [Action] = &[
        Action::HsmConnect,
        Action::HsmLogin,
        Action::HsmLogout,
        Action::HsmDisconnect,
        Action::HsmInventory,
        Action::HsmProbe,
        Action::HsmTokenInit,
        Action::KeyGenerate,
        Action::DataObjectCreate,
        Action::ProfileChange,
        Action::AuditVerify,
        Action::AuditCheckpoint,
        Action::AuditExport,
        Action::AuditDecrypt,
        Action::AuditForward,
        Action::WalletInspect,
        Action::DatabaseChange,
        Action::AuditRead,
        Action::OracleStatement,
        Action::MigrationStart,
        Action::MigrationStep,
        Action::MigrationOverride,
        Action::MigrationEnd,
        Action::MigrationRollback,
        Action::MigrationReport,
        Action::WalletBackup,
        Action::WalletRestore,
        Action::WalletBackupCheck,
        Action::KeyOwner,
        Action::KeyOrphan,
        Action::RotationRun,
        Action::RotationPolicy,
        Action::RotationDue,
        Action::StoreCopy,
        Action::RecoverabilityReport,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::HsmConnect => "hsm.connect",
            Action::HsmLogin => "hsm.login",
            Action::HsmLogout => "hsm.logout",
            Action::HsmDisconnect => "hsm.disconnect",
            Action::HsmInventory => "hsm.inventory",
            Action::HsmProbe => "hsm.probe",
            Action::HsmTokenInit => "hsm.token_init",
            Action::KeyGenerate => "key.generate",
            Action::DataObjectCreate => "hsm.data_object_create",
            Action::ProfileChange => "profile.change",
            Action::AuditVerify => "audit.verify",
            Action::AuditCheckpoint => "audit.checkpoint",
            Action::AuditExport => "audit.export",
            Action::AuditDecrypt => "audit.decrypt",
            Action::AuditForward => "audit.forward",
            Action::WalletInspect => "wallet.inspect",
            Action::DatabaseChange => "database.change",
            Action::AuditRead => "audit.read",
            Action::OracleStatement => "oracle.statement",
            Action::MigrationStart => "migration.start",
            Action::MigrationStep => "migration.step",
            Action::MigrationOverride => "migration.override",
            Action::MigrationEnd => "migration.end",
            Action::MigrationRollback => "migration.rollback",
            Action::MigrationReport => "migration.report",
            Action::WalletBackup => "wallet.backup",
            Action::WalletRestore => "wallet.restore",
            Action::WalletBackupCheck => "wallet.backup_check",
            Action::KeyOwner => "key.owner",
            Action::KeyOrphan => "key.orphan",
            Action::RotationRun => "rotation.run",
            Action::RotationPolicy => "rotation.policy",
            Action::RotationDue => "rotation.due",
            Action::StoreCopy => "store.copy",
            Action::RecoverabilityReport => "recoverability.report",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Started,
    Success,
    Failure,
    Cancelled,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Started => "started",
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Cancelled => "cancelled",
        }
    }
}
