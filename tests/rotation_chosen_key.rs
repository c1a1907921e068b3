//! "Rotate now" with a key generated beforehand (Keys › Generate): the run activates that key
//! instead of generating one, after checking it is a healthy master key on the token that no
//! database claims; a claimed, missing or unhealthy key is refused before anything is sent.
//! Real SoftHSM2 token, Rehearsal databases, the rotation workflow.

mod common;

use common::demo;
use tdekey::audit::Auditor;
use tdekey::hsm::Hsm;
use tdekey::hsm::demo::{DEMO_TOKEN_LABEL, DEMO_USER, DEMO_USER_PIN};
use tdekey::inventory::Severity;
use tdekey::model::{PinFormat, TokenSelector};
use tdekey::rotation::{self, KeyRequest, RotateRequest, Way};
use tdekey::secret::Secret;

fn master_keys(hsm: &Hsm) -> usize {
    hsm.inventory(&mut |_, _| {})
        .unwrap()
        .iter()
        .filter(|o| o.label.starts_with("ORACLE.TDE.HSM.MK."))
        .count()
}

#[test]
fn a_key_generated_beforehand_is_activated_once_and_only_if_healthy_and_unclaimed() {
    let env = demo();
    common::rehearsal_on_hsm(&env, &["HR", "FIN"]);
    let mut a = Auditor::open(&env.data).unwrap();
    let mut hsm = Hsm::load(&env.module).unwrap();
    hsm.open(&TokenSelector::Label(DEMO_TOKEN_LABEL.into()))
        .unwrap();
    hsm.login(DEMO_USER, &Secret::from(DEMO_USER_PIN), PinFormat::Plain)
        .unwrap();
    let made = rotation::generate_key(
        &mut a,
        &hsm,
        &KeyRequest {
            tag: Some("q4-2026".into()),
            oracle_user: None,
            database: None,
        },
    )
    .unwrap();
    assert_eq!(made.tag.as_deref(), Some("q4-2026"));
    let critical = tdekey::session::inventory(&mut a, &hsm, &mut |_, _| {})
        .unwrap()
        .into_iter()
        .find(|r| r.kind == "tde-master-key" && r.worst() == Some(Severity::Critical))
        .expect("the demo token has an unhealthy master key")
        .object
        .label;
    let before = master_keys(&hsm);
    let mut ctx = rotation::Context {
        data: &env.data,
        hsm: &mut hsm,
        operator: None,
        db_password: None,
        pin_format: PinFormat::Plain,
        hsm_password: Secret::from(DEMO_USER_PIN),
    };
    let with = |key: &str| RotateRequest {
        key: Some(key.to_owned()),
        ..RotateRequest::manual(Some(Way::Hsm), Some("q4-2026".into()))
    };

    // The oracle way makes its own key: a chosen key is refused before any run.
    let e = rotation::rotate(
        &mut a,
        &mut ctx,
        "HR",
        &RotateRequest {
            way: Some(Way::Oracle),
            ..with(&made.label)
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("the hsm way"), "{e}");

    let ok = rotation::rotate(&mut a, &mut ctx, "HR", &with(&made.label)).unwrap();
    assert!(ok.succeeded(), "{}", ok.message);
    assert_eq!(ok.new_keys, std::slice::from_ref(&made.label));
    assert!(
        ok.checks
            .iter()
            .any(|c| c.ok && c.what.contains("chosen for this rotation")),
        "{:?}",
        ok.checks
    );
    assert_eq!(master_keys(ctx.hsm), before, "no key was generated");
    let claims = rotation::key_claims(&a).unwrap();
    assert_eq!(claims[&made.label].database, "HR");
    assert!(claims[&made.label].current);

    // The same key for another database, a key not on the token, an unhealthy key: refused
    // at the generate step, the database unchanged, nothing generated.
    let absent = format!("ORACLE.TDE.HSM.MK.06{}", "AB".repeat(16));
    for (key, why) in [
        (made.label.as_str(), "recorded as a master key of HR"),
        (absent.as_str(), "is not on the token"),
        (critical.as_str(), "breaks the master-key rules"),
        ("not-a-master-key", "is not a TDE master key label"),
    ] {
        let r = rotation::rotate(&mut a, &mut ctx, "FIN", &with(key)).unwrap();
        assert!(!r.succeeded(), "{key}");
        assert_eq!(r.failed_step.as_deref(), Some("generate"), "{key}");
        assert!(r.message.contains(why), "{key}: {}", r.message);
        assert!(
            r.state_left
                .as_deref()
                .is_some_and(|s| s.contains("was not changed")),
            "{key}: {:?}",
            r.state_left
        );
        assert_eq!(master_keys(ctx.hsm), before, "{key}: nothing generated");
    }
    drop(ctx);
    hsm.close().unwrap();
    common::audit_intact(&env);
}
