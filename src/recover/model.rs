//! The recoverability report as plain data: what depends on each master key and where each
//! can be found, merged from what was read (pure: no HSM, no database, no file).

use crate::inventory::HealthFlag;
use crate::tde::labels::{KeyForms, MasterKeyId};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// What depends on a master key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Need {
    /// The container's current master key (its latest activation in V$ENCRYPTION_KEYS).
    Current { con_id: u32, container: String },
    /// V$DATABASE_KEY_INFO: the container's database key (redo, undo, temp) is wrapped by it.
    DatabaseKey { con_id: u32, container: String },
    /// V$ENCRYPTED_TABLESPACES: the tablespace's key is wrapped by it.
    Tablespace {
        con_id: u32,
        container: String,
        name: String,
        ts: Option<u32>,
        /// ENCRYPTEDTS: NO for a tablespace decrypted since (its older backups still need it).
        encrypted: bool,
    },
    /// A row of V$ENCRYPTION_KEYS: backups and archived redo made while it was active need it.
    History {
        con_id: u32,
        container: String,
        activated_ms: i64,
        tag: String,
    },
    /// tdekey's own records: a migration, a rotation, a key owned by the database.
    Recorded { what: String, at_ms: i64 },
}

impl Need {
    /// One line for people.
    pub fn describe(&self) -> String {
        match self {
            Need::Current { container, .. } => format!("current master key of {container}"),
            Need::DatabaseKey { container, .. } => {
                format!("database key of {container} (redo, undo, temporary) — V$DATABASE_KEY_INFO")
            }
            Need::Tablespace {
                container,
                name,
                ts,
                encrypted,
                ..
            } => {
                let name = if name.is_empty() {
                    ts.map_or("a tablespace".to_owned(), |t| format!("TS# {t}"))
                } else {
                    name.clone()
                };
                format!(
                    "tablespace {name} of {container}{} — V$ENCRYPTED_TABLESPACES",
                    if *encrypted {
                        ""
                    } else {
                        " (decrypted since; its older backups)"
                    }
                )
            }
            Need::History {
                container,
                activated_ms,
                tag,
                ..
            } => format!(
                "backups and archived redo of {container} from {}{} — V$ENCRYPTION_KEYS",
                utc(*activated_ms),
                if tag.is_empty() {
                    String::new()
                } else {
                    format!(", tag {tag}")
                }
            ),
            Need::Recorded { what, at_ms } => {
                format!("{what} ({}) — tdekey's records", utc(*at_ms))
            }
        }
    }

    /// Whether this need is live data (not only old backups): the current key, the database
    /// key, an encrypted tablespace.
    pub fn live(&self) -> bool {
        matches!(
            self,
            Need::Current { .. }
                | Need::DatabaseKey { .. }
                | Need::Tablespace {
                    encrypted: true,
                    ..
                }
        )
    }
}

/// Whether Oracle's crypto user can use a key found on the HSM.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shared {
    /// Found while logged in as the user Oracle's keystore uses.
    Yes,
    /// Found as another user: whether Oracle's user shares it is not visible through PKCS#11.
    Unknown,
}

/// Where a master key was found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Place {
    Hsm {
        token: String,
        label: String,
        /// Empty when healthy.
        health: Vec<HealthFlag>,
        shared: Shared,
        /// The user tdekey looked it up as.
        user: String,
    },
    /// The keystore `ewallet.p12` under WALLET_ROOT/tde.
    CurrentWallet { path: PathBuf, entry: String },
    /// An `ewallet_<time>[_<tag>].p12` Oracle wrote beside it.
    OracleBackup { path: PathBuf, entry: String },
    /// A file inside one of tdekey's wallet backups.
    SealedBackup {
        file: PathBuf,
        inner: String,
        entry: String,
    },
    /// The HSM the database used before a path B migration, as that migration recorded it:
    /// tdekey is not connected to it and cannot check it (the report is then incomplete).
    OtherHsm { migration: i64, label: String },
}

