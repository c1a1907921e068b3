//! RAC and Data Guard: a database profile lists its RAC nodes and its standbys (on the
//! command line and in the store), and the migration wizard checks every host.

mod common;

use common::{Env, run};

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
