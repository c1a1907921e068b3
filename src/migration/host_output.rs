//! When tdekey does not run on the database host, the wizard shows a command to run there and
//! reads what the person pastes back: each command prints tagged lines and ends with `END`, so
//! a paste that is cut short, or is the output of something else, is told apart from an answer.

use serde::{Deserialize, Serialize};

/// The line every command ends with: the paste is whole when it is there.
const END: &str = "END";

/// Why a paste is not the output of the command shown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasteError {
    #[error(
        "Nothing was pasted. Run the command on the database host and paste everything it printed."
    )]
    Empty,
    #[error(
        "The paste does not end with the line END: it is cut short. Paste everything the command printed, down to END."
    )]
    Incomplete,
    #[error(
        "This is not the output of the command shown ({0}). Run that command on the database host and paste what it printed."
    )]
    Foreign(String),
}

/// The lines of a paste up to `END`, trimmed, without blank ones and the shell prompt's echo of
/// the command itself.
pub(super) fn lines(text: &str) -> Result<Vec<&str>, PasteError> {
    if text.trim().is_empty() {
        return Err(PasteError::Empty);
    }
    let mut out = Vec::new();
    for l in text.lines().map(str::trim) {
        if l == END {
            return Ok(out);
        }
        if !l.is_empty() {
            out.push(l);
        }
    }
    Err(PasteError::Incomplete)
}

/// `/opt/oracle/extapi/64/hsm/` as the database host has it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LibraryListing {
    /// (owner:group, SHA-256, path) of each file under `hsm/<vendor>/<version>/`.
    pub files: Vec<(String, String, String)>,
    /// ORACLE_HOME's owner:group, when the variable was set.
    pub oracle_home_owner: Option<String>,
}

/// The command for step 4 (Oracle's PKCS#11 library) on a remote host.
pub fn library_command() -> String {
    concat!(
        "for f in /opt/oracle/extapi/64/hsm/*/*/*; do [ -f \"$f\" ] && echo \"FILE $(stat -c %U:%G \"$f\") $(sha256sum \"$f\" | cut -d' ' -f1) $f\"; done; ",
        "[ -n \"$ORACLE_HOME\" ] && echo \"ORACLE_HOME $(stat -c %U:%G \"$ORACLE_HOME\")\"; echo END"
    )
    .to_owned()
}

pub fn parse_library(text: &str) -> Result<LibraryListing, PasteError> {
    let mut listing = LibraryListing {
        files: Vec::new(),
        oracle_home_owner: None,
    };
    for l in lines(text)? {
        let mut parts = l.splitn(4, ' ');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("FILE"), Some(owner), Some(sha), Some(path))
                if sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                listing
                    .files
                    .push((owner.to_owned(), sha.to_ascii_lowercase(), path.to_owned()));
            }
            (Some("ORACLE_HOME"), Some(owner), None, None) => {
                listing.oracle_home_owner = Some(owner.to_owned())
            }
            // The shell's complaint about an empty glob, or the prompt echoing the command.
            _ if l.contains("No such file") || l.contains("for f in ") => {}
            _ => {
                return Err(PasteError::Foreign(format!(
                    "the line {l:?} is not one it prints"
                )));
            }
        }
    }
    Ok(listing)
}

/// The CloudHSM client on the database host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientListing {
    pub configure: bool,
    pub ca_cert: bool,
    pub servers: Vec<String>,
}

/// The command for step 3 (the CloudHSM client) on a remote host.
pub fn client_command() -> String {
    concat!(
        "for f in /opt/cloudhsm/bin/configure-pkcs11 /opt/cloudhsm/etc/customerCA.crt; do [ -e \"$f\" ] && echo \"HAVE $f\" || echo \"MISSING $f\"; done; ",
        "echo CONFIG; cat /opt/cloudhsm/etc/cloudhsm-pkcs11.cfg; echo; echo END"
    )
    .to_owned()
}

pub fn parse_client(text: &str) -> Result<ClientListing, PasteError> {
    let all = lines(text)?;
    let mut c = ClientListing {
        configure: false,
        ca_cert: false,
        servers: Vec::new(),
    };
    let mut seen = 0;
    let mut config = String::new();
    let mut in_config = false;
    for l in all {
        if in_config {
            config.push_str(l);
            config.push('\n');
            continue;
        }
        match l.split_once(' ') {
            Some(("HAVE" | "MISSING", path)) => {
                seen += 1;
                let have = l.starts_with("HAVE");
                if path.ends_with("configure-pkcs11") {
                    c.configure = have;
                } else if path.ends_with("customerCA.crt") {
                    c.ca_cert = have;
                }
            }
            _ if l == "CONFIG" => in_config = true,
            // The prompt echoing the command.
            _ if l.contains("for f in ") => {}
            _ => {
                return Err(PasteError::Foreign(format!(
                    "the line {l:?} is not one it prints"
                )));
            }
        }
    }
    if seen != 2 || !in_config {
        return Err(PasteError::Foreign(
            "the HAVE/MISSING lines or CONFIG are missing".into(),
        ));
    }
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&config) {
        super::host::collect_servers(&v, &mut c.servers);
    }
    Ok(c)
}

