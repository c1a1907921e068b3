//! Step 5 for a database whose keystore was found through sqlnet.ora's
//! ENCRYPTION_WALLET_LOCATION (#18, point 8): WALLET_ROOT is set and the keystore files are
//! copied into `<WALLET_ROOT>/tde`, checked for the same bytes, modes and owners, before
//! TDE_CONFIGURATION=FILE takes effect. The DBA is a scripted operator answering as a 19c
//! non-CDB on the Manual connector moves through those states; the HSM is a real SoftHSM2 token.

mod common;

use common::Env;
use std::cell::Cell;
use std::rc::Rc;
use tdekey::audit::Auditor;
use tdekey::migration::{self, Context, Inputs, Need, StepId, StepStatus};
use tdekey::model::PinFormat;
use tdekey::oracle::{Operator, OracleError};
use tdekey::tde::request::{ParameterName, Request};
use tdekey::tde::sql::Statement;

const OLD: &str = "/u01/app/oracle/admin/FIN/wallet_sqlnet";
const ROOT: &str = "/u01/app/oracle/admin/FIN/wallet";

/// 0: sqlnet.ora only; 1: WALLET_ROOT set (restarted), TDE_CONFIGURATION not yet; 2: both.
struct Dba(Rc<Cell<u8>>);

impl Operator for Dba {
    fn ask(
        &mut self,
        request: &Request,
        statement: &Statement,
        _problem: Option<&str>,
    ) -> Result<String, OracleError> {
        let phase = self.0.get();
        let param = |name: &str, value: &str| {
            format!("\"NAME\",\"TYPE\",\"VALUE\"\n\"{name}\",\"string\",\"{value}\"\n")
        };
        let dir = if phase == 2 {
            format!("{ROOT}/tde/")
        } else {
            format!("{OLD}/")
        };
        Ok(match request {
            Request::QueryPrivileges => "\"KIND\",\"NAME\"\n\"PRIVILEGE\",\"ALTER SYSTEM\"\n\"PRIVILEGE\",\"ADMINISTER KEY MANAGEMENT\"\n\"PRIVILEGE\",\"SELECT ANY DICTIONARY\"\n".to_owned(),
            Request::QueryWallet => format!(
                "\"WRL_TYPE\",\"WRL_PARAMETER\",\"STATUS\",\"WALLET_TYPE\",\"WALLET_ORDER\",\"KEYSTORE_MODE\",\"FULLY_BACKED_UP\",\"CON_ID\"\n\"FILE\",\"{dir}\",\"OPEN\",\"PASSWORD\",\"SINGLE\",\"NONE\",\"YES\",0\n"
            ),
            Request::QueryKeys => "\"KEY_ID\",\"TAG\",\"CREATION_TIME\",\"ACTIVATION_TIME\",\"KEYSTORE_TYPE\",\"ORIGIN\",\"BACKED_UP\",\"CON_ID\"\n\"AQhcvB4B6k8Fv8TqXs4m4nIAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"initial\",\"12-MAR-24 10.02.11.482113 AM +00:00\",\"12-MAR-24 10.02.11.482113 AM +00:00\",\"SOFTWARE KEYSTORE\",\"LOCAL\",\"YES\",0\n".to_owned(),
            Request::ShowParameter(ParameterName::WalletRoot) => {
                param("wallet_root", if phase == 0 { "" } else { ROOT })
            }
            Request::ShowParameter(ParameterName::TdeConfiguration) => param(
                "tde_configuration",
                if phase == 2 { "KEYSTORE_CONFIGURATION=FILE" } else { "" },
            ),
            _ => panic!("the wizard sent {} at step 5", statement.display),
        })
    }
}

fn sha(bytes: &[u8]) -> String {
    tdekey::databases::sha256_hex(bytes)
}

