//! Steps 1, 3 and 4: the database and the HSM, the CloudHSM client, Oracle's PKCS#11 library.

use super::{
    Check, Context, MigrationError, Need, StepResult, Wizard, key_rows, keystore_configuration,
    token_master_keys, wallet_rows,
};
use crate::audit::Auditor;
use crate::migration::StepId;
use crate::migration::host::{self, Host};
use crate::migration::state::{Path, StepStatus};
use crate::tde::labels::parse_key_id;
use crate::tde::views::{KeystoreType, WalletStatus, WrlType};

pub(super) fn choose(
    w: &mut Wizard,
    a: &mut Auditor,
    ctx: &mut Context<'_>,
) -> Result<StepResult, MigrationError> {
    let Some(token) = ctx.hsm.token().cloned().filter(|_| ctx.hsm.logged_in()) else {
        return Ok(StepResult::attention(
            "Log in to the HSM as the crypto user Oracle will use first (the HSM screen; on the command line the password comes from TDEKEY_PIN, --pin-file or a prompt).",
            Vec::new(),
            Vec::new(),
        ));
    };
    let user = ctx.hsm.user().unwrap_or("").to_owned();
    let mut checks = vec![Check::new(
        "Logged in to the HSM",
        true,
        format!("as {user} on token {:?}", token.label),
    )];
    let aes = ctx.hsm.offers_aes_key_gen()?;
    checks.push(Check::new(
        "The token offers CKM_AES_KEY_GEN",
        aes,
        if aes {
            "Oracle can generate its AES-256 master key there"
        } else {
            "without it Oracle cannot make a master key on this token"
        },
    ));
    let on_token: Vec<String> = token_master_keys(a, ctx)?
        .into_iter()
        .map(|r| r.object.label)
        .collect();
    w.state.snapshot = on_token.clone();
    w.state.token = Some(token.label.clone());
    w.state.hsm_user = Some(user);
    w.state.hsm_module = Some(ctx.hsm.module_path().display().to_string());

    let refuse = |checks: &mut Vec<Check>, why: String| {
        checks.push(Check::new(
            "The keystore is the root's (a non-CDB, or a CDB in united mode)",
            false,
            format!(
                "{why}: each isolated PDB has its own keystore, migrated from inside that PDB with its own passwords. This wizard migrates a non-CDB or a united CDB (CONTAINER = ALL); it does not drive isolated PDB keystores. Migrate each isolated PDB by hand (the console shows the statements), or unite them first (ADMINISTER KEY MANAGEMENT UNITE KEYSTORE)."
            ),
        ));
    };
    if w.db.multitenant == crate::model::Multitenant::CdbIsolated {
        refuse(
            &mut checks,
            "The database profile says isolated PDB keystores".into(),
        );
        return Ok(StepResult::from_checks(checks));
    }
    // Before anything else is read from the database or changed: what this connection may run.
    let session = super::privileges::session_checks(w, a, ctx)?;
    let lacking = session.iter().any(|c| !c.ok);
    checks.extend(session);
    if lacking {
        return Ok(StepResult::from_checks(checks).note(
            "Change the profile's \"Connect as\" (Databases screen, or tdekey db add --connect-as sysdba), or grant what is missing, then run step 1 again.",
        ));
    }
    let rows = wallet_rows(w, a, ctx)?;
    let isolated: Vec<String> = rows
        .iter()
        .filter(|r| r.keystore_mode == crate::tde::views::KeystoreMode::Isolated)
        .map(|r| r.con_id.to_string())
        .collect();
    if !isolated.is_empty() {
        refuse(
            &mut checks,
            format!(
                "V$ENCRYPTION_WALLET shows isolated keystores in container(s) {}",
                isolated.join(", ")
            ),
        );
        return Ok(StepResult::from_checks(checks));
    }
    let configuration = keystore_configuration(w, a, ctx)?;
    let keys = key_rows(w, a, ctx)?;
    let current = keys
        .iter()
        .filter(|k| k.con_id <= 1)
        .max_by_key(|k| k.activated_ms);
    let file = super::row_of(&rows, WrlType::File);
    let (path, why) = match current {
        Some(k) if k.keystore_type == KeystoreType::Hsm => {
            let label = parse_key_id(&k.key_id)
                .map(|(_, id)| id.hsm_label())
                .unwrap_or_default();
            if on_token.contains(&label) {
                (
                    Path::AlreadyOnHsm,
                    format!("The current master key is already on this HSM ({label})."),
                )
            } else {
                (
                    Path::OtherHsm,
                    format!(
                        "The current master key is in an HSM, but not on this token ({label} is not here): the database uses another HSM."
                    ),
                )
            }
        }
        Some(_) => (
            Path::FileToHsm,
            "The current master key is in the software keystore (file wallet): it will be migrated to the HSM.".to_owned(),
        ),
        None => match file {
            Some(f) if f.status != WalletStatus::NotAvailable => (
                Path::FileToHsm,
                format!(
                    "TDE_CONFIGURATION is {}, and the file keystore is {} (its keys show once it is open): it will be migrated to the HSM.",
                    if configuration.is_empty() { "not set" } else { &configuration },
                    f.status.as_str()
                ),
            ),
            _ => {
                checks.push(Check::new(
                    "A software keystore with a master key",
                    false,
                    "V$ENCRYPTION_WALLET shows no file keystore: there is nothing to migrate. Check WALLET_ROOT and TDE_CONFIGURATION.",
                ));
                return Ok(StepResult::from_checks(checks));
            }
        },
    };
    checks.push(Check::new("Where the master key is", true, why));
    w.state.path = Some(path);
    w.state.configuration_before.get_or_insert(configuration);
    match path {
        Path::FileToHsm => Ok(StepResult::from_checks(checks)),
        Path::AlreadyOnHsm => {
            for s in &mut w.state.steps {
                if !matches!(s.step, StepId::Choose | StepId::Done) {
                    s.status = StepStatus::Skipped;
                    s.reason = Some("The master key is already on this HSM.".into());
                }
            }
            Ok(StepResult::from_checks(checks))
        }
        Path::OtherHsm => Ok(StepResult::from_checks(checks).note(
            "Path B: step 2 brings the master key back from the other HSM to the file wallet (with the old vendor's library still in place), step 4 has its library replaced by this HSM's, and the migration goes on as from a file wallet.",
        )),
    }
}