impl Place {
    pub fn describe(&self) -> String {
        match self {
            Place::Hsm {
                token,
                label,
                health,
                shared,
                user,
            } => {
                let mut s = format!("HSM token {token:?}: {label}");
                if health.is_empty() {
                    s.push_str(", healthy");
                } else {
                    let codes: Vec<&str> = health.iter().map(|h| h.code).collect();
                    s.push_str(&format!(", NOT healthy ({})", codes.join(", ")));
                }
                match shared {
                    Shared::Yes if user.is_empty() => {
                        s.push_str(", usable by the token's user (logged in by PIN alone)")
                    }
                    Shared::Yes => s.push_str(&format!(", usable by Oracle's user {user}")),
                    Shared::Unknown => s.push_str(&format!(
                        ", seen as {user} (whether Oracle's crypto user shares it is not visible from here)"
                    )),
                }
                s
            }
            Place::CurrentWallet { path, .. } => format!("file keystore {}", path.display()),
            Place::OracleBackup { path, .. } => {
                format!("Oracle's keystore backup {}", path.display())
            }
            Place::SealedBackup { file, inner, .. } => {
                format!("tdekey's wallet backup {} ({inner})", file.display())
            }
            Place::OtherHsm { migration, label } => format!(
                "the other HSM, as {label} (recorded by migration #{migration}; not checked: tdekey is not connected to it)"
            ),
        }
    }

    /// Whether the key can be used from here: a healthy HSM key, or any wallet entry.
    pub fn usable(&self) -> bool {
        match self {
            Place::Hsm { health, .. } => !health
                .iter()
                .any(|h| h.severity == crate::inventory::Severity::Critical),
            _ => true,
        }
    }

    fn file(&self) -> Option<&std::path::Path> {
        match self {
            Place::Hsm { .. } | Place::OtherHsm { .. } => None,
            Place::CurrentWallet { path, .. } | Place::OracleBackup { path, .. } => Some(path),
            Place::SealedBackup { file, .. } => Some(file),
        }
    }
}

/// Which keystore made a key, as far as the sources tell: the id a DBA knows it by follows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyKind {
    /// Nothing says (a MASTERKEYID only).
    #[default]
    Unknown,
    /// A software keystore's (`ewallet.p12`): V$ENCRYPTION_KEYS says SOFTWARE KEYSTORE, or
    /// only a wallet holds it.
    Software,
    /// An HSM's: V$ENCRYPTION_KEYS says HSM, tdekey recorded it, or it is on the HSM.
    Hsm,
}

/// One master key: every name it goes by, what depends on it, where it is.
#[derive(Clone, Debug, Serialize)]
pub struct KeyFinding {
    /// The id V$ENCRYPTION_KEYS shows for it: the 34 hex digits `06…` of an HSM key, the
    /// base64 KEY_ID of a software keystore's key, else the MASTERKEYID.
    pub id: String,
    pub kind: KeyKind,
    pub forms: KeyForms,
    pub needs: Vec<Need>,
    pub places: Vec<Place>,
    /// Not looked up on the HSM (the lookups stopped at an error): neither found nor missing.
    pub unchecked: bool,
    #[serde(skip)]
    pub key: MasterKeyId,
}

impl KeyFinding {
    /// Something depends on it and it is found nowhere.
    pub fn missing(&self) -> bool {
        !self.needs.is_empty() && self.places.is_empty() && !self.unchecked
    }

    /// Found only in places that cannot serve it (an HSM object that is not healthy).
    pub fn unusable(&self) -> bool {
        !self.needs.is_empty() && !self.places.is_empty() && !self.places.iter().any(Place::usable)
    }
}

/// A source that could not be read, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Unread {
    pub source: String,
    pub why: String,
    /// Without it the report cannot be complete (an Oracle view, the HSM).
    pub needed: bool,
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct Recoverability {
    pub database: String,
    pub generated_utc: String,
    pub tdekey_version: &'static str,
    pub keys: Vec<KeyFinding>,
    pub unread: Vec<Unread>,
    /// PKCS#11 calls the HSM lookups made.
    pub hsm_calls: u64,
    /// The audit entry that recorded the report.
    pub audit_seq: Option<i64>,
}