/// The command for step 6 (the wallet backup) on a remote host: the keystore files copied with
/// their modes into `dir`, and every SHA-256, originals and copies.
pub fn backup_command(tde: &str, dir: &str) -> String {
    format!(
        "mkdir -p {dir} && cp -p {tde}/ewallet.p12 {dir}/ && for f in {tde}/cwallet.sso {tde}/ewallet_*.p12; do [ -f \"$f\" ] && cp -p \"$f\" {dir}/; done; sha256sum {tde}/ewallet.p12 {tde}/cwallet.sso {tde}/ewallet_*.p12 {dir}/* 2>/dev/null; echo END"
    )
}

/// The command that prints the SHA-256 of the keystore files (the rollback's comparison).
pub fn sums_command(paths: &[String]) -> String {
    format!("sha256sum {} 2>/dev/null; echo END", paths.join(" "))
}

/// `sha256sum` lines: (path, SHA-256).
pub fn parse_sums(text: &str) -> Result<Vec<(String, String)>, PasteError> {
    let mut out = Vec::new();
    for l in lines(text)? {
        match l.split_once(char::is_whitespace) {
            Some((sha, path)) if sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()) => {
                out.push((
                    path.trim().trim_start_matches('*').to_owned(),
                    sha.to_ascii_lowercase(),
                ))
            }
            // The prompt echoing the command.
            _ if l.contains("sha256sum ") || l.contains("mkdir ") => {}
            _ => {
                return Err(PasteError::Foreign(format!(
                    "the line {l:?} is not a sha256sum line"
                )));
            }
        }
    }
    if out.is_empty() {
        return Err(PasteError::Foreign("there is no sha256sum line".into()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "3b1f6ad9e2c4f1a07b9d2e8c5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a";

    #[test]
    fn a_library_listing_is_read_and_a_cut_or_foreign_paste_is_named() {
        let text = format!(
            "$ for f in …\nFILE oracle:oinstall {SHA} /opt/oracle/extapi/64/hsm/aws/5.12/libcloudhsm_pkcs11.so\nORACLE_HOME oracle:oinstall\nEND\n"
        );
        let l = parse_library(&text).unwrap();
        assert_eq!(l.files.len(), 1);
        assert_eq!(l.files[0].0, "oracle:oinstall");
        assert_eq!(l.oracle_home_owner.as_deref(), Some("oracle:oinstall"));
        assert_eq!(
            parse_library("ORACLE_HOME oracle:oinstall\nEND")
                .unwrap()
                .files,
            []
        );
        assert_eq!(
            parse_library("FILE oracle:oinstall"),
            Err(PasteError::Incomplete)
        );
        assert_eq!(parse_library("  \n"), Err(PasteError::Empty));
        assert!(matches!(
            parse_library("WRL_TYPE,WRL_PARAMETER\nFILE,/u01\nEND"),
            Err(PasteError::Foreign(_))
        ));
    }

    #[test]
    fn a_client_listing_names_what_is_missing_and_the_servers() {
        let text = "HAVE /opt/cloudhsm/bin/configure-pkcs11\nMISSING /opt/cloudhsm/etc/customerCA.crt\nCONFIG\n{\"clusters\":[{\"cluster\":{\"servers\":[{\"hostname\":\"10.0.1.12\"}]}}]}\n\nEND";
        let c = parse_client(text).unwrap();
        assert!(c.configure && !c.ca_cert);
        assert_eq!(c.servers, ["10.0.1.12"]);
        assert!(parse_client("CONFIG\nEND").is_err());
    }

    #[test]
    fn sha256sum_lines_are_read() {
        let text =
            format!("{SHA}  /u01/wallet/tde/ewallet.p12\n{SHA} */home/oracle/b/ewallet.p12\nEND");
        let s = parse_sums(&text).unwrap();
        assert_eq!(s[0], ("/u01/wallet/tde/ewallet.p12".into(), SHA.into()));
        assert_eq!(s[1].0, "/home/oracle/b/ewallet.p12");
        assert!(parse_sums("END").is_err());
        assert!(parse_sums("hello\nEND").is_err());
    }
}
