//! The HSM session, as use cases: connect to a module, log the crypto user in, list the
//! token's objects, log out, disconnect; HSM profiles; the demo token. Each is recorded in the
//! audit log, the same way for the window (through the engine) and the command line.

mod demo;
mod lookup;
mod profiles;
mod target;

pub use demo::{DemoReport, demo_token};
pub use lookup::{Probe, lookup, probe};
pub use profiles::{HsmProfiles, delete_hsm_profile, load_hsm_profiles, save_hsm_profile};
pub use target::{Target, TargetSpec};

/// The PKCS#11 modules found in the usual places (reads the disk; records nothing).
pub use crate::hsm::detect_modules;

use crate::audit::{Action, AuditError, Auditor, Entry};
use crate::hsm::{Hsm, HsmError, LibraryReport, LoginOutcome, SlotReport};
use crate::inventory::{self, InventoryRow};
use crate::model::{OpenToken, PinFormat, Retry, TokenSelector};
use crate::secret::Secret;
use crate::store::StoreError;
use serde_json::json;
use std::path::Path;

/// Why a session use case did not complete.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Hsm(#[from] HsmError),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0} You have been logged out again.")]
    LoginUnrecorded(AuditError),
    #[error("{0}")]
    Invalid(String),
}

impl SessionError {
    pub fn retry(&self) -> Retry {
        match self {
            SessionError::Hsm(e) => e.retry(),
            SessionError::Audit(e) | SessionError::LoginUnrecorded(e) => e.retry(),
            SessionError::Store(e) => e.retry(),
            SessionError::Invalid(_) => Retry::AfterFix,
        }
    }
}

/// What a connection found: the library and every slot with its token.
#[derive(Clone, Debug)]
pub struct ConnectReport {
    pub library: LibraryReport,
    pub slots: Vec<SlotReport>,
}

/// A loaded module and what it reported.
#[derive(Debug)]
pub struct Connected {
    pub hsm: Hsm,
    pub report: ConnectReport,
}

/// Loads a PKCS#11 module and reads its library and slots (`hsm.connect`). A connection the
/// log cannot show does not stand: the module is closed again.
pub fn connect(a: &mut Auditor, module: &Path, via: &str) -> Result<Connected, SessionError> {
    let entry =
        Entry::new(Action::HsmConnect, module.display().to_string()).details(json!({ "via": via }));
    let acted = a.attempt(entry, |step| {
        let hsm = Hsm::load(module)?;
        let library = hsm.library()?;
        let slots = hsm.slots()?;
        step.note("manufacturer", library.manufacturer.as_str());
        step.note("library", library.description.as_str());
        step.note("library_version", library.library_version.as_str());
        step.note(
            "tokens",
            slots
                .iter()
                .filter_map(|s| {
                    s.token
                        .as_ref()
                        .filter(|t| t.flags.contains(&"TOKEN_INITIALIZED"))
                        .map(|t| t.label.clone())
                })
                .collect::<Vec<_>>(),
        );
        Ok::<_, HsmError>(Connected {
            hsm,
            report: ConnectReport { library, slots },
        })
    });
    match (acted.result, acted.recorded) {
        (Ok(c), Ok(_)) => Ok(c),
        (Ok(c), Err(source)) => {
            let _ = c.hsm.close();
            Err(AuditError::Unrecorded {
                done: "tdekey loaded the module (and has closed it again)".into(),
                source,
            }
            .into())
        }
        (Err(e), Ok(_)) => Err(e.into()),
        (Err(e), Err(source)) => Err(AuditError::FailureUnrecorded {
            error: e.to_string(),
            source,
        }
        .into()),
    }
}

/// Connects to `module`, first disconnecting from the module loaded before (one PKCS#11
/// context per process): whatever happens, nothing stays connected from before. The
/// disconnection is recorded like any other; its failure does not stop the new connection.
pub fn switch_module(
    a: &mut Auditor,
    previous: Option<Hsm>,
    module: &Path,
    via: &str,
) -> Result<Connected, SessionError> {
    if let Some(h) = previous {
        let _ = disconnect(a, h);
    }
    connect(a, module, via)
}

/// Closes the session and finalizes the module (`hsm.disconnect`).
pub fn disconnect(a: &mut Auditor, hsm: Hsm) -> Result<(), SessionError> {
    let entry = Entry::new(
        Action::HsmDisconnect,
        hsm.module_path().display().to_string(),
    )
    .user(hsm.user())
    .details(json!({
        "token": hsm.token().map(|t| t.label.clone()),
        "was_logged_in": hsm.logged_in(),
    }));
    a.attempt(entry, |_| hsm.close())
        .into_result("tdekey disconnected from the module")
}

/// A crypto user's login.
#[derive(Clone, Debug)]
pub struct LoggedIn {
    pub token: OpenToken,
    /// Something the user should know (the token reported an existing login).
    pub note: Option<String>,
}

