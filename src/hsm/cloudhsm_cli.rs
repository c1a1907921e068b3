//! The AWS CloudHSM CLI (`cloudhsm-cli`, Client SDK 5) commands tdekey prints for a person to
//! run: sharing a key with Oracle's crypto user, creating that user. Each is printed two ways
//! that work as printed (AWS's "Command modes in CloudHSM CLI"):
//!
//! - single-command mode, which reads the login from the environment (`CLOUDHSM_ROLE` and
//!   `CLOUDHSM_PIN=<user>:<password>`): the line reads the password without echo and gives both
//!   variables to that one command only, so nothing stays exported and no password is in what
//!   tdekey prints, in argv or in the shell's history;
//! - interactive mode: `cloudhsm-cli interactive`, `login --username <user> --role <role>` (it
//!   asks for the password), the command, `quit`.
//!
//! The commands' syntax is the documented one: `key share --filter attr.label="<label>"
//! attr.class=secret-key --username <user> --role crypto-user` (only the key's owner may share
//! it), `user create --username <user> --role crypto-user` (an admin; it asks for the new
//! user's password).

/// Where Client SDK 5 installs the CLI (not always on PATH).
pub const CLI: &str = "/opt/cloudhsm/bin/cloudhsm-cli";

/// The role a cloudhsm-cli login takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    CryptoUser,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::CryptoUser => "crypto-user",
            Role::Admin => "admin",
        }
    }
}

/// `key share …`: the key's owner gives `oracle_user` the use of the key labelled `label`.
pub fn key_share(label: &str, oracle_user: &str) -> String {
    format!(
        "key share --filter attr.label={} attr.class=secret-key --username {} --role crypto-user",
        dq(label),
        word(oracle_user)
    )
}

/// `user create …`: an admin creates the crypto user Oracle logs in as.
pub fn user_create(user: &str) -> String {
    format!("user create --username {} --role crypto-user", word(user))
}

/// `command` in single-command mode, logged in as `user` with `role`: one shell line (sh,
/// bash, zsh, ksh) that reads the password without echo and passes the login to that command
/// only. With no `user`, the line asks for the user name too.
pub fn single_command(user: Option<&str>, role: Role, command: &str) -> String {
    let (ask_user, pin) = match user {
        Some(u) => (
            format!("printf 'CloudHSM password of %s: ' {}; ", sq(u)),
            format!("{}\"$cu_pw\"", sq(&format!("{u}:"))),
        ),
        None => (
            format!(
                "printf 'CloudHSM {} user: '; IFS= read -r cu_user; printf 'Password of %s: ' \"$cu_user\"; ",
                role.as_str()
            ),
            "\"$cu_user:$cu_pw\"".to_owned(),
        ),
    };
    format!(
        "{ask_user}stty -echo; IFS= read -r cu_pw; stty echo; echo; CLOUDHSM_ROLE={} CLOUDHSM_PIN={pin} {CLI} {command}; unset cu_user cu_pw",
        role.as_str()
    )
}

/// `command` in interactive mode, logged in as `user` (`<admin>` when not known).
pub fn interactive(user: Option<&str>, role: Role, command: &str) -> Vec<String> {
    vec![
        format!("{CLI} interactive"),
        format!(
            "aws-cloudhsm > login --username {} --role {}   (it asks for the password)",
            user.map_or_else(|| format!("<{}>", role.as_str()), word),
            role.as_str()
        ),
        format!("aws-cloudhsm > {command}"),
        "aws-cloudhsm > quit".to_owned(),
    ]
}

/// Single-quoted for sh.
fn sq(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Double-quoted as AWS's examples quote a label (`attr.label="…"`): shell-safe for labels
/// without `"`, `$`, `` ` `` or `\`, else single-quoted.
fn dq(s: &str) -> String {
    if s.contains(['"', '$', '`', '\\']) {
        sq(s)
    } else {
        format!("\"{s}\"")
    }
}

/// A user name as one shell word (quoted only when it must be).
fn word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        s.to_owned()
    } else {
        sq(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const LABEL: &str = "ORACLE.TDE.HSM.MK.0615A5142C9E2D3C2F18FD435814257DFD";

    #[test]
    fn the_commands_have_the_documented_syntax() {
        assert_eq!(
            key_share(LABEL, "oracle_cu"),
            format!(
                "key share --filter attr.label=\"{LABEL}\" attr.class=secret-key --username oracle_cu --role crypto-user"
            )
        );
        assert_eq!(
            user_create("oracle_cu"),
            "user create --username oracle_cu --role crypto-user"
        );
        let i = interactive(Some("cu_owner"), Role::CryptoUser, &key_share(LABEL, "b"));
        assert_eq!(i[0], "/opt/cloudhsm/bin/cloudhsm-cli interactive");
        assert!(i[1].starts_with("aws-cloudhsm > login --username cu_owner --role crypto-user"));
        assert!(i[2].starts_with("aws-cloudhsm > key share --filter"));
        assert!(interactive(None, Role::Admin, "x")[1].contains("--username <admin> --role admin"));
    }

    /// Runs `line` in sh with `cloudhsm-cli` replaced by a script that prints the login it
    /// was given and its arguments, one per line; `stdin` is what the person types.
    fn run(line: &str, stdin: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("cloudhsm-cli");
        std::fs::write(
            &fake,
            "#!/bin/sh\necho \"ROLE=$CLOUDHSM_ROLE\"\necho \"PIN=$CLOUDHSM_PIN\"\nfor a in \"$@\"; do echo \"ARG=$a\"; done\n",
        )
        .unwrap();
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let line = line.replace(CLI, &fake.display().to_string());
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{line}; echo \"LEFT=$cu_pw$CLOUDHSM_PIN\""))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap()
    }

    #[test]
    fn the_single_command_line_runs_as_printed_with_the_login_in_its_environment() {
        let line = single_command(
            Some("cu_owner"),
            Role::CryptoUser,
            &key_share(LABEL, "oracle_cu"),
        );
        assert!(!line.contains("pa$$ word"));
        let out = run(&line, "pa$$ word \"x\n");
        assert!(out.contains("ROLE=crypto-user\n"), "{out}");
        assert!(out.contains("PIN=cu_owner:pa$$ word \"x\n"), "{out}");
        let args: Vec<&str> = out.lines().filter_map(|l| l.strip_prefix("ARG=")).collect();
        assert_eq!(
            args,
            [
                "key",
                "share",
                "--filter",
                &format!("attr.label={LABEL}"),
                "attr.class=secret-key",
                "--username",
                "oracle_cu",
                "--role",
                "crypto-user"
            ]
        );
        // Nothing is left in the shell afterwards.
        assert!(out.contains("LEFT=\n"), "{out}");

        // An admin whose name is asked.
        let out = run(
            &single_command(None, Role::Admin, &user_create("oracle_cu")),
            "admin1\nsecret\n",
        );
        assert!(out.contains("ROLE=admin\nPIN=admin1:secret\n"), "{out}");
        assert!(out.contains("ARG=create\n"), "{out}");
    }
}
