//! The man pages and shell completions come from the clap definition (never kept by hand):
//! every visible subcommand has its page, and each shell's completion names the commands.

mod common;

use common::{Env, run};

#[test]
fn man_pages_and_completions_are_generated_for_every_command() {
    let env = Env::new();
    let out = env.dir.path().join("docs");
    let (code, text, err) = run({
        let mut c = env.tdekey();
        c.args(["generate-docs", "--out"]).arg(&out);
        c
    });
    assert_eq!(code, 0, "{text}{err}");
    for page in [
        "tdekey.1",
        "tdekey-rotate.1",
        "tdekey-policy-set.1",
        "tdekey-key-generate.1",
        "tdekey-migrate-run.1",
        "tdekey-hsm-profile-add.1",
        "tdekey-audit-verify.1",
    ] {
        let p = out.join("man").join(page);
        let t = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(t.starts_with(".ie") || t.contains(".TH"), "{page} is roff");
    }
    assert!(
        !out.join("man/tdekey-generate-docs.1").exists(),
        "the hidden command has no page"
    );
    let rotate = std::fs::read_to_string(out.join("man/tdekey-rotate.1")).unwrap();
    assert!(
        rotate.contains("CREDENTIALS_DIRECTORY"),
        "the flags' help is in the page"
    );
    for (file, needle) in [
        ("tdekey.bash", "rotate"),
        ("_tdekey", "rotate"),
        ("tdekey.fish", "policy"),
    ] {
        let t = std::fs::read_to_string(out.join("completions").join(file)).unwrap();
        assert!(t.contains(needle), "{file}");
        assert!(t.contains("migrate"), "{file}");
    }

    // The Markdown reference and the README's table of commands are the generated ones.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let generated = std::fs::read_to_string(out.join("cli.md")).unwrap();
    assert!(generated.contains("## tdekey rotate\n") && generated.contains("--credentials <DIR>"));
    let kept = std::fs::read_to_string(root.join("docs/cli.md")).unwrap();
    assert!(
        kept == generated,
        "docs/cli.md is out of date with the command line: run `make docs`"
    );
    let table = std::fs::read_to_string(out.join("commands.md")).unwrap();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let (_, rest) = readme
        .split_once("<!-- commands:begin -->\n")
        .expect("the README marks its table of commands");
    let (in_readme, _) = rest.split_once("<!-- commands:end -->").unwrap();
    assert!(table.contains("[`tdekey migrate`]"));
    assert!(
        in_readme == table,
        "the README's table of commands is out of date: run `make docs`"
    );
}
