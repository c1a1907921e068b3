//! The migration wizard when tdekey does not run on the database host (a Manual database): the
//! host checks show a command, and the pasted output is read and checked — a library that is
//! not this HSM's, a backup with a missing copy, a paste cut short — before a step is done.
//! The DBA is a scripted operator answering the queries as a 19c database on a file wallet
//! would; the HSM is a real SoftHSM2 token.

mod common;

use common::Env;
use tdekey::audit::Auditor;
use tdekey::migration::{self, Context, Inputs, Need, StepId, StepStatus};
use tdekey::model::PinFormat;
use tdekey::oracle::{Operator, OracleError};
use tdekey::tde::request::{ParameterName, Request};
use tdekey::tde::sql::Statement;

const ROOT: &str = "/u01/app/oracle/admin/FIN/wallet";

/// Answers the wizard's queries as a non-CDB on a password file wallet, TDE_CONFIGURATION=FILE.
struct Dba;

impl Operator for Dba {
    fn ask(
        &mut self,
        request: &Request,
        statement: &Statement,
        _problem: Option<&str>,
    ) -> Result<String, OracleError> {
        Ok(match request {
            // Connected AS SYSDBA: the privileges step 1 reads (a few of the ~240).
            Request::QueryPrivileges => "\"KIND\",\"NAME\"\n\"PRIVILEGE\",\"ALTER SYSTEM\"\n\"PRIVILEGE\",\"ADMINISTER KEY MANAGEMENT\"\n\"PRIVILEGE\",\"SELECT ANY DICTIONARY\"\n\n3 rows selected.\n".to_owned(),
            Request::QueryWallet => format!(
                "\"WRL_TYPE\",\"WRL_PARAMETER\",\"STATUS\",\"WALLET_TYPE\",\"WALLET_ORDER\",\"KEYSTORE_MODE\",\"FULLY_BACKED_UP\",\"CON_ID\"\n\"FILE\",\"{ROOT}/tde/\",\"OPEN\",\"PASSWORD\",\"SINGLE\",\"NONE\",\"YES\",0\n"
            ),
            Request::QueryKeys => "\"KEY_ID\",\"TAG\",\"CREATION_TIME\",\"ACTIVATION_TIME\",\"KEYSTORE_TYPE\",\"ORIGIN\",\"BACKED_UP\",\"CON_ID\"\n\"AQhcvB4B6k8Fv8TqXs4m4nIAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"initial\",\"12-MAR-24 10.02.11.482113 AM +00:00\",\"12-MAR-24 10.02.11.482113 AM +00:00\",\"SOFTWARE KEYSTORE\",\"LOCAL\",\"YES\",0\n".to_owned(),
            Request::ShowParameter(ParameterName::WalletRoot) => format!(
                "\"NAME\",\"TYPE\",\"VALUE\"\n\"wallet_root\",\"string\",\"{ROOT}\"\n"
            ),
            Request::ShowParameter(ParameterName::TdeConfiguration) => "\"NAME\",\"TYPE\",\"VALUE\"\n\"tde_configuration\",\"string\",\"KEYSTORE_CONFIGURATION=FILE\"\n".to_owned(),
            _ => panic!("the wizard sent {} before the host checks were done", statement.display),
        })
    }
}

fn sha(bytes: &[u8]) -> String {
    tdekey::databases::sha256_hex(bytes)
}