#[test]
fn a_sqlnet_keystore_is_copied_under_wallet_root_and_checked_before_tde_configuration() {
    let env = Env::new();
    let mut hsm = env.token("fin-token", "fin-pin-1234");
    let mut a = Auditor::open(&env.data).unwrap();
    tdekey::databases::save(&mut a, &common::manual_profile("FIN", ROOT)).unwrap();
    let phase = Rc::new(Cell::new(0));
    let mut dba = Dba(phase.clone());
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
    for _ in 0..3 {
        let p = next(&mut ctx, None);
        assert!(p.status.settled(), "{p:?}");
    }
    let module = std::fs::read(&env.module).unwrap();
    let p = next(
        &mut ctx,
        Some(format!(
            "FILE oracle:oinstall {} /opt/oracle/extapi/64/hsm/softhsm/2.6/libsofthsm2.so\nORACLE_HOME oracle:oinstall\nEND\n",
            sha(&module)
        )),
    );
    assert_eq!(
        (p.step, p.status),
        (StepId::OracleLibrary, StepStatus::Done),
        "{p:?}"
    );

    // WALLET_ROOT not set: set it, copy, restart; TDE_CONFIGURATION is not offered yet.
    let p = next(&mut ctx, None);
    assert_eq!(
        (p.step, p.status),
        (StepId::WalletConfig, StepStatus::NeedsAttention),
        "{p:?}"
    );
    let todo = p.todo.join("\n");
    assert!(
        todo.contains(&format!(
            "ALTER SYSTEM SET WALLET_ROOT='{ROOT}' SCOPE=SPFILE;"
        )),
        "{todo}"
    );
    assert!(
        todo.contains(&format!("cp -p \"$f\" '{ROOT}/tde'/")),
        "{todo}"
    );
    assert!(
        !p.todo.iter().any(|t| t.contains("SET TDE_CONFIGURATION")),
        "{todo}"
    );

    // After the restart: the listing of both directories is asked for and checked.
    phase.set(1);
    let p = next(&mut ctx, None);
    assert!(p.needs.contains(&Need::HostOutput), "{p:?}");
    assert!(
        p.todo
            .iter()
            .any(|t| t.contains("sha256sum") && t.ends_with("echo END")),
        "{p:?}"
    );
    let (e, s) = (sha(b"ewallet"), sha(b"sso"));
    let stale = format!(
        "FROM {e} 600 oracle:oinstall ewallet.p12\nFROM {s} 600 oracle:oinstall cwallet.sso\nTO {e} 600 oracle:oinstall ewallet.p12\nEND\n"
    );
    let p = next(&mut ctx, Some(stale));
    assert_eq!(p.status, StepStatus::NeedsAttention, "{p:?}");
    assert!(
        p.message
            .contains("cwallet.sso is not in WALLET_ROOT/tde yet"),
        "{p:?}"
    );
    assert!(p.message.contains("NOT_AVAILABLE"), "{p:?}");
    let root_owned = format!(
        "FROM {e} 600 oracle:oinstall ewallet.p12\nFROM {s} 600 oracle:oinstall cwallet.sso\nTO {e} 600 root:root ewallet.p12\nTO {s} 600 oracle:oinstall cwallet.sso\nEND\n"
    );
    let p = next(&mut ctx, Some(root_owned));
    assert!(p.message.contains("owned by root:root"), "{p:?}");
    let copied = format!(
        "FROM {e} 600 oracle:oinstall ewallet.p12\nFROM {s} 600 oracle:oinstall cwallet.sso\nTO {e} 600 oracle:oinstall ewallet.p12\nTO {s} 600 oracle:oinstall cwallet.sso\nEND\n"
    );
    let p = next(&mut ctx, Some(copied));
    assert_eq!(p.status, StepStatus::NeedsAttention, "{p:?}");
    assert!(
        p.todo.iter().any(|t| t
            == "ALTER SYSTEM SET TDE_CONFIGURATION=\"KEYSTORE_CONFIGURATION=FILE\" SCOPE=BOTH;"),
        "{p:?}"
    );
    assert!(p.checks.iter().all(|c| c.ok), "{p:?}");

    // TDE_CONFIGURATION=FILE, the keystore under WALLET_ROOT/tde: the step goes on as usual.
    phase.set(2);
    let p = next(&mut ctx, None);
    assert_eq!(
        (p.step, p.status),
        (StepId::WalletConfig, StepStatus::Done),
        "{p:?}"
    );
    drop(ctx);
    hsm.close().unwrap();
}
