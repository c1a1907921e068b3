//! Steps 3 and 4, on every host (each RAC node, each standby): the CloudHSM client and
//! Oracle's PKCS#11 library. tdekey reads the host it runs on (or the Rehearsal's simulated
//! host) itself; for the others it shows the command and checks what is pasted back.

use super::per_host::{Remote, each_host};
use super::{Check, Context, MigrationError, Need, StepResult, Wizard};
use crate::migration::StepId;
use crate::migration::host::{self, Host};
use crate::migration::host_output::{
    LibraryListing, client_command, library_command, parse_client, parse_library,
};
use crate::migration::hosts::{self, Target};

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
    let user = w
        .state
        .hsm_user
        .clone()
        .unwrap_or_else(|| "<crypto user>".into());
    let targets = hosts::targets(&w.db, ctx.data);
    // The client tdekey loaded is the one on this machine, a database host.
    let local = targets
        .iter()
        .any(|t| !t.is_remote())
        .then(|| client_result(&host::cloudhsm_client(std::path::Path::new("/")), &user));
    let login = Check::new(
        "The crypto user logs in",
        ctx.hsm.logged_in(),
        format!("as {user} (step 1)"),
    );
    // Oracle uses the client on each database host: read it from there.
    let command = |t: &Target| {
        let mut todo = vec![
            format!(
                "Run this on {} and paste everything it prints:",
                t.host.as_deref().unwrap_or("the database host")
            ),
            client_command(),
        ];
        todo.extend(client_fixes(None, &user));
        todo
    };
    let check = |_: &Target, text: &str| {
        parse_client(text).map(|c| {
            client_checks(&host::CloudHsmClient {
                configure: c.configure,
                ca_path: c.ca_path,
                ca_cert: c.ca_cert,
                servers: c.servers,
                config: format!("{} there", host::CLIENT_CONFIG).into(),
            })
        })
    };
    let remote = Remote {
        why: "tdekey does not run on the database host: Oracle uses the CloudHSM client there. Run the command there and paste its output.",
        command: &command,
        check: &check,
    };
    Ok(each_host(
        w,
        ctx,
        StepId::HsmClient,
        &targets,
        local,
        vec![login],
        &remote,
    ))
}

/// The client's checks on one host.
fn client_checks(c: &host::CloudHsmClient) -> Vec<Check> {
    vec![
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
    ]
}

/// What to do about what is missing (everything that may be, when `c` is not known).
fn client_fixes(c: Option<&host::CloudHsmClient>, user: &str) -> Vec<String> {
    let mut todo = Vec::new();
    if c.is_none_or(|c| !c.configure) {
        todo.push("Install the CloudHSM Client SDK 5 PKCS#11 library where it is missing (it provides /opt/cloudhsm/bin/configure-pkcs11).".to_owned());
    }
    if c.is_none_or(|c| c.servers.is_empty()) {
        todo.push(
            "Where no HSM address is configured: sudo /opt/cloudhsm/bin/configure-pkcs11 -a <HSM IP addresses>"
                .to_owned(),
        );
    }
    if c.is_none_or(|c| !c.ca_cert) {
        todo.push(format!(
            "Put the cluster's CA certificate (customerCA.crt) at {}, where the client configuration looks for it, or point the client at where it is: sudo /opt/cloudhsm/bin/configure-pkcs11 --hsm-ca-cert <path to the CA certificate>",
            c.map_or_else(|| "the path the configuration names (CA_MISSING)".to_owned(), |c| c.ca_path.clone())
        ));
    }
    use crate::hsm::cloudhsm_cli as cli;
    let create = cli::user_create(user);
    todo.push(format!(
        "If the crypto user {user} does not exist, an admin creates it (it asks for the admin's name and password, then the new user's password): {}",
        cli::single_command(None, cli::Role::Admin, &create)
    ));
    todo.push(format!(
        "or in the CLI's interactive mode: {}",
        cli::interactive(None, cli::Role::Admin, &create).join("  ;  ")
    ));
    todo
}