#[test]
fn host_checks_read_the_pasted_output_of_a_remote_database_host() {
    let env = Env::new();
    let mut hsm = env.token("fin-token", "fin-pin-1234");
    let mut a = Auditor::open(&env.data).unwrap();
    tdekey::databases::save(&mut a, &common::manual_profile("FIN", ROOT)).unwrap();
    let mut dba = Dba;
    let mut ctx = Context {
        data: &env.data,
        hsm: &mut hsm,
        operator: Some(&mut dba),
        db_password: None,
        pin_format: PinFormat::Plain,
        inputs: Inputs::default(),
    };
    let mut next = |ctx: &mut Context<'_>, output: Option<String>| {
        ctx.inputs.host_output = output;
        migration::next(&mut a, ctx, "FIN").unwrap()
    };

    // Step 1, then 2 and 3 skipped (path A; not CloudHSM); step 4 asks for the listing.
    for _ in 0..3 {
        let p = next(&mut ctx, None);
        assert!(p.status.settled(), "{p:?}");
    }
    let p = next(&mut ctx, None);
    assert_eq!(p.step, StepId::OracleLibrary);
    assert_eq!(p.status, StepStatus::NeedsAttention);
    assert!(p.needs.contains(&Need::HostOutput));
    assert!(
        p.todo
            .iter()
            .any(|t| t.contains("sha256sum") && t.ends_with("echo END"))
    );

    // Cut short, then another vendor's library: refused, then a failed check.
    let p = next(&mut ctx, Some("FILE oracle:oinstall".into()));
    assert!(p.message.contains("cut short"), "{p:?}");
    let foreign = format!(
        "FILE oracle:oinstall {} /opt/oracle/extapi/64/hsm/othervendor/1.0/libother.so\nORACLE_HOME oracle:oinstall\nEND\n",
        sha(b"another library")
    );
    let p = next(&mut ctx, Some(foreign));
    assert_eq!(p.status, StepStatus::Failed, "{p:?}");
    assert!(
        p.checks
            .iter()
            .any(|c| c.what.contains("this HSM's library") && !c.ok)
    );

    // This HSM's library, owned like ORACLE_HOME: done.
    let module = std::fs::read(&env.module).unwrap();
    let right = format!(
        "$ for f in /opt/oracle/extapi/64/hsm/*/*/*; do …\nFILE oracle:oinstall {} /opt/oracle/extapi/64/hsm/softhsm/2.6/libsofthsm2.so\nORACLE_HOME oracle:oinstall\nEND\n",
        sha(&module)
    );
    let p = next(&mut ctx, Some(right));
    assert_eq!(p.status, StepStatus::Done, "{p:?}");

    // Step 5 reads the parameters; step 6 asks for the backup's sums.
    let p = next(&mut ctx, None);
    assert_eq!(
        (p.step, p.status),
        (StepId::WalletConfig, StepStatus::Done),
        "{p:?}"
    );
    let p = next(&mut ctx, None);
    assert_eq!(p.step, StepId::Backup);
    assert!(p.needs.contains(&Need::HostOutput), "{p:?}");
    let ewallet = sha(b"ewallet bytes");
    let sso = sha(b"sso bytes");
    let missing_copy = format!(
        "{ewallet}  {ROOT}/tde/ewallet.p12\n{sso}  {ROOT}/tde/cwallet.sso\n{ewallet}  /home/oracle/tde-backup-x/ewallet.p12\nEND\n"
    );
    let p = next(&mut ctx, Some(missing_copy));
    assert_eq!(p.status, StepStatus::Failed, "{p:?}");
    assert!(p.message.contains("cwallet.sso"), "{p:?}");
    let whole = format!(
        "{ewallet}  {ROOT}/tde/ewallet.p12\n{sso}  {ROOT}/tde/cwallet.sso\n{ewallet}  /home/oracle/tde-backup-x/ewallet.p12\n{sso}  /home/oracle/tde-backup-x/cwallet.sso\nEND\n"
    );
    let p = next(&mut ctx, Some(whole));
    assert_eq!(p.status, StepStatus::Done, "{p:?}");
    drop(ctx);
    let state = migration::status(&a, "FIN").unwrap().unwrap();
    let backup = state.backup.unwrap();
    assert_eq!(
        backup.file,
        "/home/oracle/tde-backup-x on the database host"
    );
    assert_eq!(
        backup.files,
        [
            (format!("{ROOT}/tde/ewallet.p12"), 0, ewallet),
            (format!("{ROOT}/tde/cwallet.sso"), 0, sso)
        ]
    );
    hsm.close().unwrap();
}

/// A database on another vendor's HSM that takes a password only (no user name), reached
/// through the Manual connector: the DBA's answers as its V$ views would be, restarts when the
/// test says so.
#[derive(Default)]
struct PathB {
    /// TDE_CONFIGURATION as set, and as in effect (from the last restart).
    set: String,
    effective: String,
    file_open: bool,
    hsm_open: bool,
    reversed: bool,
    /// The statements that carried the old HSM's password, as they ran.
    hsm_statements: Vec<String>,
}

