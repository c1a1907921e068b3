//! `tdekey hsm …`

use super::{CliError, HsmCommand, LoginArgs, TargetArgs};
use crate::audit::Auditor;
use crate::hsm::demo::{self, DEMO_TOKEN_LABEL};
use crate::inventory::{self, InventoryRow, Severity};
use crate::paths::DataDir;
use crate::secret::Secret;
use crate::session::{self, Credentials, Target, TargetSpec};
use serde_json::json;
use std::process::ExitCode;

pub(super) fn run(data: &DataDir, cmd: HsmCommand) -> Result<ExitCode, CliError> {
    match cmd {
        HsmCommand::Modules { json } => modules(json),
        HsmCommand::Info {
            target,
            probe,
            login,
            json,
        } => info(data, &target, probe.then_some(&login), json),
        HsmCommand::Keys {
            target,
            login,
            json,
        } => keys(data, &target, &login, json),
        HsmCommand::DemoToken => demo_token(data),
        HsmCommand::Profile { command } => profile(data, command),
    }
}

fn profile(data: &DataDir, cmd: super::ProfileCommand) -> Result<ExitCode, CliError> {
    use super::ProfileCommand;
    use crate::model::{HsmProfile, PinFormat};
    let mut a = auditor(data)?;
    let loaded = session::load_hsm_profiles(&a)?;
    match cmd {
        ProfileCommand::Add {
            name,
            module,
            token,
            slot,
            user,
            pin_format,
            default,
        } => {
            let existing = loaded.profiles.iter().find(|p| p.name == name);
            let pin_format = pin_format
                .map(Into::into)
                .unwrap_or_else(|| PinFormat::guess(&module));
            let p = HsmProfile {
                id: existing.and_then(|p| p.id),
                name: name.clone(),
                module_path: module,
                token_label: token,
                slot_id: slot,
                user_name: user,
                pin_format,
            };
            session::save_hsm_profile(&mut a, &p, default)?;
            println!(
                "Saved the HSM profile {name:?}: {} as {} ({}){}.",
                p.module_path.display(),
                p.user_name,
                p.pin_format.describe(),
                if default { ", the default" } else { "" }
            );
        }
        ProfileCommand::List { json: as_json } => {
            if as_json {
                let out: Vec<_> = loaded
                    .profiles
                    .iter()
                    .map(|p| json!({ "profile": p, "default": p.id == loaded.default_id }))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else if loaded.profiles.is_empty() {
                println!(
                    "No HSM profile yet: `tdekey hsm profile add NAME --module PATH --user NAME` saves one."
                );
            } else {
                for p in &loaded.profiles {
                    let token = match p.selector() {
                        crate::model::TokenSelector::Label(l) => format!("token {l}"),
                        other => other.describe(),
                    };
                    let default = if p.id == loaded.default_id {
                        " (default)"
                    } else {
                        ""
                    };
                    println!(
                        "{}{default}: {}, {token}, as {} ({})",
                        p.name,
                        p.module_path.display(),
                        p.user_name,
                        p.pin_format.describe()
                    );
                }
            }
        }
        ProfileCommand::Remove { name } => {
            let p = loaded
                .profiles
                .iter()
                .find(|p| p.name == name)
                .ok_or_else(|| CliError(format!("No HSM profile is named {name:?}.")))?;
            session::delete_hsm_profile(&mut a, p.id.unwrap_or_default(), &name)?;
            println!("Removed the HSM profile {name:?}.");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The audit log, without which tdekey does nothing.
pub(super) fn auditor(data: &DataDir) -> Result<Auditor, CliError> {
    Ok(Auditor::open(data)?)
}

impl TargetArgs {
    pub(super) fn spec(&self) -> TargetSpec {
        TargetSpec {
            module: self.module.clone(),
            token: self.token.clone(),
            slot: self.slot,
            profile: self.profile.clone(),
        }
    }

    pub(super) fn resolve(&self, a: &Auditor) -> Result<Target, CliError> {
        Ok(Target::resolve(a.store(), &self.spec())?)
    }
}

impl LoginArgs {
    /// The crypto user's credentials: the password from $TDEKEY_PIN, --pin-file or a prompt.
    pub(super) fn credentials(&self) -> Result<Credentials, CliError> {
        Ok(Credentials {
            user: self.user.clone(),
            format: self.pin_format.map(Into::into),
            password: read_password(self)?,
        })
    }
}

fn modules(json: bool) -> Result<ExitCode, CliError> {
    let found = session::detect_modules();
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

fn info(
    data: &DataDir,
    t: &TargetArgs,
    probe: Option<&LoginArgs>,
    json_out: bool,
) -> Result<ExitCode, CliError> {
    let mut a = auditor(data)?;
    let target = t.resolve(&a)?;
    let connected = session::connect(&mut a, &target.module, "cli")?;
    session::disconnect(&mut a, connected.hsm)?;
    let (library, slots) = (connected.report.library, connected.report.slots);
    let probed = match probe {
        Some(login) => {
            let credentials = login.credentials()?;
            Some(session::with_login(
                &mut a,
                &target,
                credentials,
                "cli",
                |a, hsm, logged_in| {
                    let p = session::probe(a, hsm)?;
                    Ok::<_, CliError>((logged_in.token.clone(), p))
                },
            )?)
        }
        None => None,
    };
    let code = match &probed {
        Some((_, p)) if p.aes_key_gen.is_some() || p.hmac.is_some() => ExitCode::FAILURE,
        _ => ExitCode::SUCCESS,
    };
    if json_out {
        let mut out = json!({ "library": library, "slots": slots });
        if let Some((token, p)) = &probed {
            out["probe"] = json!({ "token": token, "aes_key_gen": p.aes_key_gen, "hmac": p.hmac });
        }
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(code);
    }
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
        let Some(tk) = &s.token else {
            println!("  (no token)");
            continue;
        };
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
        if let Some(n) = &tk.unreadable {
            println!("  Not shown: {n}");
        }
    }
    if let Some((token, p)) = &probed {
        println!();
        println!(
            "Probe of token {:?} (session keys, destroyed at once):",
            token.label
        );
        for (what, ok, detail) in p.checks() {
            println!("  {:<6} {what}: {detail}", if ok { "ok" } else { "FAILED" });
        }
        if code != ExitCode::SUCCESS {
            println!(
                "A mechanism Oracle or tdekey's audit checkpoints need failed when used (a mechanism list is no proof): they cannot rely on this token as it is. Check the crypto user's rights and the token's policy with the HSM vendor's tool."
            );
        }
    }
    Ok(code)
}

pub(super) fn read_password(login: &LoginArgs) -> Result<Secret, CliError> {
    if let Some(v) = std::env::var_os("TDEKEY_PIN") {
        return Ok(Secret::new(v.to_string_lossy().into_owned())
            .within_limit("crypto user password in TDEKEY_PIN")?);
    }
    if let Some(f) = &login.pin_file {
        return Secret::from_file(f)
            .map_err(|e| CliError(format!("Cannot read the PIN file {}: {e}.", f.display())));
    }
    let s = rpassword::prompt_password("Crypto user password (not echoed): ")
        .map(Secret::new)
        .map_err(|_| {
            CliError(
                "No password: set TDEKEY_PIN, pass --pin-file FILE, or run in a terminal to be asked."
                    .into(),
            )
        })?;
    Ok(s.within_limit("crypto user password")?)
}

fn keys(
    data: &DataDir,
    t: &TargetArgs,
    login: &LoginArgs,
    json_out: bool,
) -> Result<ExitCode, CliError> {
    let mut a = auditor(data)?;
    let target = t.resolve(&a)?;
    let credentials = login.credentials()?;
    let (token, user, rows) =
        session::with_login(&mut a, &target, credentials, "cli", |a, hsm, logged_in| {
            let rows = session::inventory(a, hsm, &mut |_, _| {})?;
            let user = hsm.user().unwrap_or("").to_owned();
            Ok::<_, CliError>((logged_in.token.clone(), user, rows))
        })?;
    let summary = inventory::summarize(&rows);
    if json_out {
        let out = json!({
            "module": target.module.display().to_string(),
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
            if r.object.unreadable.is_some() {
                format!("(unreadable: handle {})", r.object.handle)
            } else {
                r.object.label.clone()
            },
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
    let mut a = auditor(data)?;
    let report = session::demo_token(&mut a, data)?;
    let dir = data.softhsm_dir();
    if report.created_token {
        println!(
            "Created the demo token {DEMO_TOKEN_LABEL:?} in {}.",
            dir.display()
        );
    } else {
        println!(
            "The demo token {DEMO_TOKEN_LABEL:?} exists already in {}.",
            dir.display()
        );
    }
    if report.created_database {
        println!(
            "Created the Rehearsal database {:?} (simulated Oracle 19c): a password file keystore with one master key, ready to migrate to the demo token.",
            demo::DEMO_DATABASE_NAME
        );
    }
    println!(
        "Demo values (not secrets): user PIN {}, security-officer PIN {}, Rehearsal wallet password {}.",
        demo::DEMO_USER_PIN,
        demo::DEMO_SO_PIN,
        demo::DEMO_WALLET_PASSWORD
    );
    Ok(ExitCode::SUCCESS)
}