pub(super) fn hsm_client(
    w: &mut Wizard,
    ctx: &mut Context<'_>,
) -> Result<StepResult, MigrationError> {
    let module = ctx.hsm.module_path().to_path_buf();
    if !module
        .to_string_lossy()
        .to_ascii_lowercase()
        .contains("cloudhsm")
    {
        return Ok(StepResult::skipped(format!(
            "{} is not AWS CloudHSM's PKCS#11 library: there is no CloudHSM client to check.",
            module.display()
        )));
    }
    let c = if Host::of(&w.db, ctx.data) == Host::Remote {
        // Oracle uses the client on the database host: read it from there.
        use crate::migration::host_output::{client_command, parse_client};
        let ask = |problem: Option<String>| {
            StepResult::attention(
                problem.unwrap_or_else(|| {
                    "tdekey does not run on the database host: Oracle uses the CloudHSM client there. Run the command there and paste its output.".into()
                }),
                vec![
                    "Run this on the database host and paste everything it prints:".to_owned(),
                    client_command(),
                ],
                vec![Need::HostOutput],
            )
        };
        let Some(text) = ctx.inputs.host_output.take() else {
            return Ok(ask(None));
        };
        match parse_client(&text) {
            Ok(c) => host::CloudHsmClient {
                configure: c.configure,
                ca_path: c.ca_path,
                ca_cert: c.ca_cert,
                servers: c.servers,
                config: format!("{} on the database host", host::CLIENT_CONFIG).into(),
            },
            Err(e) => return Ok(ask(Some(e.to_string()))),
        }
    } else {
        // The client tdekey loaded is the one on this machine, the database host.
        host::cloudhsm_client(std::path::Path::new("/"))
    };
    let user = w
        .state
        .hsm_user
        .clone()
        .unwrap_or_else(|| "<crypto user>".into());
    let mut todo = Vec::new();
    if !c.configure {
        todo.push("Install the CloudHSM Client SDK 5 PKCS#11 library (it provides /opt/cloudhsm/bin/configure-pkcs11).".to_owned());
    }
    if c.servers.is_empty() {
        todo.push("sudo /opt/cloudhsm/bin/configure-pkcs11 -a <HSM IP addresses>".to_owned());
    }
    if !c.ca_cert {
        todo.push(format!(
            "Put the cluster's CA certificate (customerCA.crt) at {}, where the client configuration looks for it, or point the client at where it is: sudo /opt/cloudhsm/bin/configure-pkcs11 --hsm-ca-cert <path to the CA certificate>",
            c.ca_path
        ));
    }
    let checks = vec![
        Check::new(
            "/opt/cloudhsm/bin/configure-pkcs11 exists",
            c.configure,
            "the CloudHSM PKCS#11 client's configuration tool",
        ),
        Check::new(
            "The PKCS#11 client configuration names HSM addresses",
            !c.servers.is_empty(),
            if c.servers.is_empty() {
                format!("{} names none", c.config.display())
            } else {
                c.servers.join(", ")
            },
        ),
        Check::new(
            "The cluster's CA certificate is where the client configuration names it",
            c.ca_cert,
            format!(
                "{} {} (the client checks the HSMs' certificates against it; configure-pkcs11 --hsm-ca-cert sets the path)",
                c.ca_path,
                if c.ca_cert { "exists" } else { "is missing" }
            ),
        ),
        Check::new(
            "The crypto user logs in",
            ctx.hsm.logged_in(),
            format!("as {user} (step 1)"),
        ),
    ];
    if todo.is_empty() {
        return Ok(StepResult::from_checks(checks).note(
            "A single-HSM cluster also needs disable_key_availability_check in the client configuration, or key generation fails at the migration.",
        ));
    }
    {
        use crate::hsm::cloudhsm_cli as cli;
        let create = cli::user_create(&user);
        todo.push(format!(
            "If the crypto user {user} does not exist, an admin creates it (it asks for the admin's name and password, then the new user's password): {}",
            cli::single_command(None, cli::Role::Admin, &create)
        ));
        todo.push(format!(
            "or in the CLI's interactive mode: {}",
            cli::interactive(None, cli::Role::Admin, &create).join("  ;  ")
        ));
    }
    let mut r = StepResult::attention(
        "The CloudHSM client on this machine is not fully configured.",
        todo,
        vec![Need::Confirmation],
    );
    r.checks = checks;
    Ok(r)
}