const OLD_PW: &str = "old-partition-pw";
const WALLET_PW: &str = "Wallet-Pw-1";
const OLD_KEY: &str = "0615A5142C9E2D3C2F18FD435814257DFD";

impl PathB {
    fn restart(&mut self) {
        self.effective = self.set.clone();
        self.file_open = false;
        self.hsm_open = self.effective == "HSM";
    }
}

/// The DBA in front of the database: the test restarts it between steps.
struct PathBDba(std::rc::Rc<std::cell::RefCell<PathB>>);

impl Operator for PathBDba {
    fn ask(
        &mut self,
        request: &Request,
        statement: &Statement,
        _problem: Option<&str>,
    ) -> Result<String, OracleError> {
        let mut db = self.0.borrow_mut();
        let row = |kind: &str, open: bool, order: &str| {
            format!(
                "\"{kind}\",\"{}\",\"{}\",\"{}\",\"{order}\",\"NONE\",\"YES\",0\n",
                if kind == "FILE" {
                    format!("{ROOT}/tde/")
                } else {
                    String::new()
                },
                if open { "OPEN" } else { "CLOSED" },
                if kind == "FILE" { "PASSWORD" } else { "HSM" }
            )
        };
        let sql = statement.sql.expose().to_owned();
        Ok(match request {
            Request::QueryPrivileges => "\"KIND\",\"NAME\"\n\"PRIVILEGE\",\"ALTER SYSTEM\"\n\"PRIVILEGE\",\"ADMINISTER KEY MANAGEMENT\"\n\"PRIVILEGE\",\"SELECT ANY DICTIONARY\"\n\n3 rows selected.\n".to_owned(),
            Request::QueryWallet => {
                let mut out = "\"WRL_TYPE\",\"WRL_PARAMETER\",\"STATUS\",\"WALLET_TYPE\",\"WALLET_ORDER\",\"KEYSTORE_MODE\",\"FULLY_BACKED_UP\",\"CON_ID\"\n".to_owned();
                match db.effective.as_str() {
                    "HSM" => out.push_str(&row("HSM", db.hsm_open, "SINGLE")),
                    "FILE|HSM" => {
                        out.push_str(&row("FILE", db.file_open, "PRIMARY"));
                        out.push_str(&row("HSM", db.hsm_open, "SECONDARY"));
                    }
                    _ => out.push_str(&row("FILE", db.file_open, "SINGLE")),
                }
                out
            }
            Request::QueryKeys => {
                let mut out = "\"KEY_ID\",\"TAG\",\"CREATION_TIME\",\"ACTIVATION_TIME\",\"KEYSTORE_TYPE\",\"ORIGIN\",\"BACKED_UP\",\"CON_ID\"\n".to_owned();
                if db.hsm_open {
                    out.push_str(&format!("\"{OLD_KEY}\",\"\",\"12-MAR-24 10.02.11.482113 AM +00:00\",\"12-MAR-24 10.02.11.482113 AM +00:00\",\"HSM\",\"LOCAL\",\"NO\",0\n"));
                }
                if db.file_open && db.reversed {
                    out.push_str("\"AQicvB4B6k8Fv8TqXs4m4nIAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"\",\"01-JUN-24 09.00.00.000000 AM +00:00\",\"01-JUN-24 09.00.00.000000 AM +00:00\",\"SOFTWARE KEYSTORE\",\"LOCAL\",\"YES\",0\n");
                }
                out
            }
            Request::ShowParameter(ParameterName::WalletRoot) => format!(
                "\"NAME\",\"TYPE\",\"VALUE\"\n\"wallet_root\",\"string\",\"{ROOT}\"\n"
            ),
            Request::ShowParameter(ParameterName::TdeConfiguration) => format!(
                "\"NAME\",\"TYPE\",\"VALUE\"\n\"tde_configuration\",\"string\",\"KEYSTORE_CONFIGURATION={}\"\n",
                db.set
            ),
            Request::SetTdeConfiguration { value, .. } => {
                db.set = value.clone();
                "System altered.\n".to_owned()
            }
            Request::OpenKeystore { .. } if sql.contains(WALLET_PW) => {
                db.file_open = true;
                "keystore altered.\n".to_owned()
            }
            Request::OpenKeystore { .. } if sql.contains(OLD_PW) => {
                db.hsm_open = true;
                db.hsm_statements.push(sql);
                "keystore altered.\n".to_owned()
            }
            Request::ReverseMigrate { .. } => {
                db.reversed = true;
                db.hsm_statements.push(sql);
                "keystore altered.\n".to_owned()
            }
            _ => panic!("the wizard sent {} at step 1 or 2", statement.display),
        })
    }
}

