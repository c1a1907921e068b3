//! What the simulated database shows: V$ENCRYPTION_WALLET, V$ENCRYPTION_KEYS and SHOW
//! PARAMETER, built with the typed rows of `tde::views`.

use super::other_hsm::Reached;
use super::state::{KeyRecord, Ks, TablespaceRecord};
use super::{HsmKeystore, Rehearsal};
use crate::tde::labels::parse_key_id;
use crate::tde::output::Row;
use crate::tde::request::{ParameterName, Reply};
use crate::tde::sql::tde_configuration_value;

impl<K: HsmKeystore + ?Sized> Rehearsal<'_, K> {
    /// Opens auto-login keystores, as Oracle does at startup and on a query of the view.
    pub(super) fn auto_open(&mut self) {
        let ks = self.state.keystores();
        if ks.contains(&Ks::File)
            && let Some(local) = self.state.file.as_ref().and_then(|f| f.autologin)
        {
            let how = if local {
                "LOCAL_AUTOLOGIN"
            } else {
                "AUTOLOGIN"
            };
            for c in &mut self.state.containers {
                if c.file_open.is_none() {
                    c.file_open = Some(how.to_owned());
                }
            }
        }
        // HSM auto-login (reference/oracle-tde.md, "Statements": the next TDE operation after a
        // restart opens the auto-login file keystore, which opens the HSM): an auto-login file
        // keystore that holds the HSM_PASSWORD secret opens the HSM keystore, when that secret was added for the HSM the library reaches
        // (tdekey's token: through tdekey's own login). The external store (tde_seps) opens
        // nothing by itself: it only answers IDENTIFIED BY EXTERNAL STORE.
        let reached = self.reached();
        let secret_fits = |seps: &super::state::Seps| {
            seps.valid
                && match reached {
                    Reached::Token => !seps.on_other_hsm && self.hsm.logged_in(),
                    Reached::Other => seps.on_other_hsm,
                    Reached::Missing(_) | Reached::Foreign(_) => false,
                }
        };
        let secret = self
            .state
            .file
            .as_ref()
            .filter(|f| f.autologin.is_some())
            .and_then(|f| f.hsm_secret.as_ref());
        if ks.contains(&Ks::Hsm) && ks.contains(&Ks::File) && secret.is_some_and(secret_fits) {
            for c in &mut self.state.containers {
                let auto = c
                    .file_open
                    .as_deref()
                    .is_some_and(|h| h == "AUTOLOGIN" || h == "LOCAL_AUTOLOGIN");
                if auto {
                    c.hsm_open = true;
                }
            }
        }
    }

    pub(super) fn wallet_rows(&mut self) -> Vec<Row> {
        use crate::tde::views::{
            FullyBackedUp, KeystoreMode, WalletOrder, WalletRow, WalletStatus, WalletType, WrlType,
        };
        self.auto_open();
        let reached = self.reached();
        let st = &self.state;
        let ks = st.keystores();
        let mut rows = Vec::new();
        for c in &st.containers {
            let keystore_mode = if c.con_id <= 1 {
                KeystoreMode::None
            } else {
                KeystoreMode::United
            };
            // The FILE keystore's directory shows in the root's (or the non-CDB's) row.
            let dir = if c.con_id <= 1 {
                st.wallet_dir().unwrap_or_default()
            } else {
                String::new()
            };
            let current = st.current_key(c.con_id);
            if ks.is_empty() {
                // No TDE_CONFIGURATION: FILE, NOT_AVAILABLE, UNKNOWN and no directory, even with
                // WALLET_ROOT set (a real 19c output:
                // tests/fixtures/oracle/wallet/19c-noncdb-file-not-available-*.txt).
                rows.push(WalletRow {
                    wrl_type: WrlType::File,
                    wrl_parameter: String::new(),
                    status: WalletStatus::NotAvailable,
                    wallet_type: WalletType::Unknown,
                    wallet_order: WalletOrder::Single,
                    keystore_mode,
                    fully_backed_up: FullyBackedUp::Undefined,
                    con_id: c.con_id,
                });
                continue;
            }
            for (i, k) in ks.iter().enumerate() {
                let wallet_order = match (ks.len(), i) {
                    (1, _) => WalletOrder::Single,
                    (_, 0) => WalletOrder::Primary,
                    _ => WalletOrder::Secondary,
                };
                let (wrl_type, wrl_parameter, status, wallet_type, fully_backed_up) = match k {
                    Ks::File => {
                        let (status, wallet_type, backed) = match (&st.file, &c.file_open) {
                            (None, _) => (
                                WalletStatus::NotAvailable,
                                WalletType::Unknown,
                                FullyBackedUp::Undefined,
                            ),
                            (Some(_), None) => (
                                WalletStatus::Closed,
                                WalletType::Unknown,
                                FullyBackedUp::Undefined,
                            ),
                            (Some(f), Some(how)) => {
                                let has_key = st
                                    .keys
                                    .iter()
                                    .any(|x| x.con_id == c.con_id && x.keystore == Ks::File);
                                (
                                    if has_key {
                                        WalletStatus::Open
                                    } else {
                                        WalletStatus::OpenNoMasterKey
                                    },
                                    WalletType::parse(how),
                                    if f.backed_up {
                                        FullyBackedUp::Yes
                                    } else {
                                        FullyBackedUp::No
                                    },
                                )
                            }
                        };
                        (WrlType::File, dir.clone(), status, wallet_type, backed)
                    }
                    Ks::Hsm => {
                        let (status, wallet_type) = if !c.hsm_open {
                            (WalletStatus::Closed, WalletType::Unknown)
                        } else if current.is_some_and(|k| {
                            k.keystore == Ks::Hsm && self.key_reachable(k, &reached)
                        }) {
                            (WalletStatus::Open, WalletType::Hsm)
                        } else {
                            (WalletStatus::OpenNoMasterKey, WalletType::Hsm)
                        };
                        (
                            WrlType::Hsm,
                            String::new(),
                            status,
                            wallet_type,
                            FullyBackedUp::Undefined,
                        )
                    }
                };
                rows.push(WalletRow {
                    wrl_type,
                    wrl_parameter,
                    status,
                    wallet_type,
                    wallet_order,
                    keystore_mode,
                    fully_backed_up,
                    con_id: c.con_id,
                });
            }
        }
        rows.iter().map(WalletRow::to_row).collect()
    }

    pub(super) fn key_rows(&self) -> Vec<Row> {
        use crate::tde::views::{KeyOrigin, KeyPdb, KeyRow, KeystoreType};
        let st = &self.state;
        let reached = self.reached();
        let dbid = {
            use sha2::Digest;
            let h = sha2::Sha256::digest(st.database.as_bytes());
            u32::from_be_bytes([h[0], h[1], h[2], h[3]]) & 0x7fff_ffff
        };
        let origin = KeyOrigin {
            db_name: st.database.clone(),
            dbid,
            instance_name: st.database.to_ascii_lowercase(),
            instance_number: 1,
            instance_serial: st.restarts + 1,
        };
        let mut keys: Vec<&KeyRecord> = st
            .keys
            .iter()
            .filter(|k| {
                st.containers.iter().any(|c| {
                    c.con_id == k.con_id
                        && match k.keystore {
                            Ks::File => c.file_open.is_some(),
                            Ks::Hsm => c.hsm_open && self.key_reachable(k, &reached),
                        }
                })
            })
            .collect();
        keys.sort_by_key(|k| (k.con_id, k.created_ms));
        keys.into_iter()
            .map(|k| {
                KeyRow {
                    key_id: k.key_id.clone(),
                    tag: k.tag.clone(),
                    created_ms: k.created_ms,
                    activated_ms: k.activated_ms,
                    keystore_type: match k.keystore {
                        Ks::File => KeystoreType::SoftwareKeystore,
                        Ks::Hsm => KeystoreType::Hsm,
                    },
                    backed_up: k.backed_up,
                    creator: k.creator.clone(),
                    key_origin: if k.activated_only {
                        crate::tde::views::ORIGIN_ACTIVATED_HERE
                    } else {
                        crate::tde::views::ORIGIN_LOCAL
                    }
                    .to_owned(),
                    origin: origin.clone(),
                    pdb: st.cdb().then(|| KeyPdb {
                        name: st
                            .containers
                            .iter()
                            .find(|c| c.con_id == k.con_id)
                            .map(|c| c.name.clone())
                            .unwrap_or_default(),
                        id: k.con_id,
                    }),
                    con_id: k.con_id,
                }
                .to_row()
            })
            .collect()
    }

    /// V$DATABASE_KEY_INFO: one row per container, its database key wrapped by the
    /// container's current master key (re-wrapped by every rotation), AES128 ("AES128 is the
    /// default encryption algorithm", and the view "reflects the database key information
    /// stored in the control file", so it answers whether or not a keystore is open: Oracle
    /// Database Reference 12.2, tests/fixtures/oracle/SOURCES.md S24). No key yet: an all-zero
    /// MASTERKEYID and MASTERKEY_ACTIVATED NO — ASSUMED, no published output shows it.
    pub(super) fn database_key_rows(&self) -> Vec<Row> {
        use crate::tde::views::{DEFAULT_ALGORITHM, DatabaseKeyRow};
        let st = &self.state;
        st.containers
            .iter()
            .map(|c| {
                let master_key = st
                    .current_key(c.con_id)
                    .and_then(|k| parse_key_id(&k.key_id).ok())
                    .map(|(_, id)| id);
                DatabaseKeyRow {
                    algorithm: DEFAULT_ALGORITHM.to_owned(),
                    master_key,
                    activated: Some(master_key.is_some()),
                    con_id: c.con_id,
                }
                .to_row()
            })
            .collect()
    }

    /// V$ENCRYPTED_TABLESPACES with their names: each encrypted tablespace, the master key its
    /// key is wrapped by, by container and TS#. The view answers with the keystore closed too
    /// (the tablespace key is kept wrapped, in the data files) — ASSUMED: no published output
    /// shows the view queried with the keystore closed.
    pub(super) fn tablespace_rows(&self) -> Vec<Row> {
        use crate::tde::views::TablespaceRow;
        let mut list: Vec<&TablespaceRecord> = self.state.tablespaces.iter().flatten().collect();
        list.sort_by_key(|t| (t.con_id, t.ts));
        list.into_iter()
            .map(|t| {
                TablespaceRow {
                    ts: Some(t.ts),
                    name: t.name.clone(),
                    algorithm: t.algorithm.clone(),
                    encrypted: true,
                    master_key: parse_key_id(&t.key_id).ok().map(|(_, id)| id),
                    key_version: Some(t.key_version),
                    status: "NORMAL".to_owned(),
                    con_id: t.con_id,
                }
                .to_row()
            })
            .collect()
    }

    pub(super) fn show_parameter(&self, p: ParameterName) -> Reply {
        let value = match p {
            ParameterName::WalletRoot => self.state.memory.wallet_root.clone(),
            ParameterName::TdeConfiguration => self
                .state
                .memory
                .tde_configuration
                .as_deref()
                .map(tde_configuration_value),
        };
        p.reply(&value.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests;