/// Opens a session on the chosen token and logs the crypto user in (`hsm.login`, success or
/// failure). A login the log cannot show does not stand: tdekey logs out again.
pub fn login(
    a: &mut Auditor,
    hsm: &mut Hsm,
    selector: &TokenSelector,
    user: &str,
    password: Secret,
    format: PinFormat,
    via: &str,
) -> Result<LoggedIn, SessionError> {
    let entry = Entry::new(Action::HsmLogin, selector.describe())
        .user(Some(user))
        .details(json!({ "via": via, "pin_format": format.as_str() }));
    let acted = a.attempt(entry, |step| {
        let token = hsm.open(selector)?;
        step.retarget(&token.label);
        step.note("slot_id", token.slot_id);
        let result = hsm.login(user, &password, format);
        drop(password);
        if result.is_err() {
            step.note("failures_this_session", hsm.failed_logins());
        }
        let outcome = result?;
        step.note(
            "already_logged_in",
            outcome == LoginOutcome::AlreadyLoggedIn,
        );
        Ok::<_, HsmError>((token, outcome))
    });
    match (acted.result, acted.recorded) {
        (Ok((token, outcome)), Ok(_)) => Ok(LoggedIn {
            token,
            note: (outcome == LoginOutcome::AlreadyLoggedIn).then(|| {
                "The token reported that this application was already logged in (CKR_USER_ALREADY_LOGGED_IN); tdekey continues with that login.".to_owned()
            }),
        }),
        (Ok(_), Err(source)) => {
            let _ = hsm.logout();
            Err(SessionError::LoginUnrecorded(AuditError::Unrecorded {
                done: "The crypto user logged in".into(),
                source,
            }))
        }
        (Err(e), Ok(_)) => Err(e.into()),
        (Err(e), Err(source)) => Err(AuditError::FailureUnrecorded {
            error: e.to_string(),
            source,
        }
        .into()),
    }
}

/// Records a login that a statement's HSM password made (Oracle logs itself in the same
/// way); if the log cannot show it, tdekey logs out again.
pub fn record_implicit_login(a: &mut Auditor, hsm: &mut Hsm, by: &str) -> Result<(), SessionError> {
    let target = hsm.token().map(|t| t.label.clone()).unwrap_or_default();
    let entry = Entry::new(Action::HsmLogin, target)
        .user(hsm.user())
        .details(json!({ "by": by }));
    let acted = a.attempt(entry, |_| Ok::<_, HsmError>(()));
    if let Err(source) = acted.recorded {
        let _ = hsm.logout();
        return Err(SessionError::LoginUnrecorded(AuditError::Unrecorded {
            done: format!("The HSM password of \"{by}\" logged tdekey in"),
            source,
        }));
    }
    Ok(())
}

/// Logs the crypto user out (`hsm.logout`).
pub fn logout(a: &mut Auditor, hsm: &mut Hsm) -> Result<(), SessionError> {
    let target = hsm.token().map(|t| t.label.clone()).unwrap_or_default();
    let user = hsm.user().map(str::to_owned);
    a.attempt(
        Entry::new(Action::HsmLogout, target).user(user.as_deref()),
        |_| hsm.logout(),
    )
    .into_result("The crypto user logged out")
}

/// Lists every object on the token with its health findings (`hsm.inventory`). `progress` is
/// called with (done, total) as objects are read.
pub fn inventory(
    a: &mut Auditor,
    hsm: &Hsm,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<InventoryRow>, SessionError> {
    let target = hsm.token().map(|t| t.label.clone()).unwrap_or_default();
    let entry = Entry::new(Action::HsmInventory, target).user(hsm.user());
    a.attempt(entry, |step| {
        let rows = inventory::analyze(hsm.inventory(progress)?);
        let s = inventory::summarize(&rows);
        step.note("objects", s.objects);
        step.note("master_keys", s.master_keys);
        step.note("critical", s.critical);
        step.note("warnings", s.warnings);
        step.note("logged_in", hsm.logged_in());
        Ok::<_, HsmError>(rows)
    })
    .into_result("The token's objects were listed")
}

/// What the command line logs in with (the password comes from the front end).
pub struct Credentials {
    pub user: Option<String>,
    pub format: Option<PinFormat>,
    pub password: Secret,
}

/// Connects to the target's module, logs in, runs `f`, then logs out and disconnects, each
/// step recorded, whatever `f` returned. For the command line, whose sessions last one command.
pub fn with_login<T, E: From<SessionError>>(
    a: &mut Auditor,
    target: &Target,
    credentials: Credentials,
    via: &str,
    f: impl FnOnce(&mut Auditor, &mut Hsm, &LoggedIn) -> Result<T, E>,
) -> Result<T, E> {
    let user = credentials
        .user
        .or_else(|| target.profile.as_ref().map(|p| p.user_name.clone()))
        .unwrap_or_default();
    let format = credentials
        .format
        .or_else(|| target.profile.as_ref().map(|p| p.pin_format))
        .unwrap_or_else(|| PinFormat::guess(&target.module));
    with_connection(a, &target.module, via, |a, hsm| {
        let logged_in = login(
            a,
            hsm,
            &target.selector,
            &user,
            credentials.password,
            format,
            via,
        )?;
        f(a, hsm, &logged_in)
    })
}

/// Connects to a module, runs `f`, then ends the session: logs out if a user is logged in
/// (a statement's HSM password may have logged in) and disconnects, each recorded.
pub fn with_connection<T, E: From<SessionError>>(
    a: &mut Auditor,
    module: &Path,
    via: &str,
    f: impl FnOnce(&mut Auditor, &mut Hsm) -> Result<T, E>,
) -> Result<T, E> {
    let Connected { mut hsm, .. } = connect(a, module, via)?;
    let result = f(a, &mut hsm);
    let ended = end(a, hsm);
    let value = result?;
    ended?;
    Ok(value)
}

/// Logs out (when logged in) and disconnects, each recorded.
pub fn end(a: &mut Auditor, mut hsm: Hsm) -> Result<(), SessionError> {
    let logged_out = if hsm.logged_in() {
        logout(a, &mut hsm)
    } else {
        Ok(())
    };
    let disconnected = disconnect(a, hsm);
    logged_out.and(disconnected)
}