/// The report's exit codes.
pub const EXIT_ALL_FOUND: u8 = 0;
pub const EXIT_INCOMPLETE: u8 = 1;
pub const EXIT_MISSING: u8 = 4;

impl Recoverability {
    pub fn missing(&self) -> Vec<&KeyFinding> {
        self.keys.iter().filter(|k| k.missing()).collect()
    }

    /// Keys found somewhere.
    pub fn found(&self) -> usize {
        self.keys.iter().filter(|k| !k.places.is_empty()).count()
    }

    /// Keys neither found nor missing: not looked up on the HSM.
    pub fn unchecked(&self) -> Vec<&KeyFinding> {
        self.keys
            .iter()
            .filter(|k| k.unchecked && k.places.is_empty())
            .collect()
    }

    pub fn unusable(&self) -> Vec<&KeyFinding> {
        self.keys.iter().filter(|k| k.unusable()).collect()
    }

    /// Whether every source a complete answer needs was read.
    pub fn complete(&self) -> bool {
        !self.unread.iter().any(|u| u.needed)
    }

    /// 4 when a key something depends on is found nowhere (or only unusable), else 1 when a
    /// needed source could not be read, else 0.
    pub fn exit_code(&self) -> u8 {
        if !self.missing().is_empty() || !self.unusable().is_empty() {
            EXIT_MISSING
        } else if !self.complete() {
            EXIT_INCOMPLETE
        } else {
            EXIT_ALL_FOUND
        }
    }

    /// The verdict in one sentence.
    pub fn summary(&self) -> String {
        let missing = self.missing();
        let unusable = self.unusable();
        let found = self.found();
        let mut s = format!(
            "{}: {} master key{}, {found} found",
            self.database,
            self.keys.len(),
            if self.keys.len() == 1 { "" } else { "s" }
        );
        let unchecked = self.unchecked();
        if !unchecked.is_empty() {
            s.push_str(&format!(", {} not looked up on the HSM", unchecked.len()));
        }
        if !missing.is_empty() {
            let ids: Vec<String> = missing.iter().map(|k| k.id.clone()).collect();
            s.push_str(&format!(
                ", {} MISSING ({}): restores that need {} will fail. Find {} (an older wallet or backup: tdekey recoverability {:?} --backup FILE) before anything else is retired.",
                missing.len(),
                ids.join(", "),
                if missing.len() == 1 { "it" } else { "them" },
                if missing.len() == 1 { "it" } else { "them" },
                self.database
            ));
        }
        if !unusable.is_empty() {
            let ids: Vec<String> = unusable.iter().map(|k| k.id.clone()).collect();
            s.push_str(&format!(
                ", {} found only on the HSM in a state Oracle cannot use ({})",
                unusable.len(),
                ids.join(", ")
            ));
        }
        let unread_places = self.unread.iter().filter(|u| !u.needed).count();
        if !missing.is_empty() && unread_places > 0 {
            s.push_str(&format!(
                " {unread_places} place{} could not be read (listed below): a missing key may be there — give what opens {} and check again.",
                if unread_places == 1 { "" } else { "s" },
                if unread_places == 1 { "it" } else { "them" }
            ));
        }
        if missing.is_empty() && unusable.is_empty() {
            if self.complete() {
                s.push_str(": everything that depends on them can still be decrypted.");
            } else {
                s.push_str(
                    ", but some sources could not be read (below): the answer is incomplete.",
                );
            }
        } else if !s.ends_with('.') {
            s.push('.');
        }
        s
    }

