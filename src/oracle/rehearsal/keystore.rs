//! Parameters, restarts, creating, opening and closing keystores, backups and auto-login.

use super::other_hsm::Reached;
use super::state::{FileKeystore, Ks, Seps, make_verifier, now_ms, verify};
use super::{HsmKeystore, Rehearsal};
use crate::oracle::OracleError;
use crate::secret::Secret;
use crate::tde::request::{INSTANCE_STARTED, KEYSTORE_ALTERED, Reply, SYSTEM_ALTERED};
use crate::tde::sql::{Credential, keystore_configuration};
use crate::tde::{layout, ora};

impl<K: HsmKeystore + ?Sized> Rehearsal<'_, K> {
    pub(super) fn restart(&mut self) -> Reply {
        let st = &mut self.state;
        st.memory = st.spfile.clone();
        st.active_configuration = st.memory.tde_configuration.clone();
        for c in &mut st.containers {
            c.file_open = None;
            c.hsm_open = false;
        }
        st.restarts += 1;
        self.notes.push(format!(
            "The rehearsal database restarted: WALLET_ROOT={}, TDE_CONFIGURATION={}.",
            st.memory.wallet_root.as_deref().unwrap_or("(not set)"),
            st.memory
                .tde_configuration
                .as_deref()
                .map_or("(not set)".to_owned(), |c| format!(
                    "KEYSTORE_CONFIGURATION={c}"
                )),
        ));
        self.auto_open();
        Reply::done(INSTANCE_STARTED)
    }

    pub(super) fn set_tde_configuration(&mut self, value: &str) -> Result<Reply, OracleError> {
        let v = keystore_configuration(value)?;
        if v.contains("OKV") {
            return Err(OracleError::Rehearsal(
                "the rehearsal simulates FILE and HSM keystores only, not Oracle Key Vault.".into(),
            ));
        }
        if self.state.memory.wallet_root.is_none() {
            return Ok(ora::SPFILE_UPDATE_FAILED.then(ora::NO_WALLET_ROOT));
        }
        self.state.spfile.tde_configuration = Some(v.to_owned());
        self.state.memory.tde_configuration = Some(v.to_owned());
        if self.state.active_configuration.as_deref() != Some(v) {
            if self.state.any_open() {
                // (unverified) Oracle's exact rule for a configuration changed under an open
                // keystore; the rehearsal makes the DBA close or restart.
                self.notes.push(format!(
                    "A keystore is open, so KEYSTORE_CONFIGURATION={v} takes effect when every keystore is closed or the database restarts."
                ));
            } else {
                self.state.active_configuration = Some(v.to_owned());
            }
        }
        Ok(Reply::done(SYSTEM_ALTERED))
    }

    pub(super) fn create_keystore(&mut self, password: &Secret) -> Result<Reply, OracleError> {
        if self.state.memory.wallet_root.is_none() {
            return Ok(ora::NO_WALLET_ROOT.reply());
        }
        if self.state.file.is_some() {
            return Ok(ora::CANNOT_CREATE.reply());
        }
        self.state.file = Some(FileKeystore {
            verifier: make_verifier(password)?,
            autologin: None,
            backed_up: false,
            backups: Vec::new(),
            hsm_secret: None,
        });
        self.write_keystore(password)?;
        Ok(Reply::done(KEYSTORE_ALTERED))
    }

    pub(super) fn open_keystore(
        &mut self,
        c: &Credential,
        all: bool,
    ) -> Result<Reply, OracleError> {
        let ks = self.state.keystores();
        if ks.is_empty() {
            return Ok(ora::DOES_NOT_EXIST.reply());
        }
        let targets = self.state.targets(all);
        match c {
            Credential::Hsm { user, password } if ks.contains(&Ks::Hsm) => {
                if targets.iter().all(|&i| self.state.containers[i].hsm_open) {
                    return Ok(ora::ALREADY_OPEN.reply());
                }
                if let Some(err) = self.hsm_login(user, password)? {
                    return Ok(err);
                }
                self.ensure_marker()?;
                for i in targets {
                    self.state.containers[i].hsm_open = true;
                }
                Ok(Reply::done(KEYSTORE_ALTERED))
            }
            Credential::ExternalStore if ks.contains(&Ks::Hsm) => {
                if let Some(err) = self.external_store()? {
                    return Ok(err);
                }
                if self.reached() == Reached::Token && !self.hsm.logged_in() {
                    return Err(OracleError::Rehearsal(
                        "the rehearsal keeps no HSM password, so EXTERNAL STORE uses tdekey's own HSM login: log in on the HSM screen first.".into(),
                    ));
                }
                if targets.iter().all(|&i| self.state.containers[i].hsm_open) {
                    return Ok(ora::ALREADY_OPEN.reply());
                }
                self.ensure_marker()?;
                for i in targets {
                    self.state.containers[i].hsm_open = true;
                }
                Ok(Reply::done(KEYSTORE_ALTERED))
            }
            Credential::Password(pw) | Credential::Hsm { password: pw, .. }
                if ks.contains(&Ks::File) =>
            {
                if self.state.file.is_none() {
                    return Ok(ora::DOES_NOT_EXIST.reply());
                }
                if targets
                    .iter()
                    .all(|&i| self.state.containers[i].file_open.is_some())
                {
                    return Ok(ora::ALREADY_OPEN.reply());
                }
                let pw = match c {
                    // "user:password" given to a file keystore is taken whole, as Oracle would.
                    Credential::Hsm { user, .. } => pw.joined_with_user(user),
                    _ => pw.clone(),
                };
                if !self.file_password_ok(&pw) {
                    return Ok(ora::FAILED_TO_OPEN.reply());
                }
                for i in targets {
                    self.state.containers[i]
                        .file_open
                        .get_or_insert_with(|| "PASSWORD".to_owned());
                }
                Ok(Reply::done(KEYSTORE_ALTERED))
            }
            _ => Ok(ora::FAILED_TO_OPEN.reply()),
        }
    }

    pub(super) fn close(
        &mut self,
        c: Option<&Credential>,
        all: bool,
    ) -> Result<Reply, OracleError> {
        let targets = self.state.targets(all);
        let (file, hsm) = match c {
            // Without IDENTIFIED BY only an auto-login keystore is closed (reference/oracle-tde.md,
            // "Statements"; Oracle's 19c Advanced Security Guide, "Closing a software keystore").
            // (unverified) the error a bare CLOSE gets for a password or HSM keystore: the
            // rehearsal answers ORA-28391, Oracle's "cannot close wallet or HSM, password mismatch".
            // Sources disagree on an open auto-login keystore: a real 21c output answers a bare
            // CLOSE with ORA-28389 "cannot close auto login wallet"
            // (tests/fixtures/oracle/feedback/ora-28389-*.txt); the rehearsal follows the guide.
            None => {
                let auto = |how: &Option<String>| {
                    how.as_deref()
                        .is_some_and(|h| h == "AUTOLOGIN" || h == "LOCAL_AUTOLOGIN")
                };
                let blocked = targets.iter().any(|&i| {
                    let ct = &self.state.containers[i];
                    ct.hsm_open || (ct.file_open.is_some() && !auto(&ct.file_open))
                });
                if blocked {
                    self.notes.push(
                        "A password or HSM keystore is closed only IDENTIFIED BY its password (or EXTERNAL STORE); a bare CLOSE closes an auto-login keystore only.".into(),
                    );
                    return Ok(ora::CLOSE_PASSWORD_MISMATCH.reply());
                }
                (true, false)
            }
            Some(Credential::Password(pw)) => {
                if !self.file_password_ok(pw) {
                    return Ok(ora::CLOSE_PASSWORD_MISMATCH.reply());
                }
                (true, false)
            }
            Some(Credential::Hsm { user, password }) => {
                if let Some(err) = self.hsm_login(user, password)? {
                    return Ok(err);
                }
                (false, true)
            }
            Some(Credential::ExternalStore) => (true, true),
        };
        let mut closed = false;
        for i in targets {
            let ct = &mut self.state.containers[i];
            if file && ct.file_open.take().is_some() {
                closed = true;
            }
            if hsm && ct.hsm_open {
                ct.hsm_open = false;
                closed = true;
            }
        }
        if !closed {
            return Ok(ora::NOT_OPEN.reply());
        }
        self.apply_pending_configuration();
        Ok(Reply::done(KEYSTORE_ALTERED))
    }

    pub(super) fn apply_pending_configuration(&mut self) {
        let st = &mut self.state;
        if !st.any_open() && st.active_configuration != st.memory.tde_configuration {
            st.active_configuration = st.memory.tde_configuration.clone();
            self.notes.push(format!(
                "Every keystore is closed: KEYSTORE_CONFIGURATION={} is now in effect.",
                st.active_configuration.as_deref().unwrap_or("(not set)")
            ));
        }
    }

    pub(super) fn file_password_ok(&self, password: &Secret) -> bool {
        self.state
            .file
            .as_ref()
            .is_some_and(|f| verify(&f.verifier, password))
    }

    /// `ADD SECRET '<cu>:<pw>' FOR CLIENT 'HSM_PASSWORD' [FORCE KEYSTORE] IDENTIFIED BY
    /// "<wallet pw>" WITH BACKUP`: the secret goes into the software keystore itself (HSM
    /// auto-login as reference/oracle-tde.md, "Statements", gives it from AWS's procedure and the
    /// Utimaco, Thales and Entrust guides; ORA-28417 as its "Errors" table gives it).
    pub(super) fn add_hsm_secret(
        &mut self,
        user: &str,
        password: &Secret,
        wallet_password: &Secret,
        force: bool,
        tag: Option<&str>,
    ) -> Result<Reply, OracleError> {
        if self.state.file.is_none() {
            return Ok(ora::DOES_NOT_EXIST.reply());
        }
        let how = self.state.containers[0].file_open.clone();
        match how.as_deref() {
            Some("PASSWORD") => {}
            // An auto-login keystore is open: the password keystore is not (ORA-28417), unless
            // FORCE KEYSTORE opens it for the statement.
            Some(_) if !force => return Ok(ora::PASSWORD_KEYSTORE_NOT_OPEN.reply()),
            None if !force => return Ok(ora::NOT_OPEN.reply()),
            _ => {}
        }
        if !self.file_password_ok(wallet_password) {
            return Ok(ora::MISMATCH.reply());
        }
        // Oracle stores the secret without checking it; the rehearsal checks it now so that
        // the auto-login open after a restart fails the way Oracle's would.
        let valid = self.hsm_login(user, password)?.is_none();
        let on_other_hsm = self.reached() == Reached::Other;
        if !valid {
            self.notes.push(
                "The stored HSM password does not log in: the HSM keystore will not open by itself."
                    .into(),
            );
        }
        self.backup_file(tag)?;
        let dir = self.state.wallet_dir().unwrap_or_default();
        if let Some(f) = &mut self.state.file {
            f.hsm_secret = Some(Seps {
                dir,
                local: false,
                user: user.to_owned(),
                valid,
                on_other_hsm,
            });
        }
        self.write_keystore(wallet_password)?;
        Ok(Reply::done(KEYSTORE_ALTERED))
    }

    /// `ADD SECRET … TO [LOCAL] AUTO_LOGIN KEYSTORE '<WALLET_ROOT>/tde_seps'`: the external
    /// store, for IDENTIFIED BY EXTERNAL STORE.
    pub(super) fn add_external_store_secret(
        &mut self,
        user: &str,
        password: &Secret,
        dir: &str,
        local: bool,
    ) -> Result<Reply, OracleError> {
        let Some(root) = self.state.memory.wallet_root.clone() else {
            return Ok(ora::NO_WALLET_ROOT.reply());
        };
        let expected = layout::under_root(&root, layout::SEPS_DIR);
        if dir.trim_end_matches('/') != expected {
            self.notes.push(format!(
                "Oracle reads the HSM_PASSWORD secret only from {expected}; this one went to {dir}."
            ));
        }
        // Oracle stores the secret without checking it; the rehearsal checks it now so that
        // a later EXTERNAL STORE open fails the way Oracle's would.
        let valid = self.hsm_login(user, password)?.is_none();
        let on_other_hsm = self.reached() == Reached::Other;
        if !valid {
            self.notes.push(
                "The stored HSM password does not log in: opening with EXTERNAL STORE will fail."
                    .into(),
            );
        }
        self.state.seps = Some(Seps {
            dir: dir.to_owned(),
            local,
            user: user.to_owned(),
            valid: valid && dir.trim_end_matches('/') == expected,
            on_other_hsm,
        });
        Ok(Reply::done(KEYSTORE_ALTERED))
    }

    pub(super) fn create_auto_login(
        &mut self,
        dir: &str,
        password: &Secret,
        local: bool,
    ) -> Result<Reply, OracleError> {
        if self.state.file.is_none() {
            return Ok(ora::DOES_NOT_EXIST.reply());
        }
        if let Some(w) = self.state.wallet_dir()
            && dir.trim_end_matches('/') != w.trim_end_matches('/')
        {
            return Ok(ora::DOES_NOT_EXIST.reply());
        }
        if !self.file_password_ok(password) {
            return Ok(ora::MISMATCH.reply());
        }
        if let Some(f) = &mut self.state.file {
            f.autologin = Some(local);
        }
        self.write_keystore(password)?;
        Ok(Reply::done(KEYSTORE_ALTERED))
    }

    pub(super) fn backup(
        &mut self,
        tag: Option<&str>,
        c: &Credential,
    ) -> Result<Reply, OracleError> {
        if self.state.file.is_none() {
            return Ok(ora::DOES_NOT_EXIST.reply());
        }
        if self.state.containers[0].file_open.is_none() {
            return Ok(ora::NOT_OPEN.reply());
        }
        let Credential::Password(pw) = c else {
            return Ok(ora::MISMATCH.reply());
        };
        if !self.file_password_ok(pw) {
            return Ok(ora::MISMATCH.reply());
        }
        self.backup_file(tag)?;
        Ok(Reply::done(KEYSTORE_ALTERED))
    }

    pub(super) fn backup_file(&mut self, tag: Option<&str>) -> Result<(), OracleError> {
        let stamp = chrono::DateTime::from_timestamp_millis(now_ms())
            .unwrap_or_default()
            .format("%Y%m%d%H%M%S");
        self.copy_backup(&layout::backup_name(&stamp.to_string(), tag))?;
        if let Some(f) = &mut self.state.file {
            let stamp = chrono::DateTime::from_timestamp_millis(now_ms())
                .unwrap_or_default()
                .format("%Y%m%d%H%M%S");
            let name = layout::backup_name(&stamp.to_string(), tag);
            f.backups.push(name.clone());
            f.backed_up = true;
            for k in &mut self.state.keys {
                if k.keystore == Ks::File {
                    k.backed_up = true;
                }
            }
            self.notes.push(format!("Backup written: {name}."));
        }
        Ok(())
    }
}