/// Step 4 on a host tdekey does not run on: the listing the person pastes from there.
fn remote_library(
    ctx: &mut Context<'_>,
    module: &std::path::Path,
    commands: Vec<String>,
) -> StepResult {
    use crate::migration::host_output::{library_command, parse_library};
    let ask = |problem: Option<String>| {
        let mut todo = vec![
            "Run this on the database host (as the Oracle software owner, with ORACLE_HOME set) and paste everything it prints:".to_owned(),
            library_command(),
            "If it lists no library, or another vendor's, put this HSM's in place (remove any other vendor's directory under /opt/oracle/extapi/64/hsm/ first):".to_owned(),
        ];
        todo.extend(commands.iter().cloned());
        StepResult::attention(
            problem.unwrap_or_else(|| {
                "tdekey does not run on the database host: run the command there and paste its output.".into()
            }),
            todo,
            vec![Need::HostOutput],
        )
    };
    let Some(text) = ctx.inputs.host_output.take() else {
        return ask(None);
    };
    let listing = match parse_library(&text) {
        Ok(l) => l,
        Err(e) => return ask(Some(e.to_string())),
    };
    let libs: Vec<&(String, String, String)> = listing
        .files
        .iter()
        .filter(|(_, _, p)| {
            std::path::Path::new(p).file_name().is_some_and(|n| {
                n.to_string_lossy().starts_with("lib") && n.to_string_lossy().contains(".so")
            })
        })
        .collect();
    let ours = std::fs::read(module)
        .ok()
        .map(|b| crate::databases::sha256_hex(&b));
    let mut checks = vec![Check::new(
        "Exactly one library under /opt/oracle/extapi/64/hsm/<vendor>/<version>/",
        libs.len() == 1,
        match libs.len() {
            0 => "none: Oracle would answer ORA-28376 (cannot find PKCS11 library)".to_owned(),
            _ => libs
                .iter()
                .map(|(_, _, p)| p.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        },
    )];
    if let [(owner, sha, _)] = libs.as_slice() {
        checks.push(Check::new(
            "It is this HSM's library (the same bytes as the client library tdekey loads)",
            ours.as_deref() == Some(sha.as_str()),
            match &ours {
                Some(o) if o == sha => format!("SHA-256 {sha}"),
                Some(o) => format!(
                    "SHA-256 {sha} on the database host, {o} for {} here: another vendor's or another version's library (accept with a reason if the versions differ on purpose)",
                    module.display()
                ),
                None => format!("{} cannot be read here to compare", module.display()),
            },
        ));
        checks.push(Check::new(
            "Owned by the Oracle software owner",
            listing.oracle_home_owner.as_deref() == Some(owner.as_str()),
            match &listing.oracle_home_owner {
                Some(h) => format!("the library {owner}, ORACLE_HOME {h}"),
                None => {
                    format!("the library {owner}; ORACLE_HOME was not set where the command ran")
                }
            },
        ));
    }
    StepResult::from_checks(checks)
}

pub(super) fn oracle_library(
    w: &mut Wizard,
    ctx: &mut Context<'_>,
) -> Result<StepResult, MigrationError> {
    let host = Host::of(&w.db, ctx.data);
    let module = ctx.hsm.module_path().to_path_buf();
    let library = ctx.hsm.library()?;
    let dir = host::vendor_dir(&module, &library);
    // The Oracle software owner is ORACLE_HOME's owner (often oracle:oinstall, sometimes
    // oracle:dba): the command reads it on the database host, nothing is assumed.
    let owner = match w.db.oracle_home.as_deref() {
        Some(home) => format!("\"$(stat -c %U:%G '{home}')\""),
        None => "\"$(stat -c %U:%G \"$ORACLE_HOME\")\"".to_owned(),
    };
    let mut commands = host::library_commands(&module, &dir, &owner);
    let found = host::oracle_libraries(&host);
    let simulated = matches!(
        host,
        Host::Local {
            simulated: true,
            ..
        }
    );
    let one = |found: &[std::path::PathBuf]| {
        Check::new(
            "Exactly one library under /opt/oracle/extapi/64/hsm/<vendor>/<version>/",
            found.len() == 1,
            match found.len() {
                0 => "none: Oracle would answer ORA-28376 (cannot find PKCS11 library)".to_owned(),
                1 => host.show(&found[0]),
                n => format!(
                    "{n} libraries ({}): Oracle needs exactly one",
                    found
                        .iter()
                        .map(|p| host.show(p))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            },
        )
    };
    // The library Oracle loads must be this HSM's: the file tdekey loads, byte for byte (a
    // copy of it). Another vendor's library left from path B would take Oracle to that HSM.
    let same = |found: &[std::path::PathBuf]| {
        let ours = std::fs::read(&module)
            .ok()
            .map(|b| crate::databases::sha256_hex(&b));
        let theirs = found
            .first()
            .and_then(|f| std::fs::read(f).ok())
            .map(|b| crate::databases::sha256_hex(&b));
        Check::new(
            "It is this HSM's library (the same file tdekey loads)",
            ours.is_some() && ours == theirs,
            match (&ours, &theirs) {
                (Some(o), Some(t)) if o == t => format!("SHA-256 {o}, as {}", module.display()),
                (Some(o), Some(t)) => format!(
                    "SHA-256 {t}, but {} is {o}: another vendor's or another version's library",
                    module.display()
                ),
                _ => "cannot be read".to_owned(),
            },
        )
    };
    if matches!(host, Host::Remote) {
        return Ok(remote_library(ctx, &module, commands));
    }
    let right = found.len() == 1 && same(&found).ok;
    if !right && simulated && ctx.inputs.apply_fix {
        let Host::Local { root, .. } = &host else {
            unreachable!("checked above")
        };
        let base = root.join(host::EXTAPI_HSM.trim_start_matches('/'));
        let target = base.join(&dir);
        if !found.is_empty() {
            commands.insert(0, format!("sudo rm -rf {}/*", host::EXTAPI_HSM));
        }
        let fix = (|| {
            if base.is_dir() {
                for e in std::fs::read_dir(&base)?.flatten() {
                    if e.path().is_dir() {
                        std::fs::remove_dir_all(e.path())?;
                    }
                }
            }
            std::fs::create_dir_all(&target)?;
            std::fs::copy(&module, target.join(module.file_name().unwrap_or_default()))
        })();
        if let Err(e) = fix {
            return Ok(StepResult::failed(format!(
                "The library could not be put in place on the simulated host ({}): {e}.",
                target.display()
            )));
        }
        let found = host::oracle_libraries(&host);
        return Ok(
            StepResult::from_checks(vec![one(&found), same(&found)]).note(format!(
                "Applied on the Rehearsal's simulated host: {}",
                commands.join("; ")
            )),
        );
    }
    if found.len() == 1 && right {
        let mut checks = vec![one(&found), same(&found)];
        if !simulated && let Some(home) = w.db.oracle_home.as_deref() {
            let uid = |p: &std::path::Path| {
                std::fs::metadata(p)
                    .ok()
                    .and_then(|m| crate::paths::owner_of(&m))
                    .map(|(uid, _)| uid)
            };
            let want = uid(std::path::Path::new(home));
            let got = uid(&found[0]);
            checks.push(Check::new(
                "Owned by the Oracle software owner",
                want.is_some() && want == got,
                format!(
                    "the library's owner {} , ORACLE_HOME's {}",
                    got.map_or("?".into(), crate::paths::user_name),
                    want.map_or("?".into(), crate::paths::user_name)
                ),
            ));
        }
        return Ok(StepResult::from_checks(checks));
    }
    let (reason, mut todo) = match found.len() {
        0 => (
            "Oracle's PKCS#11 library is not in place: Oracle would answer ORA-28376.".to_owned(),
            commands,
        ),
        1 => (
            "The library under /opt/oracle/extapi/64/hsm/ is not this HSM's: Oracle would keep talking to the HSM it belongs to. Replace it with this HSM's.".to_owned(),
            {
                let mut c = vec![format!(
                    "sudo rm -rf {}",
                    host.show(
                        found[0]
                            .parent()
                            .and_then(|p| p.parent())
                            .unwrap_or(&found[0])
                    )
                )];
                c.extend(commands);
                c
            },
        ),
        _ => (
            "More than one library is under /opt/oracle/extapi/64/hsm/: Oracle needs exactly one, this HSM's.".to_owned(),
            {
                let mut c = vec![
                    "ls -ln /opt/oracle/extapi/64/hsm/*/*/".to_owned(),
                    format!("Remove every directory under {} but this HSM's:", host::EXTAPI_HSM),
                ];
                c.extend(commands);
                c
            },
        ),
    };
    if simulated {
        todo.push("This is the Rehearsal's simulated host: tdekey can apply these for you.".into());
    } else {
        todo.push("Then run this step again.".into());
    }
    let mut checks = vec![one(&found)];
    if found.len() == 1 {
        checks.push(same(&found));
    }
    let mut r = StepResult::attention(
        reason,
        todo,
        if simulated {
            vec![Need::Fix]
        } else {
            Vec::new()
        },
    );
    r.checks = checks;
    // A library that is there but not this HSM's is a failed check a person may accept with a
    // reason (e.g. tdekey loads a logging wrapper of the same library).
    if found.len() == 1 && !simulated {
        r.status = crate::migration::state::StepStatus::Failed;
    }
    Ok(r)
}