    /// What the report says about retiring `what`: the keys that would then be found nowhere,
    /// with what depends on them.
    pub fn before_retiring(&self, what: &Retiring) -> RetireVerdict {
        let mut blocking = Vec::new();
        let mut elsewhere = Vec::new();
        for k in &self.keys {
            if k.needs.is_empty() || k.missing() {
                continue;
            }
            let left: Vec<&Place> = k
                .places
                .iter()
                .filter(|p| !what.covers(p))
                .filter(|p| p.usable())
                .collect();
            let here = k.places.iter().any(|p| what.covers(p));
            if here && !left.is_empty() {
                elsewhere.push(format!(
                    "{} also in {}{}",
                    k.id,
                    left[0].describe(),
                    match left.len() {
                        1 => String::new(),
                        n => format!(" and {} more place{}", n - 1, if n == 2 { "" } else { "s" }),
                    }
                ));
            }
            if here && left.is_empty() {
                blocking.push(Blocking {
                    key: k.id.clone(),
                    needs: k.needs.iter().map(Need::describe).collect(),
                });
            }
        }
        let sentence = if blocking.is_empty() && elsewhere.is_empty() {
            format!(
                "The recoverability report of {} ({}) finds no key the database needs in {}: retiring it loses no key.",
                self.database,
                self.generated_utc,
                what.describe()
            )
        } else if blocking.is_empty() {
            format!(
                "The recoverability report of {} ({}) finds every key the database needs from {} somewhere else too: {}. Retiring it loses no key; keep those copies.",
                self.database,
                self.generated_utc,
                what.describe(),
                elsewhere.join(" · ")
            )
        } else {
            let keys: Vec<String> = blocking
                .iter()
                .map(|b| format!("{} ({})", b.key, b.needs.join("; ")))
                .collect();
            format!(
                "Do not retire {}: it is the only place of {} master key{} the database still needs: {}. {}",
                what.describe(),
                blocking.len(),
                if blocking.len() == 1 { "" } else { "s" },
                keys.join(" · "),
                what.advice()
            )
        };
        let mut sentence = sentence;
        let unread: Vec<&str> = self
            .unread
            .iter()
            .filter(|u| !u.needed)
            .map(|u| u.source.as_str())
            .collect();
        if !blocking.is_empty() && !unread.is_empty() {
            sentence.push_str(&format!(
                " Not read, and so not counted: {} — if one holds {}, give what opens it and check again.",
                unread.join(", "),
                if blocking.len() == 1 { "it" } else { "them" }
            ));
        }
        // A keystore file in what is retired that could not be opened: its keys are not known
        // to be elsewhere, so retiring it is not known to be safe.
        let unopened: Vec<&str> = match what {
            Retiring::FileWallet { dir } => self
                .unread
                .iter()
                .filter(|u| std::path::Path::new(&u.source).starts_with(dir))
                .map(|u| u.source.as_str())
                .collect(),
            _ => Vec::new(),
        };
        let unknown = blocking.is_empty() && !unopened.is_empty();
        if unknown {
            sentence = format!(
                "Not known yet: the report could not open {} (the wallet password opens it: give it and check again). What it read elsewhere: {sentence}",
                unopened.join(", ")
            );
        }
        RetireVerdict {
            blocking,
            unknown,
            sentence,
        }
    }
}

/// Something a person or a step is about to retire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Retiring {
    /// A file keystore: `ewallet.p12` and Oracle's backups in the directory given.
    FileWallet { dir: PathBuf },
    /// One HSM key by its label (someone wants to delete it).
    HsmKey { label: String },
    /// Every HSM key of the token (an HSM given back).
    Hsm { token: String },
    /// The HSM a path B migration left (its library removed, the HSM given back).
    OtherHsm,
}

impl Retiring {
    fn covers(&self, p: &Place) -> bool {
        match (self, p) {
            (Retiring::HsmKey { label }, Place::Hsm { label: l, .. }) => label == l,
            (Retiring::Hsm { token }, Place::Hsm { token: t, .. }) => token == t,
            (Retiring::OtherHsm, Place::OtherHsm { .. }) => true,
            (Retiring::FileWallet { dir }, p) => {
                matches!(p, Place::CurrentWallet { .. } | Place::OracleBackup { .. })
                    && p.file().is_some_and(|f| f.starts_with(dir))
            }
            _ => false,
        }
    }

