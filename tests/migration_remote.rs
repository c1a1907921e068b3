//! The migration wizard when tdekey does not run on the database host (a Manual database): the
//! host checks show a command, and the pasted output is read and checked — a library that is
//! not this HSM's, a backup with a missing copy, a paste cut short — before a step is done.
//! The DBA is a scripted operator answering the queries as a 19c database on a file wallet
//! would; the HSM is a real SoftHSM2 token.

mod common;

use common::Env;
use tdekey::audit::Auditor;
use tdekey::migration::{self, Context, Inputs, Need, StepId, StepStatus};
use tdekey::model::{ConnectorKind, DatabaseProfile, DbAuth, Multitenant, PinFormat};
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
    tdekey::databases::save(
        &mut a,
        &DatabaseProfile {
            id: None,
            name: "FIN".into(),
            connector: ConnectorKind::Manual,
            oracle_home: None,
            oracle_sid: None,
            connect_string: None,
            auth: DbAuth::Os,
            connect_as: tdekey::model::ConnectAs::Sysdba,
            wallet_root: Some(ROOT.into()),
            multitenant: Multitenant::NonCdb,
            rac: false,
            rac_nodes: Vec::new(),
            standbys: Vec::new(),
            hsm_profile: None,
        },
    )
    .unwrap();
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
