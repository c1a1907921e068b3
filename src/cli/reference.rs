//! The command-line reference in Markdown (`docs/cli.md`), generated from the same clap
//! definition as the man pages, so the reference, the man pages and `--help` cannot disagree.

use clap::Command;

/// Every visible command's full help, depth first, each under its own heading.
pub fn markdown(root: &Command) -> String {
    let mut out = String::from(
        "# tdekey command-line reference\n\n\
         Generated from the command line's definition by `tdekey generate-docs` (the same text \
         as `tdekey … --help` and the man pages `man tdekey`, `man tdekey-rotate`, …). Do not \
         edit by hand: run `make docs`.\n\n## Contents\n\n",
    );
    let mut commands = Vec::new();
    walk(root, "", &mut commands);
    for (path, cmd) in &commands {
        let about = cmd.get_about().map(|a| a.to_string()).unwrap_or_default();
        out.push_str(&format!(
            "- [`{path}`](#{}) — {}\n",
            anchor(path),
            first_sentence(&about)
        ));
    }
    for (path, cmd) in commands {
        let mut cmd = cmd.clone().bin_name(&path).term_width(100);
        let help = cmd.render_long_help().to_string();
        out.push_str(&format!(
            "\n## {path}\n\n```text\n{}\n```\n",
            help.trim_end()
        ));
    }
    out
}

/// The top-level commands and what each does, one line each (the README's overview).
pub fn overview(root: &Command) -> String {
    let mut out = String::from("| Command | What it does |\n| --- | --- |\n");
    for sub in root.get_subcommands().filter(|c| !c.is_hide_set()) {
        let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
        out.push_str(&format!(
            "| [`tdekey {}`](docs/cli.md#{}) | {} |\n",
            sub.get_name(),
            anchor(&format!("tdekey {}", sub.get_name())),
            first_sentence(&about)
        ));
    }
    out
}

fn walk(cmd: &Command, parent: &str, out: &mut Vec<(String, Command)>) {
    let path = if parent.is_empty() {
        cmd.get_name().to_owned()
    } else {
        format!("{parent} {}", cmd.get_name())
    };
    out.push((path.clone(), cmd.clone()));
    for sub in cmd
        .get_subcommands()
        .filter(|c| !c.is_hide_set() && c.get_name() != "help")
    {
        walk(sub, &path, out);
    }
}

/// GitHub's anchor for a heading: lower case, spaces to dashes.
fn anchor(heading: &str) -> String {
    heading.to_lowercase().replace(' ', "-")
}

fn first_sentence(about: &str) -> String {
    let line = about.lines().next().unwrap_or("").trim();
    match line.find(". ") {
        Some(i) => line[..=i].to_owned(),
        None => line.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_and_first_sentences() {
        assert_eq!(anchor("tdekey hsm profile add"), "tdekey-hsm-profile-add");
        assert_eq!(first_sentence("Rotate now. Or later."), "Rotate now.");
        assert_eq!(first_sentence("One line\nand more"), "One line");
    }
}
