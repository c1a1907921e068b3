//! A request as a form holds it: plain fields, turned into a [`Request`] with the defaults a
//! database profile gives (directories under WALLET_ROOT, `SID='*'` on RAC).

use super::kind::{CredentialChoice, DirectoryField, RequestKind};
use super::{ParameterName, Request};
use crate::model::DatabaseProfile;
use crate::secret::Secret;
use crate::tde::labels::parse_use_key_id;
use crate::tde::sql::{Credential, Options};

/// Why a draft is not a request yet.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DraftError {
    #[error("Type the WALLET_ROOT directory.")]
    NoWalletRoot,
    #[error("The key id is not one Oracle's USE KEY takes: {0}")]
    BadKeyId(String),
}

/// The fields of a request form. Text fields are taken trimmed; an empty tag is no tag.
#[derive(Clone, Debug)]
pub struct Draft {
    pub kind: RequestKind,
    pub credential: CredentialChoice,
    pub hsm_user: String,
    pub hsm_password: Secret,
    pub wallet_password: Secret,
    pub tag: String,
    pub key_id: String,
    /// Empty: the request's default directory ([`DirectoryField::default_for`]).
    pub dir: String,
    /// A KEYSTORE_CONFIGURATION value (checked when the statement is built).
    pub configuration: String,
    pub all_containers: bool,
    pub with_backup: bool,
    pub local: bool,
}

impl Default for Draft {
    fn default() -> Self {
        Self {
            kind: RequestKind::QueryWallet,
            credential: CredentialChoice::Hsm,
            hsm_user: String::new(),
            hsm_password: Secret::default(),
            wallet_password: Secret::default(),
            tag: String::new(),
            key_id: String::new(),
            dir: String::new(),
            configuration: "HSM|FILE".into(),
            all_containers: false,
            with_backup: true,
            local: false,
        }
    }
}

fn opt(s: &str) -> Option<String> {
    Some(s.trim().to_owned()).filter(|s| !s.is_empty())
}

impl Draft {
    /// [`RequestKind::needs`] for this draft.
    pub fn needs(&self) -> super::kind::Needs {
        self.kind.needs(self.credential, self.with_backup)
    }

    fn hsm(&self) -> (String, Secret) {
        (self.hsm_user.trim().to_owned(), self.hsm_password.clone())
    }

    fn credential(&self) -> Credential {
        match self.credential {
            CredentialChoice::Hsm => {
                let (user, password) = self.hsm();
                Credential::Hsm { user, password }
            }
            CredentialChoice::Wallet => Credential::Password(self.wallet_password.clone()),
            CredentialChoice::ExternalStore => Credential::ExternalStore,
        }
    }

    fn options(&self) -> Options {
        Options {
            backup: self.with_backup.then(|| opt(&self.tag)),
            all_containers: self.all_containers,
        }
    }

    fn dir_or(&self, db: &DatabaseProfile, field: DirectoryField) -> String {
        opt(&self.dir).unwrap_or_else(|| field.default_for(db))
    }

    /// The request the draft describes for database `db`, or what is missing. Secrets are not
    /// checked here: [`Request::statement`] refuses an empty or unquotable one.
    pub fn build(&self, db: &DatabaseProfile) -> Result<Request, DraftError> {
        use RequestKind as K;
        Ok(match self.kind {
            K::QueryWallet => Request::QueryWallet,
            K::QueryKeys => Request::QueryKeys,
            K::QueryDatabaseKey => Request::QueryDatabaseKey,
            K::QueryTablespaces => Request::QueryTablespaces,
            K::QueryPrivileges => Request::QueryPrivileges,
            K::ShowWalletRoot => Request::ShowParameter(ParameterName::WalletRoot),
            K::ShowTdeConfiguration => Request::ShowParameter(ParameterName::TdeConfiguration),
            K::SetWalletRoot => Request::SetWalletRoot {
                dir: opt(&self.dir)
                    .or_else(|| db.wallet_root.clone())
                    .ok_or(DraftError::NoWalletRoot)?,
                all_instances: db.rac,
            },
            K::SetTdeConfiguration => Request::SetTdeConfiguration {
                value: self.configuration.clone(),
                all_instances: db.rac,
            },
            K::Restart => Request::Restart,
            K::CreateKeystore => Request::CreateKeystore {
                password: self.wallet_password.clone(),
            },
            K::OpenKeystore => Request::OpenKeystore {
                credential: self.credential(),
                all_containers: self.all_containers,
            },
            K::CloseKeystore => Request::CloseKeystore {
                // A password or HSM keystore is closed only IDENTIFIED BY its password (or
                // EXTERNAL STORE); a bare CLOSE closes an auto-login keystore only.
                credential: Some(self.credential()),
                all_containers: self.all_containers,
            },
            K::Migrate => {
                let (hsm_user, hsm_password) = self.hsm();
                Request::Migrate {
                    hsm_user,
                    hsm_password,
                    wallet_password: self.wallet_password.clone(),
                    backup: self.options().backup,
                }
            }
            K::SetKey => Request::SetKey {
                tag: None,
                credential: self.credential(),
                options: self.options(),
            },
            K::UseKey => Request::UseKey {
                id: parse_use_key_id(self.key_id.trim()).map_err(DraftError::BadKeyId)?,
                tag: opt(&self.tag),
                credential: self.credential(),
            },
            K::AddHsmSecret => {
                let (hsm_user, hsm_password) = self.hsm();
                Request::AddHsmSecret {
                    hsm_user,
                    hsm_password,
                    wallet_password: self.wallet_password.clone(),
                    force: false,
                    backup_tag: opt(&self.tag),
                }
            }
            K::AddExternalStoreSecret => {
                let (hsm_user, hsm_password) = self.hsm();
                Request::AddExternalStoreSecret {
                    hsm_user,
                    hsm_password,
                    seps_dir: self.dir_or(db, DirectoryField::TdeSeps),
                    local: self.local,
                }
            }
            K::CreateAutoLogin => Request::CreateAutoLogin {
                dir: self.dir_or(db, DirectoryField::Tde),
                password: self.wallet_password.clone(),
                local: self.local,
            },
            K::Backup => Request::Backup {
                tag: opt(&self.tag),
                credential: Credential::Password(self.wallet_password.clone()),
            },
            K::ReverseMigrate => {
                let (hsm_user, hsm_password) = self.hsm();
                Request::ReverseMigrate {
                    wallet_password: self.wallet_password.clone(),
                    hsm_user: Some(hsm_user),
                    hsm_password,
                }
            }
        })
    }
}

#[cfg(test)]
mod tests;
