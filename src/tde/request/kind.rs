//! The statements tdekey offers, as a list for a screen: their titles and what each needs
//! filled in before it can be built.

use crate::model::DatabaseProfile;

/// Every request the console offers, in the order a migration uses them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RequestKind {
    QueryWallet,
    QueryKeys,
    QueryDatabaseKey,
    QueryTablespaces,
    QueryPrivileges,
    ShowWalletRoot,
    ShowTdeConfiguration,
    SetWalletRoot,
    SetTdeConfiguration,
    Restart,
    CreateKeystore,
    OpenKeystore,
    CloseKeystore,
    Migrate,
    SetKey,
    UseKey,
    AddHsmSecret,
    CreateAutoLogin,
    AddExternalStoreSecret,
    Backup,
    ReverseMigrate,
}

/// Which secret authenticates a keystore operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CredentialChoice {
    /// The HSM crypto user's `user:password`.
    Hsm,
    /// The software keystore's password.
    Wallet,
    /// `IDENTIFIED BY EXTERNAL STORE`.
    ExternalStore,
}

/// The directory a request takes, and where it defaults to when none is typed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DirectoryField {
    /// WALLET_ROOT itself (default: the profile's WALLET_ROOT).
    WalletRoot,
    /// `WALLET_ROOT/tde_seps`, the external store (`IDENTIFIED BY EXTERNAL STORE`).
    TdeSeps,
    /// `WALLET_ROOT/tde`, the file keystore.
    Tde,
}

impl DirectoryField {
    /// The directory used when none is typed ("" when the profile has no WALLET_ROOT).
    pub fn default_for(self, db: &DatabaseProfile) -> String {
        match self {
            DirectoryField::WalletRoot => db.wallet_root.clone().unwrap_or_default(),
            DirectoryField::TdeSeps => db.wallet_dir(super::super::layout::SEPS_DIR),
            DirectoryField::Tde => db.wallet_dir(super::super::layout::KEYSTORE_DIR),
        }
    }
}

/// What a request needs filled in, for a form to show.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Needs {
    /// The HSM user name and password.
    pub hsm_login: bool,
    /// The software keystore (wallet) password.
    pub wallet_password: bool,
    /// A choice of credential ([`CredentialChoice`]).
    pub credential_choice: bool,
    /// A KEYSTORE_CONFIGURATION value.
    pub configuration: bool,
    /// A key id for USE KEY (34 hex digits).
    pub key_id: bool,
    /// A directory.
    pub directory: Option<DirectoryField>,
    /// The choice of a LOCAL auto-login keystore.
    pub local: bool,
    /// The choice of WITH BACKUP.
    pub with_backup: bool,
    /// An optional tag.
    pub tag: bool,
    /// The choice of CONTAINER = ALL (offered in a CDB only).
    pub all_containers: bool,
}

impl RequestKind {
    pub const ALL: &'static [RequestKind] = &[
        RequestKind::QueryWallet,
        RequestKind::QueryKeys,
        RequestKind::QueryDatabaseKey,
        RequestKind::QueryTablespaces,
        RequestKind::QueryPrivileges,
        RequestKind::ShowWalletRoot,
        RequestKind::ShowTdeConfiguration,
        RequestKind::SetWalletRoot,
        RequestKind::SetTdeConfiguration,
        RequestKind::Restart,
        RequestKind::CreateKeystore,
        RequestKind::OpenKeystore,
        RequestKind::CloseKeystore,
        RequestKind::Migrate,
        RequestKind::SetKey,
        RequestKind::UseKey,
        RequestKind::AddHsmSecret,
        RequestKind::CreateAutoLogin,
        RequestKind::AddExternalStoreSecret,
        RequestKind::Backup,
        RequestKind::ReverseMigrate,
    ];

    /// A short title for screens and audit entries.
    pub fn title(self) -> &'static str {
        match self {
            RequestKind::QueryWallet => "Query V$ENCRYPTION_WALLET",
            RequestKind::QueryKeys => "Query V$ENCRYPTION_KEYS",
            RequestKind::QueryDatabaseKey => "Query V$DATABASE_KEY_INFO",
            RequestKind::QueryTablespaces => "Query V$ENCRYPTED_TABLESPACES (with their names)",
            RequestKind::QueryPrivileges => "Query the session's privileges and roles",
            RequestKind::ShowWalletRoot => "Show WALLET_ROOT",
            RequestKind::ShowTdeConfiguration => "Show TDE_CONFIGURATION",
            RequestKind::SetWalletRoot => "Set WALLET_ROOT",
            RequestKind::SetTdeConfiguration => "Set TDE_CONFIGURATION",
            RequestKind::Restart => "Restart the database",
            RequestKind::CreateKeystore => "Create a software keystore",
            RequestKind::OpenKeystore => "Open the keystore",
            RequestKind::CloseKeystore => "Close the keystore",
            RequestKind::Migrate => "Migrate the master key to the HSM",
            RequestKind::SetKey => "Rotate: Oracle sets a new master key",
            RequestKind::UseKey => "Rotate: use a master key made on the HSM",
            RequestKind::AddHsmSecret => {
                "Store the HSM password in the software keystore (for HSM auto-login)"
            }
            RequestKind::AddExternalStoreSecret => {
                "Store the HSM password in the external store (for IDENTIFIED BY EXTERNAL STORE)"
            }
            RequestKind::CreateAutoLogin => "Create an auto-login keystore",
            RequestKind::Backup => "Back up the keystore",
            RequestKind::ReverseMigrate => "Reverse-migrate the master key to the file wallet",
        }
    }

    /// Whether the request is authenticated with a credential the user chooses.
    pub fn takes_credential_choice(self) -> bool {
        matches!(
            self,
            RequestKind::OpenKeystore
                | RequestKind::CloseKeystore
                | RequestKind::SetKey
                | RequestKind::UseKey
        )
    }

    /// What a form must offer for this request, given the credential chosen and whether WITH
    /// BACKUP is ticked (a backup tag is asked only then).
    pub fn needs(self, credential: CredentialChoice, with_backup: bool) -> Needs {
        use RequestKind as K;
        let choice = self.takes_credential_choice();
        let backup_choice = matches!(self, K::Migrate | K::SetKey);
        Needs {
            hsm_login: matches!(
                self,
                K::Migrate | K::ReverseMigrate | K::AddHsmSecret | K::AddExternalStoreSecret
            ) || (choice && credential == CredentialChoice::Hsm),
            wallet_password: matches!(
                self,
                K::Migrate
                    | K::ReverseMigrate
                    | K::CreateKeystore
                    | K::CreateAutoLogin
                    | K::Backup
                    | K::AddHsmSecret
            ) || (choice && credential == CredentialChoice::Wallet),
            credential_choice: choice,
            configuration: self == K::SetTdeConfiguration,
            key_id: self == K::UseKey,
            directory: match self {
                K::SetWalletRoot => Some(DirectoryField::WalletRoot),
                K::AddExternalStoreSecret => Some(DirectoryField::TdeSeps),
                K::CreateAutoLogin => Some(DirectoryField::Tde),
                _ => None,
            },
            local: matches!(self, K::AddExternalStoreSecret | K::CreateAutoLogin),
            with_backup: backup_choice,
            tag: matches!(self, K::UseKey | K::Backup | K::AddHsmSecret)
                || (backup_choice && with_backup),
            all_containers: matches!(
                self,
                K::OpenKeystore | K::CloseKeystore | K::Migrate | K::SetKey
            ),
        }
    }
}
