//! RAC and Data Guard: a database profile lists its RAC nodes and its standbys (on the
//! command line and in the store), and the migration wizard checks every host.

mod common;

use common::{Env, run};
use tdekey::audit::Auditor;
use tdekey::migration::{self, Context, Inputs, Need, StepId, StepStatus};
use tdekey::model::{DatabaseProfile, PinFormat, Standby};
use tdekey::oracle::{Operator, OracleError};
use tdekey::tde::request::{ParameterName, Request};
use tdekey::tde::sql::Statement;

#[test]
fn a_profile_keeps_its_rac_nodes_and_standbys_on_the_command_line() {
    let env = Env::new();
    let t = |args: &[&str]| {
        let mut c = env.tdekey();
        c.args(args);
        run(c)
    };
    let (code, out, err) = t(&[
        "db",
        "add",
        "FIN",
        "--connector",
        "manual",
        "--rac-node",
        "finrac1",
        "--rac-node",
        "finrac2.example.com",
        "--standby",
        "FINSBY@finsby1",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = t(&["db", "show", "FIN", "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["rac"], true, "nodes listed: RAC");
    assert_eq!(
        v["rac_nodes"],
        serde_json::json!(["finrac1", "finrac2.example.com"])
    );
    assert_eq!(
        v["standbys"],
        serde_json::json!([{ "name": "FINSBY", "host": "finsby1" }])
    );
    let (_, out, _) = t(&["db", "show", "FIN"]);
    assert!(
        out.contains("RAC           yes, nodes finrac1, finrac2.example.com"),
        "{out}"
    );
    assert!(out.contains("standbys      FINSBY@finsby1"), "{out}");

    // Saved again without them: gone. A standby without its host, or a node that is not a
    // host name, is refused with what to write.
    let (code, _, err) = t(&["db", "add", "FIN", "--connector", "manual"]);
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = t(&["db", "show", "FIN", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["rac_nodes"], serde_json::json!([]));
    assert_eq!(v["standbys"], serde_json::json!([]));
    let (code, _, err) = t(&[
        "db",
        "add",
        "FIN",
        "--connector",
        "manual",
        "--standby",
        "FINSBY",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("is not NAME@HOST"), "{err}");
    let (code, _, err) = t(&[
        "db",
        "add",
        "FIN",
        "--connector",
        "manual",
        "--rac-node",
        "fin rac",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("is not a host name"), "{err}");
}

const ROOT: &str = "/u01/app/oracle/admin/FIN/wallet";

/// Answers the wizard's queries and statements as a RAC non-CDB on a password file wallet
/// would: TDE_CONFIGURATION FILE until the wizard sets HSM|FILE, which shows in
/// V$ENCRYPTION_WALLET after the (confirmed) restart.
#[derive(Default)]
struct Dba {
    hsm_file: bool,
    /// Queries of V$ENCRYPTION_WALLET since HSM|FILE was set: the first is before the restart.
    reads_since: u32,
}

impl Operator for Dba {
    fn ask(
        &mut self,
        request: &Request,
        statement: &Statement,
        _problem: Option<&str>,
    ) -> Result<String, OracleError> {
        let wallet_row = format!(
            "\"FILE\",\"{ROOT}/tde/\",\"OPEN\",\"PASSWORD\",\"SINGLE\",\"NONE\",\"YES\",0\n"
        );
        Ok(match request {
            Request::QueryPrivileges => "\"KIND\",\"NAME\"\n\"PRIVILEGE\",\"ALTER SYSTEM\"\n\"PRIVILEGE\",\"ADMINISTER KEY MANAGEMENT\"\n\"PRIVILEGE\",\"SELECT ANY DICTIONARY\"\n\n3 rows selected.\n".to_owned(),
            Request::QueryWallet => {
                let head = "\"WRL_TYPE\",\"WRL_PARAMETER\",\"STATUS\",\"WALLET_TYPE\",\"WALLET_ORDER\",\"KEYSTORE_MODE\",\"FULLY_BACKED_UP\",\"CON_ID\"\n";
                if self.hsm_file {
                    self.reads_since += 1;
                }
                if self.hsm_file && self.reads_since > 1 {
                    format!(
                        "{head}\"HSM\",\"\",\"CLOSED\",\"HSM\",\"PRIMARY\",\"NONE\",\"UNDEFINED\",0\n{}",
                        wallet_row.replace("SINGLE", "SECONDARY")
                    )
                } else {
                    format!("{head}{wallet_row}")
                }
            }
            Request::QueryKeys => "\"KEY_ID\",\"TAG\",\"CREATION_TIME\",\"ACTIVATION_TIME\",\"KEYSTORE_TYPE\",\"ORIGIN\",\"BACKED_UP\",\"CON_ID\"\n\"AQhcvB4B6k8Fv8TqXs4m4nIAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"initial\",\"12-MAR-24 10.02.11.482113 AM +00:00\",\"12-MAR-24 10.02.11.482113 AM +00:00\",\"SOFTWARE KEYSTORE\",\"LOCAL\",\"YES\",0\n".to_owned(),
            Request::ShowParameter(ParameterName::WalletRoot) => format!(
                "\"NAME\",\"TYPE\",\"VALUE\"\n\"wallet_root\",\"string\",\"{ROOT}\"\n"
            ),
            Request::ShowParameter(ParameterName::TdeConfiguration) => format!(
                "\"NAME\",\"TYPE\",\"VALUE\"\n\"tde_configuration\",\"string\",\"KEYSTORE_CONFIGURATION={}\"\n",
                if self.hsm_file { "HSM|FILE" } else { "FILE" }
            ),
            Request::SetTdeConfiguration { value, all_instances } => {
                assert_eq!((value.as_str(), *all_instances), ("HSM|FILE", true), "SID='*' on RAC");
                self.hsm_file = true;
                "System altered.\n".to_owned()
            }
            _ => panic!("the wizard sent {} before step 9", statement.display),
        })
    }
}

fn sha(bytes: &[u8]) -> String {
    tdekey::databases::sha256_hex(bytes)
}

/// What step 4's command prints on `host`: one library with `sha`.
fn library_output(host: &str, sha: &str, vendor: &str) -> String {
    format!(
        "HOST {host}\nFILE oracle:oinstall {sha} /opt/oracle/extapi/64/hsm/{vendor}/2.6/libsofthsm2.so\nORACLE_HOME oracle:oinstall\nEND\n"
    )
}

/// What step 5's command prints on `host`, with `cwallet.sso` of `kind` (`36` auto-login,
/// `38` local auto-login).
fn wallet_output(host: &str, kind: &str) -> String {
    format!(
        "HOST {host}\nWALLET 600 30820a01 {ROOT}/tde/ewallet.p12\nWALLET 600 a1f84e{kind} {ROOT}/tde/cwallet.sso\nEND\n"
    )
}

#[test]
fn a_rac_database_with_a_standby_is_checked_on_every_host() {
    let env = Env::new();
    let mut hsm = env.token("fin-token", "fin-pin-1234");
    let mut a = Auditor::open(&env.data).unwrap();
    tdekey::databases::save(
        &mut a,
        &DatabaseProfile {
            rac: true,
            rac_nodes: vec!["finrac1".into(), "finrac2".into()],
            standbys: vec![Standby::parse("FINSBY@finsby1.example.com")],
            ..common::manual_profile("FIN", ROOT)
        },
    )
    .unwrap();
    let mut dba = Dba::default();
    let mut ctx = Context {
        data: &env.data,
        hsm: &mut hsm,
        operator: Some(&mut dba),
        db_password: None,
        pin_format: PinFormat::Plain,
        inputs: Inputs::default(),
    };
    let next = |a: &mut Auditor, ctx: &mut Context<'_>, output: Option<String>, confirmed: bool| {
        ctx.inputs.host_output = output;
        ctx.inputs.confirmed = confirmed;
        migration::next(a, ctx, "FIN").unwrap()
    };
    // Step 1, then 2 and 3 skipped (path A; SoftHSM is not CloudHSM).
    for _ in 0..3 {
        let p = next(&mut a, &mut ctx, None, false);
        assert!(p.status.settled(), "{p:?}");
    }

    // Step 4 shows the command once per host and waits for each host's output.
    let p = next(&mut a, &mut ctx, None, false);
    assert_eq!(
        (p.step, p.status),
        (StepId::OracleLibrary, StepStatus::NeedsAttention)
    );
    assert!(p.needs.contains(&Need::HostOutput));
    for host in [
        "On RAC node finrac1:",
        "On RAC node finrac2:",
        "On standby FINSBY on finsby1.example.com:",
    ] {
        assert!(p.todo.iter().any(|t| t == host), "{host}: {:#?}", p.todo);
    }
    assert_eq!(
        p.todo
            .iter()
            .filter(|t| t.starts_with("echo \"HOST $(hostname)\"; for f in /opt/oracle/extapi"))
            .count(),
        3
    );
    let not_yet = p.checks.iter().filter(|c| !c.ok).count();
    assert_eq!(not_yet, 3, "{:#?}", p.checks);

    let module = std::fs::read(&env.module).unwrap();
    let ours = sha(&module);
    // finrac1 is right: the step still waits for the two others, and names them.
    let p = next(
        &mut a,
        &mut ctx,
        Some(library_output("finrac1", &ours, "softhsm")),
        false,
    );
    assert_eq!(p.status, StepStatus::NeedsAttention, "{p:?}");
    assert!(
        p.message.contains("finrac2, finsby1.example.com"),
        "{}",
        p.message
    );
    assert!(!p.todo.iter().any(|t| t == "On RAC node finrac1:"));

    // finrac2 has another vendor's library: a failed check naming the host.
    let other = library_output("finrac2", &sha(b"another library"), "othervendor");
    let p = next(&mut a, &mut ctx, Some(other), false);
    assert_eq!(p.status, StepStatus::Failed, "{p:?}");
    assert!(
        p.message
            .starts_with("RAC node finrac2: It is this HSM's library"),
        "{}",
        p.message
    );
    assert!(p.needs.contains(&Need::HostOutput));

    // An output from a host that is none of FIN's, and one cut short: refused, named.
    let p = next(
        &mut a,
        &mut ctx,
        Some(library_output("db9", &ours, "softhsm")),
        false,
    );
    assert!(
        p.message
            .contains("printed on db9, which is none of FIN's hosts"),
        "{}",
        p.message
    );
    let cut = "HOST finrac2\nFILE oracle:oinstall".to_owned();
    let p = next(&mut a, &mut ctx, Some(cut), false);
    assert!(
        p.message
            .starts_with("RAC node finrac2: The paste does not end with the line END"),
        "{}",
        p.message
    );

    // finrac2 fixed and the standby's output, pasted together (the standby prints its full
    // name, finrac2 its short one): done.
    let both = format!(
        "{}{}",
        library_output("finrac2.example.com", &ours, "softhsm"),
        library_output("finsby1", &ours, "softhsm")
    );
    let p = next(&mut a, &mut ctx, Some(both), false);
    assert_eq!(p.status, StepStatus::Done, "{p:?}");
    let state = migration::status(&a, "FIN").unwrap().unwrap();
    let hosts = &state.step(StepId::OracleLibrary).unwrap().hosts;
    let seen: Vec<(&str, &str, bool, Option<&str>)> = hosts
        .iter()
        .map(|h| {
            (
                h.host.as_str(),
                h.role.as_str(),
                h.passed,
                h.printed_on.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("finrac1", "RAC node", true, Some("finrac1")),
            ("finrac2", "RAC node", true, Some("finrac2.example.com")),
            (
                "finsby1.example.com",
                "standby FINSBY",
                true,
                Some("finsby1")
            ),
        ]
    );

    // Step 5 reads the parameters on the primary and each host's keystore files: a local
    // auto-login wallet on a RAC node fails, naming it.
    let p = next(&mut a, &mut ctx, None, false);
    assert_eq!(
        (p.step, p.status),
        (StepId::WalletConfig, StepStatus::NeedsAttention),
        "{p:?}"
    );
    assert_eq!(
        p.todo
            .iter()
            .filter(|t| t.contains("od -An -tx1 -N4"))
            .count(),
        3
    );
    let p = next(
        &mut a,
        &mut ctx,
        Some(format!(
            "{}{}{}",
            wallet_output("finrac1", "36"),
            wallet_output("finrac2", "38"),
            wallet_output("finsby1", "36")
        )),
        false,
    );
    assert_eq!(p.status, StepStatus::Failed, "{p:?}");
    assert!(
        p.message
            .starts_with("RAC node finrac2: No local auto-login wallet"),
        "{}",
        p.message
    );
    let p = next(
        &mut a,
        &mut ctx,
        Some(wallet_output("finrac2", "36")),
        false,
    );
    assert_eq!(p.status, StepStatus::Done, "{p:?}");

    // Step 6 on the primary (the wallet is shared by the nodes), step 7 with SID='*'.
    let p = next(&mut a, &mut ctx, None, false);
    assert_eq!(p.step, StepId::Backup);
    let ewallet = sha(b"ewallet bytes");
    let sums = format!(
        "{ewallet}  {ROOT}/tde/ewallet.p12\n{ewallet}  /home/oracle/tde-backup-x/ewallet.p12\nEND\n"
    );
    let p = next(&mut a, &mut ctx, Some(sums), false);
    assert_eq!(p.status, StepStatus::Done, "{p:?}");
    let p = next(&mut a, &mut ctx, None, false);
    assert_eq!(
        (p.step, p.status),
        (StepId::HsmFile, StepStatus::NeedsAttention),
        "{p:?}"
    );
    assert!(p.todo.iter().any(|t| t.starts_with("srvctl stop database")));
    let p = next(&mut a, &mut ctx, None, true);
    assert_eq!(p.status, StepStatus::Done, "{p:?}");

    // Step 8, before the migration: each standby's to-do, and a person's "done".
    let p = next(&mut a, &mut ctx, None, false);
    assert_eq!(
        (p.step, p.status),
        (StepId::FileOpen, StepStatus::NeedsAttention),
        "{p:?}"
    );
    assert!(p.needs.contains(&Need::Confirmation));
    let todo = p.todo.join("\n");
    for want in [
        "Standby FINSBY on finsby1.example.com, before step 9",
        "the library passed step 4 there",
        "the HSM client was not checked (step 3 skipped",
        "ALTER SYSTEM SET TDE_CONFIGURATION=\"KEYSTORE_CONFIGURATION=HSM|FILE\" SCOPE=BOTH SID='*';",
        "ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY \"<hidden>\"",
        "HSM auto-login",
    ] {
        assert!(todo.contains(want), "{want}: {todo}");
    }
    let p = next(&mut a, &mut ctx, None, true);
    assert_eq!(p.status, StepStatus::Done, "{p:?}");
    assert!(
        p.checks.iter().any(|c| c.ok
            && c.what == "Standby FINSBY on finsby1.example.com: ready for the new master key")
    );
    // Step 9 asks for the passwords: nothing was sent to the database before it but queries
    // and HSM|FILE.
    let p = next(&mut a, &mut ctx, None, false);
    assert_eq!(p.step, StepId::Migrate);
    assert!(p.needs.contains(&Need::HsmPassword), "{p:?}");
    drop(ctx);

    // The report lists every host's checks and the standby's to-do.
    let report = migration::report(&a, "FIN").unwrap();
    let html = report.html();
    for want in [
        "finrac2.example.com",
        "standby FINSBY",
        "Standby FINSBY on finsby1.example.com, before step 9",
    ] {
        assert!(html.contains(want), "{want}");
    }
    hsm.close().unwrap();
}

/// What step 3's command prints on `host`: configure-pkcs11 there, the CA certificate the
/// configuration names and whether it exists.
fn client_output(host: &str, ca: &str, have: bool) -> String {
    format!(
        "HOST {host}\nHAVE /opt/cloudhsm/bin/configure-pkcs11\n{} {ca}\nCONFIG\n{{\"clusters\":[{{\"type\":\"hsm1\",\"cluster\":{{\"hsm_ca_file\":\"{ca}\",\"servers\":[{{\"hostname\":\"10.0.1.12\",\"port\":2223,\"enable\":true}}]}}}}]}}\n\nEND\n",
        if have { "CA_HAVE" } else { "CA_MISSING" }
    )
}

#[test]
fn step_3_checks_the_ca_certificate_each_node_is_configured_with() {
    let env = Env::new();
    env.token("fin-token", "fin-pin-1234").close().unwrap();
    // The token through a module named as CloudHSM's (SoftHSM2's bytes), so step 3 runs.
    let module = env.dir.path().join("libcloudhsm_pkcs11.so");
    std::fs::copy(&env.module, &module).unwrap();
    let mut hsm = tdekey::hsm::Hsm::load(&module).unwrap();
    hsm.open(&tdekey::model::TokenSelector::Label("fin-token".into()))
        .unwrap();
    hsm.login(
        "cu_oracle",
        &tdekey::secret::Secret::from("fin-pin-1234"),
        PinFormat::Plain,
    )
    .unwrap();
    let mut a = Auditor::open(&env.data).unwrap();
    tdekey::databases::save(
        &mut a,
        &DatabaseProfile {
            rac: true,
            rac_nodes: vec!["finrac1".into(), "finrac2".into()],
            ..common::manual_profile("FIN", ROOT)
        },
    )
    .unwrap();
    let mut dba = Dba::default();
    let mut ctx = Context {
        data: &env.data,
        hsm: &mut hsm,
        operator: Some(&mut dba),
        db_password: None,
        pin_format: PinFormat::Plain,
        inputs: Inputs::default(),
    };
    let next = |a: &mut Auditor, ctx: &mut Context<'_>, output: Option<String>| {
        ctx.inputs.host_output = output;
        migration::next(a, ctx, "FIN").unwrap()
    };
    for _ in 0..2 {
        assert!(next(&mut a, &mut ctx, None).status.settled());
    }
    let p = next(&mut a, &mut ctx, None);
    assert_eq!(
        (p.step, p.status),
        (StepId::HsmClient, StepStatus::NeedsAttention),
        "{p:?}"
    );
    let todo = p.todo.join("\n");
    assert_eq!(todo.matches("CA_HAVE $ca").count(), 2, "{todo}");
    // The crypto user's creation as it runs: the admin's login in the environment.
    assert!(
        todo.contains("CLOUDHSM_ROLE=admin CLOUDHSM_PIN=\"$cu_user:$cu_pw\" /opt/cloudhsm/bin/cloudhsm-cli user create --username cu_oracle --role crypto-user"),
        "{todo}"
    );
    // finrac1 keeps its CA certificate elsewhere than the default, and has it: that passes;
    // finrac2's configured one is missing (a customerCA.crt in the default place would not do).
    let p = next(
        &mut a,
        &mut ctx,
        Some(format!(
            "{}{}",
            client_output("finrac1", "/etc/pki/cloudhsm/cluster-CA.crt", true),
            client_output("finrac2", "/etc/pki/cloudhsm/cluster-CA.crt", false)
        )),
    );
    assert_eq!(p.status, StepStatus::Failed, "{p:?}");
    assert!(
        p.message.starts_with("RAC node finrac2: The cluster's CA certificate is where the client configuration names it: /etc/pki/cloudhsm/cluster-CA.crt is missing"),
        "{}",
        p.message
    );
    let p = next(
        &mut a,
        &mut ctx,
        Some(client_output(
            "finrac2",
            "/etc/pki/cloudhsm/cluster-CA.crt",
            true,
        )),
    );
    assert_eq!(p.status, StepStatus::Done, "{p:?}");
    assert!(
        p.checks
            .iter()
            .any(|c| c.what == "The crypto user logs in" && c.ok)
    );
    drop(ctx);
    hsm.close().unwrap();
}