    /// What to do instead, when retiring it would lose a key.
    pub fn advice(&self) -> &'static str {
        match self {
            Retiring::FileWallet { .. } => {
                "Back it up first (tdekey wallet backup, kept apart from the database host) and check again."
            }
            Retiring::HsmKey { .. } | Retiring::Hsm { .. } | Retiring::OtherHsm => {
                "Keep it for as long as backups and archived redo made under that key are kept (the recovery window); a key on an HSM cannot be copied into a wallet by tdekey."
            }
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Retiring::FileWallet { dir } => format!("the file keystore in {}", dir.display()),
            Retiring::HsmKey { label } => format!("the HSM key {label}"),
            Retiring::Hsm { token } => format!("the HSM token {token:?}"),
            Retiring::OtherHsm => "the HSM the database used before its path B migration (its PKCS#11 library, its keys)".to_owned(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Blocking {
    /// The 34-hex id.
    pub key: String,
    pub needs: Vec<String>,
}

/// The report's answer about one thing to retire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RetireVerdict {
    pub blocking: Vec<Blocking>,
    /// Nothing blocks it, but part of what is retired could not be read.
    pub unknown: bool,
    pub sentence: String,
}

impl RetireVerdict {
    /// Retiring it loses no key, as far as everything was read.
    pub fn safe(&self) -> bool {
        self.blocking.is_empty() && !self.unknown
    }
}

/// Gathers findings keyed by master key id, in id order.
#[derive(Default)]
pub struct Builder {
    keys: BTreeMap<MasterKeyId, (Vec<Need>, Vec<Place>, KeyKind)>,
    unchecked: std::collections::BTreeSet<MasterKeyId>,
    pub unread: Vec<Unread>,
}

impl Builder {
    pub fn need(&mut self, id: MasterKeyId, need: Need) {
        let e = self.keys.entry(id).or_default();
        if !e.0.contains(&need) {
            e.0.push(need);
        }
    }

    pub fn place(&mut self, id: MasterKeyId, place: Place) {
        let e = self.keys.entry(id).or_default();
        if !e.1.contains(&place) {
            e.1.push(place);
        }
    }

    /// What a source says about which keystore made the key (the strongest word wins: HSM over
    /// software over nothing).
    pub fn kind(&mut self, id: MasterKeyId, kind: KeyKind) {
        let e = self.keys.entry(id).or_default();
        e.2 = e.2.max(kind);
    }

    /// The kind known so far.
    pub fn kind_of(&self, id: &MasterKeyId) -> KeyKind {
        self.keys.get(id).map(|e| e.2).unwrap_or_default()
    }

    /// A key that could not be looked up on the HSM.
    pub fn unchecked(&mut self, id: MasterKeyId) {
        self.unchecked.insert(id);
    }

    /// Every id seen so far, in order.
    pub fn ids(&self) -> Vec<MasterKeyId> {
        self.keys.keys().copied().collect()
    }

    pub fn unread(&mut self, source: impl Into<String>, why: impl Into<String>, needed: bool) {
        self.unread.push(Unread {
            source: source.into(),
            why: why.into(),
            needed,
        });
    }

    pub fn finish(self, database: &str, generated_utc: String, hsm_calls: u64) -> Recoverability {
        let mut keys: Vec<KeyFinding> = self
            .keys
            .into_iter()
            .map(|(key, (needs, places, kind))| {
                let forms = key.forms();
                let id = match kind {
                    KeyKind::Hsm => forms.hsm_key_id.clone(),
                    KeyKind::Software => forms.software_key_id.clone(),
                    KeyKind::Unknown => forms.masterkeyid.clone(),
                };
                KeyFinding {
                    id,
                    kind,
                    forms,
                    needs,
                    places,
                    unchecked: self.unchecked.contains(&key),
                    key,
                }
            })
            .collect();
        // Missing keys first, then the ones something depends on, then the others.
        keys.sort_by_key(|k| (!k.missing(), !k.unusable(), k.needs.is_empty()));
        Recoverability {
            database: database.to_owned(),
            generated_utc,
            tdekey_version: crate::VERSION,
            keys,
            unread: self.unread,
            hsm_calls,
            audit_seq: None,
        }
    }
}

/// UTC time of milliseconds since the epoch, to the second.
pub fn utc(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| format!("{ms} ms"))
}

#[cfg(test)]
mod tests;
