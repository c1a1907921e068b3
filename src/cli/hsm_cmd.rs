//! `tdekey hsm …`

use super::{CliError, HsmCommand, LoginArgs, TargetArgs};
use crate::audit::{Action, Auditor, Outcome};
use crate::hsm::demo::{self, DEMO_PROFILE_NAME, DEMO_TOKEN_LABEL, DEMO_USER, TokenSpec};
use crate::hsm::{Hsm, detect_modules};
use crate::inventory::{self, InventoryRow, Severity};
use crate::model::{HsmProfile, PinFormat, TokenSelector};
use crate::paths::DataDir;
use crate::secret::Secret;
use crate::store::Store;
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

pub(super) fn run(data: &DataDir, cmd: HsmCommand) -> Result<ExitCode, CliError> {
    match cmd {
        HsmCommand::Modules { json } => modules(json),
        HsmCommand::Info { target, json } => info(data, &target, json),
        HsmCommand::Keys {
            target,
            login,
            json,
        } => keys(data, &target, &login, json),
        HsmCommand::DemoToken => demo_token(data),
    }
}

pub(super) fn auditor(data: &DataDir) -> Result<Auditor, CliError> {
    Store::open(&data.database())
        .map(Auditor::new)
        .map_err(|e| {
            CliError(format!(
                "The audit log is unavailable, so tdekey will not act: {e}"
            ))
        })
}

fn modules(json: bool) -> Result<ExitCode, CliError> {
    let found = detect_modules();
    if json {
        println!("{}", serde_json::to_string_pretty(&found)?);
    } else if found.is_empty() {
        println!("No PKCS#11 module found in the usual places. Pass --module PATH.");
    } else {
        for m in found {
            println!("{}\t{}", m.path.display(), m.source);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What a command connects to, after merging flags with the profile.
pub(super) struct Target {
    pub module: PathBuf,
    pub selector: TokenSelector,
    pub profile: Option<HsmProfile>,
}

pub(super) fn resolve_target(store: &Store, t: &TargetArgs) -> Result<Target, CliError> {
    let profile = match &t.profile {
        Some(name) => Some(
            store
                .hsm_profile_by_name(name)?
                .ok_or_else(|| CliError(format!("No connection profile is named {name:?}.")))?,
        ),
        None => store.default_hsm_profile()?,
    };
    let module = match (&t.module, &profile) {
        (Some(m), _) => m.clone(),
        (None, Some(p)) => p.module_path.clone(),
        (None, None) => {
            return Err(CliError(
                "No PKCS#11 module: pass --module PATH (see `tdekey hsm modules`), or create the demo token with `tdekey hsm demo-token`.".into(),
            ));
        }
    };
    let from_profile = t.module.is_none();
    let selector = match (&t.token, t.slot, &profile) {
        (Some(l), _, _) => TokenSelector::Label(l.clone()),
        (None, Some(s), _) => TokenSelector::Slot(s),
        (None, None, Some(p)) if from_profile => match (&p.token_label, p.slot_id) {
            (Some(l), _) => TokenSelector::Label(l.clone()),
            (None, Some(s)) => TokenSelector::Slot(s),
            _ => TokenSelector::Only,
        },
        _ => TokenSelector::Only,
    };
    Ok(Target {
        module,
        selector,
        profile: profile.filter(|_| from_profile),
    })
}

/// Loads a module, recording the connection.
pub(super) fn connect_to(auditor: &mut Auditor, module: &std::path::Path) -> Result<Hsm, CliError> {
    connect(auditor, module)
}

fn connect(auditor: &mut Auditor, module: &std::path::Path) -> Result<Hsm, CliError> {
    let target = module.display().to_string();
    match Hsm::load(module) {
        Ok(h) => {
            auditor.record(
                Action::HsmConnect,
                &target,
                Outcome::Success,
                None,
                json!({ "via": "cli" }),
            )?;
            Ok(h)
        }
        Err(e) => {
            auditor.record(
                Action::HsmConnect,
                &target,
                Outcome::Failure,
                None,
                json!({ "via": "cli", "error": e.to_string() }),
            )?;
            Err(e.into())
        }
    }
}

fn info(data: &DataDir, t: &TargetArgs, json_out: bool) -> Result<ExitCode, CliError> {
    let mut auditor = auditor(data)?;
    let target = resolve_target(auditor.store(), t)?;
    let hsm = connect(&mut auditor, &target.module)?;
    let library = hsm.library()?;
    let slots = hsm.slots()?;
    if json_out {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "library": library, "slots": slots }))?
        );
    } else {
        println!("Module        {}", library.path.display());
        println!("Manufacturer  {}", library.manufacturer);
        println!(
            "Library       {} {}",
            library.description, library.library_version
        );
        println!("Cryptoki      {}", library.cryptoki_version);
        for s in &slots {
            println!();
            println!("Slot {}  {}", s.slot_id, s.description);
            match &s.token {
                None => println!("  (no token)"),
                Some(tk) => {
                    println!("  Token label   {}", tk.label);
                    println!("  Manufacturer  {}", tk.manufacturer);
                    println!("  Model         {}", tk.model);
                    println!("  Serial        {}", tk.serial);
                    println!("  Flags         {}", tk.flags.join(" "));
                    for m in &tk.mechanisms {
                        println!(
                            "  {:<8} {:<17} {}",
                            if m.present { "present" } else { "MISSING" },
                            m.name,
                            m.purpose
                        );
                    }
                    if let Some(e) = &tk.mechanisms_error {
                        println!("  Mechanisms could not be read: {e}");
                    }
                }
            }
        }
    }
    hsm.close()?;
    Ok(ExitCode::SUCCESS)
}