/// Step 3 on the host tdekey runs on.
fn client_result(c: &host::CloudHsmClient, user: &str) -> StepResult {
    let checks = client_checks(c);
    if checks.iter().all(|c| c.ok) {
        return StepResult::from_checks(checks).note(
            "A single-HSM cluster also needs disable_key_availability_check in the client configuration, or key generation fails at the migration.",
        );
    }
    let mut r = StepResult::attention(
        "The CloudHSM client on this machine is not fully configured.",
        client_fixes(Some(c), user),
        vec![Need::Confirmation],
    );
    r.checks = checks;
    r
}

/// Step 4 on a host tdekey does not run on: the to-do, then the listing pasted from there.
fn library_todo(t: &Target, commands: &[String]) -> Vec<String> {
    let mut todo = vec![
        format!(
            "Run this on {} (as the Oracle software owner, with ORACLE_HOME set) and paste everything it prints:",
            t.host.as_deref().unwrap_or("the database host")
        ),
        library_command(),
        "If it lists no library, or another vendor's, put this HSM's in place (remove any other vendor's directory under /opt/oracle/extapi/64/hsm/ first):".to_owned(),
    ];
    todo.extend(commands.iter().cloned());
    todo
}

fn library_checks(module: &std::path::Path, listing: &LibraryListing) -> Vec<Check> {
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
    checks
}

pub(super) fn oracle_library(
    w: &mut Wizard,
    ctx: &mut Context<'_>,
) -> Result<StepResult, MigrationError> {
    let module = ctx.hsm.module_path().to_path_buf();
    let library = ctx.hsm.library()?;
    let dir = host::vendor_dir(&module, &library);
    // The Oracle software owner is ORACLE_HOME's owner (often oracle:oinstall, sometimes
    // oracle:dba): the command reads it on the database host, nothing is assumed.
    let owner = match w.db.oracle_home.as_deref() {
        Some(home) => format!("\"$(stat -c %U:%G '{home}')\""),
        None => "\"$(stat -c %U:%G \"$ORACLE_HOME\")\"".to_owned(),
    };
    let commands = host::library_commands(&module, &dir, &owner);
    let targets = hosts::targets(&w.db, ctx.data);
    let local = targets
        .iter()
        .find(|t| !t.is_remote())
        .map(|t| local_library(w, ctx, &t.reach, &module, &dir, commands.clone()));
    let command = |t: &Target| library_todo(t, &commands);
    let check = |_: &Target, text: &str| parse_library(text).map(|l| library_checks(&module, &l));
    let remote = Remote {
        why: "tdekey does not run on the database host: run the command there and paste its output.",
        command: &command,
        check: &check,
    };
    Ok(each_host(
        w,
        ctx,
        StepId::OracleLibrary,
        &targets,
        local,
        Vec::new(),
        &remote,
    ))
}

/// Step 4 on the host tdekey reaches (this machine, or the Rehearsal's simulated host).
fn local_library(
    w: &Wizard,
    ctx: &Context<'_>,
    host: &Host,
    module: &std::path::Path,
    dir: &str,
    mut commands: Vec<String>,
) -> StepResult {
    let found = host::oracle_libraries(host);
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
        let ours = std::fs::read(module)
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
    let right = found.len() == 1 && same(&found).ok;
    if !right && simulated && ctx.inputs.apply_fix {
        let Host::Local { root, .. } = host else {
            return StepResult::failed("The Rehearsal's simulated host cannot be reached.");
        };
        let base = root.join(host::EXTAPI_HSM.trim_start_matches('/'));
        let target = base.join(dir);
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
            std::fs::copy(module, target.join(module.file_name().unwrap_or_default()))
        })();
        if let Err(e) = fix {
            return StepResult::failed(format!(
                "The library could not be put in place on the simulated host ({}): {e}.",
                target.display()
            ));
        }
        let found = host::oracle_libraries(host);
        return StepResult::from_checks(vec![one(&found), same(&found)]).note(format!(
            "Applied on the Rehearsal's simulated host: {}",
            commands.join("; ")
        ));
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
        return StepResult::from_checks(checks);
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
    r
}