#[test]
fn path_b_reverse_migrates_from_an_hsm_that_takes_a_password_only() {
    let env = Env::new();
    let mut hsm = env.token("fin-token", "fin-pin-1234");
    let mut a = Auditor::open(&env.data).unwrap();
    tdekey::databases::save(&mut a, &common::manual_profile("LEGACY", ROOT)).unwrap();
    let db = std::rc::Rc::new(std::cell::RefCell::new(PathB {
        set: "HSM".into(),
        effective: "HSM".into(),
        hsm_open: true,
        ..PathB::default()
    }));
    let mut dba = PathBDba(db.clone());
    let mut ctx = Context {
        data: &env.data,
        hsm: &mut hsm,
        operator: Some(&mut dba),
        db_password: None,
        pin_format: PinFormat::Plain,
        inputs: Inputs::default(),
    };
    let next = |a: &mut Auditor, ctx: &mut Context<'_>, confirmed: bool| {
        ctx.inputs.confirmed = confirmed;
        migration::next(a, ctx, "LEGACY").unwrap()
    };
    let p = next(&mut a, &mut ctx, false);
    assert_eq!(
        (p.step, p.status),
        (StepId::Choose, StepStatus::Done),
        "{p:?}"
    );
    // Step 2: FILE|HSM and a restart, then the old HSM's credential (a password only here),
    // the reverse migration, FILE and a restart.
    let p = next(&mut a, &mut ctx, false);
    assert_eq!(p.step, StepId::FromOtherHsm);
    assert!(p.message.contains("FILE|HSM"), "{p:?}");
    db.borrow_mut().restart();
    let p = next(&mut a, &mut ctx, true);
    assert!(p.needs.contains(&Need::OldHsmCredential), "{p:?}");
    ctx.inputs.old_hsm_password_only = true;
    ctx.inputs.old_hsm_password = Some(tdekey::secret::Secret::from(OLD_PW));
    ctx.inputs.wallet_password = Some(tdekey::secret::Secret::from(WALLET_PW));
    let p = next(&mut a, &mut ctx, false);
    assert_eq!(p.status, StepStatus::NeedsAttention, "FILE, restart: {p:?}");
    assert!(p.message.contains("so that FILE takes effect"), "{p:?}");
    db.borrow_mut().restart();
    let p = next(&mut a, &mut ctx, true);
    assert_eq!(p.status, StepStatus::Done, "{p:?}");
    // The old HSM was logged in to with its password alone, "<password>" without "user:".
    assert_eq!(
        db.borrow().hsm_statements,
        [
            format!("ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY \"{OLD_PW}\";"),
            format!(
                "ADMINISTER KEY MANAGEMENT SET ENCRYPTION KEY IDENTIFIED BY \"{WALLET_PW}\" REVERSE MIGRATE USING \"{OLD_PW}\" WITH BACKUP;"
            ),
        ]
    );
    drop(ctx);
    // The key that stays on the old HSM is named, for the end of the migration and its report.
    let state = migration::status(&a, "LEGACY").unwrap().unwrap();
    assert_eq!(state.old_hsm_keys, [format!("ORACLE.TDE.HSM.MK.{OLD_KEY}")]);
    let html = migration::report(&a, "LEGACY").unwrap().html();
    assert!(html.contains("keep the other HSM running") && html.contains(OLD_KEY));
    hsm.close().unwrap();
}