fn read_password(login: &LoginArgs) -> Result<Secret, CliError> {
    if let Some(v) = std::env::var_os("TDEKEY_PIN") {
        return Ok(Secret::new(v.to_string_lossy().into_owned()));
    }
    if let Some(f) = &login.pin_file {
        return Secret::from_file(f)
            .map_err(|e| CliError(format!("Cannot read the PIN file {}: {e}.", f.display())));
    }
    rpassword::prompt_password("Crypto user password (not echoed): ")
        .map(Secret::new)
        .map_err(|_| {
            CliError(
                "No password: set TDEKEY_PIN, pass --pin-file FILE, or run in a terminal to be asked."
                    .into(),
            )
        })
}

/// Connects, opens the token and logs the crypto user in, writing the audit entries.
pub(super) fn open_logged_in(
    auditor: &mut Auditor,
    t: &TargetArgs,
    login: &LoginArgs,
) -> Result<(Hsm, crate::model::OpenToken, String, PathBuf), CliError> {
    let target = resolve_target(auditor.store(), t)?;
    let user = login
        .user
        .clone()
        .or_else(|| target.profile.as_ref().map(|p| p.user_name.clone()))
        .unwrap_or_default();
    let format: PinFormat = login
        .pin_format
        .map(Into::into)
        .or_else(|| target.profile.as_ref().map(|p| p.pin_format))
        .unwrap_or_else(|| PinFormat::guess(&target.module));
    let password = read_password(login)?;
    let mut hsm = connect(auditor, &target.module)?;
    let token = hsm.open(&target.selector)?;
    let hsm_user = (!user.is_empty()).then_some(user.as_str());
    let details = |error: Option<String>| {
        let mut d =
            json!({ "via": "cli", "slot_id": token.slot_id, "pin_format": format.as_str() });
        if let Some(e) = error {
            d["error"] = json!(e);
        }
        d
    };
    match hsm.login(&user, &password, format) {
        Ok(_) => {
            auditor.record(
                Action::HsmLogin,
                &token.label,
                Outcome::Success,
                hsm_user,
                details(None),
            )?;
        }
        Err(e) => {
            auditor.record(
                Action::HsmLogin,
                &token.label,
                Outcome::Failure,
                hsm_user,
                details(Some(e.to_string())),
            )?;
            return Err(e.into());
        }
    }
    Ok((hsm, token, user, target.module))
}

fn keys(
    data: &DataDir,
    t: &TargetArgs,
    login: &LoginArgs,
    json_out: bool,
) -> Result<ExitCode, CliError> {
    let mut auditor = auditor(data)?;
    let (mut hsm, token, user, module) = open_logged_in(&mut auditor, t, login)?;
    let hsm_user = (!user.is_empty()).then_some(user.as_str());
    let objects = match hsm.inventory(&mut |_, _| {}) {
        Ok(o) => o,
        Err(e) => {
            auditor.record(
                Action::HsmInventory,
                &token.label,
                Outcome::Failure,
                hsm_user,
                json!({ "via": "cli", "error": e.to_string() }),
            )?;
            return Err(e.into());
        }
    };
    let rows = inventory::analyze(objects);
    let summary = inventory::summarize(&rows);
    auditor.record(
        Action::HsmInventory,
        &token.label,
        Outcome::Success,
        hsm_user,
        json!({ "via": "cli", "objects": summary.objects, "master_keys": summary.master_keys, "critical": summary.critical, "warnings": summary.warnings }),
    )?;
    let _ = hsm.logout();
    hsm.close()?;
    if json_out {
        let out = json!({
            "module": module.display().to_string(),
            "token": token,
            "user": user,
            "summary": summary,
            "objects": rows,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print_table(&rows);
        println!(
            "\n{} objects, {} TDE master keys, {} with critical findings, {} with warnings.",
            summary.objects, summary.master_keys, summary.critical, summary.warnings
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn print_table(rows: &[InventoryRow]) {
    let order = inventory::view(rows, "", inventory::SortColumn::Label, true);
    println!(
        "{:<8}  {:<56}  {:<16}  {:<7}  {:>4}  MEANING",
        "HEALTH", "LABEL", "CLASS", "TYPE", "BITS"
    );
    for i in order {
        let r = &rows[i];
        let health = match r.worst() {
            Some(Severity::Critical) => "CRITICAL",
            Some(Severity::Warning) => "warning",
            None => "ok",
        };
        println!(
            "{:<8}  {:<56}  {:<16}  {:<7}  {:>4}  {}",
            health,
            r.object.label,
            r.object.class,
            r.object
                .key_type
                .as_deref()
                .unwrap_or("")
                .trim_start_matches("CKK_"),
            r.object
                .value_len
                .map(|n| (n * 8).to_string())
                .unwrap_or_default(),
            r.meaning
        );
        for h in &r.health {
            println!("          ! {}", h.reason);
        }
    }
}

/// Writes the demo SoftHSM2 configuration and points this process at it. Runs before any thread.
pub(super) fn prepare_demo_conf(data: &DataDir) -> Result<(), CliError> {
    data.ensure().map_err(|e| {
        CliError(format!(
            "Cannot create the data directory {}: {e}.",
            data.root().display()
        ))
    })?;
    let conf = data.softhsm_conf();
    if !conf.is_file() {
        demo::write_softhsm_conf(&data.softhsm_dir())
            .map_err(|e| CliError(format!("Cannot write {}: {e}.", conf.display())))?;
    }
    // SAFETY: called from `main` before any other thread exists.
    unsafe { std::env::set_var("SOFTHSM2_CONF", &conf) };
    Ok(())
}

fn demo_token(data: &DataDir) -> Result<ExitCode, CliError> {
    let module = demo::softhsm_module().ok_or_else(|| {
        CliError("SoftHSM2 is not installed. Install it (Debian/Ubuntu: sudo apt-get install softhsm2) or run `make run`, which installs it.".into())
    })?;
    let mut auditor = auditor(data)?;
    let probe = connect(&mut auditor, &module)?;
    let exists = probe
        .resolve(&TokenSelector::Label(DEMO_TOKEN_LABEL.into()))
        .is_ok();
    drop(probe);
    if exists {
        println!(
            "The demo token {DEMO_TOKEN_LABEL:?} exists already in {}.",
            data.softhsm_dir().display()
        );
    } else {
        create_demo_token(&mut auditor, &module)?;
        println!(
            "Created the demo token {DEMO_TOKEN_LABEL:?} in {}.",
            data.softhsm_dir().display()
        );
    }
    ensure_demo_profile(&mut auditor, &module)?;
    super::db_run::ensure_demo_database(&mut auditor, data, &module)?;
    println!(
        "Demo values (not secrets): user PIN {}, security-officer PIN {}, Rehearsal wallet password {}.",
        demo::DEMO_USER_PIN,
        demo::DEMO_SO_PIN,
        demo::DEMO_WALLET_PASSWORD
    );
    Ok(ExitCode::SUCCESS)
}

fn create_demo_token(auditor: &mut Auditor, module: &std::path::Path) -> Result<(), CliError> {
    let pending = auditor.begin(
        Action::HsmTokenInit,
        DEMO_TOKEN_LABEL,
        None,
        json!({ "module": module.display().to_string(), "demo": true }),
    )?;
    let hsm = match demo::create_softhsm_token(&TokenSpec::demo()) {
        Ok(h) => {
            auditor.finish(pending, Outcome::Success, json!({}))?;
            h
        }
        Err(e) => {
            auditor.finish(pending, Outcome::Failure, json!({ "error": e.to_string() }))?;
            return Err(e.into());
        }
    };
    let first = hsm.random_master_key_id()?;
    let second = hsm.random_master_key_id()?;
    for obj in demo::demo_objects(first, second) {
        let action = if obj.key.is_some() {
            Action::KeyGenerate
        } else {
            Action::DataObjectCreate
        };
        let details = match obj.key {
            Some(k) => {
                json!({ "demo": true, "what": obj.what, "bits": k.bytes * 8, "extractable": k.extractable, "sensitive": k.sensitive })
            }
            None => json!({ "demo": true, "what": obj.what }),
        };
        let pending = auditor.begin(action, &obj.label, Some(DEMO_USER), details)?;
        let r = match obj.key {
            Some(k) => hsm.generate_aes_key(&obj.label, k),
            None => hsm.create_data_object(&obj.label, "tdekey demo", obj.what.as_bytes()),
        };
        match r {
            Ok(handle) => {
                auditor.finish(pending, Outcome::Success, json!({ "handle": handle }))?;
            }
            Err(e) => {
                auditor.finish(pending, Outcome::Failure, json!({ "error": e.to_string() }))?;
                return Err(e.into());
            }
        }
    }
    hsm.close()?;
    Ok(())
}

fn ensure_demo_profile(auditor: &mut Auditor, module: &std::path::Path) -> Result<(), CliError> {
    let store = auditor.store();
    let existing = store.hsm_profile_by_name(DEMO_PROFILE_NAME)?;
    let has_default = store.default_hsm_profile()?.is_some();
    let profile = HsmProfile {
        id: existing.as_ref().and_then(|p| p.id),
        name: DEMO_PROFILE_NAME.into(),
        module_path: module.to_path_buf(),
        token_label: Some(DEMO_TOKEN_LABEL.into()),
        slot_id: None,
        user_name: DEMO_USER.into(),
        pin_format: PinFormat::Plain,
    };
    if existing.as_ref() == Some(&profile) && has_default {
        return Ok(());
    }
    crate::engine::save_profile(auditor, &profile, !has_default).map_err(CliError)?;
    Ok(())
}
