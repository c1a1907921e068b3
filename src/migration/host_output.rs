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
    #[error(transparent)]
    TooLarge(#[from] crate::model::PasteTooLarge),
}

/// The line every command begins with: which host printed it (`hostname`), so that a paste
/// from one host is never taken for another's.
const HOST: &str = "HOST ";

/// What each command runs first: the host's name.
pub const HOST_LINE: &str = "echo \"HOST $(hostname)\"; ";

/// The lines of a paste up to `END`, trimmed, without blank ones, the `HOST` line and the shell
/// prompt's echo of the command itself.
pub(super) fn lines(text: &str) -> Result<Vec<&str>, PasteError> {
    let text = crate::model::admit_paste("host output", text)?;
    if text.trim().is_empty() {
        return Err(PasteError::Empty);
    }
    let mut out = Vec::new();
    for l in text.lines().map(str::trim) {
        if l == END {
            return Ok(out);
        }
        if !l.is_empty() && !l.starts_with(HOST) {
            out.push(l);
        }
    }
    Err(PasteError::Incomplete)
}

/// The host a paste says it was printed on (its `HOST` line), if it has one.
pub fn host_of(text: &str) -> Option<String> {
    text.lines()
        .map(|l| l.trim().trim_start_matches('\u{feff}'))
        .find_map(|l| l.strip_prefix(HOST))
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
}

/// A paste of several hosts' outputs, one after the other, cut into each host's: each ends
/// with its `END` line. What follows the last `END` is kept only when it begins another host's
/// output (it is then cut short); a prompt line after the last `END` is not an output.
pub fn blocks(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for l in text.lines() {
        let l = l.trim_start_matches('\u{feff}');
        cur.push_str(l);
        cur.push('\n');
        if l.trim() == END {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.trim().is_empty() && (out.is_empty() || host_of(&cur).is_some()) {
        out.push(cur);
    }
    out
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
    let listing = concat!(
        "for f in /opt/oracle/extapi/64/hsm/*/*/*; do [ -f \"$f\" ] && echo \"FILE $(stat -c %U:%G \"$f\") $(sha256sum \"$f\" | cut -d' ' -f1) $f\"; done; ",
        "[ -n \"$ORACLE_HOME\" ] && echo \"ORACLE_HOME $(stat -c %U:%G \"$ORACLE_HOME\")\"; echo END"
    );
    format!("{HOST_LINE}{listing}")
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
    /// The CA certificate the client configuration names (the default when it names none).
    pub ca_path: String,
    /// Whether that file exists there.
    pub ca_cert: bool,
    pub servers: Vec<String>,
}

/// The command for step 3 (the CloudHSM client) on a remote host: configure-pkcs11, the CA
/// certificate the client configuration names (`hsm_ca_file`, else the default path) and
/// whether it exists, then the configuration itself.
pub fn client_command() -> String {
    format!(
        "{HOST_LINE}f=/opt/cloudhsm/bin/configure-pkcs11; [ -e \"$f\" ] && echo \"HAVE $f\" || echo \"MISSING $f\"; \
ca=$(sed -n 's/.*\"\\(hsm_\\)\\{{0,1\\}}ca_file\"[[:space:]]*:[[:space:]]*\"\\([^\"]*\\)\".*/\\2/p' {cfg} 2>/dev/null | head -n 1); \
ca=${{ca:-{ca}}}; [ -f \"$ca\" ] && echo \"CA_HAVE $ca\" || echo \"CA_MISSING $ca\"; \
echo CONFIG; cat {cfg}; echo; echo END",
        cfg = super::host::CLIENT_CONFIG,
        ca = super::host::DEFAULT_CA,
    )
}

pub fn parse_client(text: &str) -> Result<ClientListing, PasteError> {
    let all = lines(text)?;
    let mut c = ClientListing {
        configure: false,
        ca_path: String::new(),
        ca_cert: false,
        servers: Vec::new(),
    };
    let (mut tool, mut ca) = (0, 0);
    let mut config = String::new();
    let mut in_config = false;
    for l in all {
        if in_config {
            config.push_str(l);
            config.push('\n');
            continue;
        }
        match l.split_once(' ') {
            Some((kind @ ("HAVE" | "MISSING"), path)) if path.ends_with("configure-pkcs11") => {
                tool += 1;
                c.configure = kind == "HAVE";
            }
            Some((kind @ ("CA_HAVE" | "CA_MISSING"), path)) => {
                ca += 1;
                c.ca_cert = kind == "CA_HAVE";
                c.ca_path = path.trim().to_owned();
            }
            _ if l == "CONFIG" => in_config = true,
            // The prompt echoing the command.
            _ if l.contains("configure-pkcs11;") || l.starts_with("ca=") => {}
            _ => {
                return Err(PasteError::Foreign(format!(
                    "the line {l:?} is not one it prints"
                )));
            }
        }
    }
    if tool != 1 || ca != 1 || !in_config {
        return Err(PasteError::Foreign(
            "the HAVE/MISSING, CA_HAVE/CA_MISSING or CONFIG lines are missing".into(),
        ));
    }
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&config) {
        super::host::collect_servers(&v, &mut c.servers);
        let named =
            super::host::configured_ca(&v).unwrap_or_else(|| super::host::DEFAULT_CA.to_owned());
        if named != c.ca_path {
            return Err(PasteError::Foreign(format!(
                "its CA line names {}, but the configuration it printed names {named}",
                c.ca_path
            )));
        }
    }
    Ok(c)
}

/// One keystore file under WALLET_ROOT/tde on a host: its mode (octal), its first four bytes
/// (hex) and its path; `None` for the mode when it is missing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalletFile {
    pub path: String,
    pub mode: Option<String>,
    pub head: String,
}

/// The command for step 5 on a remote host: `ewallet.p12` and `cwallet.sso` under `tde`
/// (WALLET_ROOT/tde), each with its mode and header (an auto-login file's fourth byte tells a
/// local auto-login wallet).
pub fn wallet_command(tde: &str) -> String {
    format!(
        "{HOST_LINE}for f in {tde}/ewallet.p12 {tde}/cwallet.sso; do if [ -f \"$f\" ]; then echo \"WALLET $(stat -c %a \"$f\") $(od -An -tx1 -N4 \"$f\" | tr -d ' \\n') $f\"; else echo \"NOWALLET $f\"; fi; done; echo END"
    )
}

pub fn parse_wallet(text: &str) -> Result<Vec<WalletFile>, PasteError> {
    let mut out = Vec::new();
    for l in lines(text)? {
        let mut parts = l.splitn(4, ' ');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("WALLET"), Some(mode), Some(head), Some(path))
                if mode.bytes().all(|b| b.is_ascii_digit())
                    && head.bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                out.push(WalletFile {
                    path: path.to_owned(),
                    mode: Some(mode.to_owned()),
                    head: head.to_ascii_lowercase(),
                })
            }
            (Some("NOWALLET"), Some(_), ..) => out.push(WalletFile {
                path: l["NOWALLET ".len()..].to_owned(),
                mode: None,
                head: String::new(),
            }),
            // The prompt echoing the command.
            _ if l.contains("for f in ") => {}
            _ => {
                return Err(PasteError::Foreign(format!(
                    "the line {l:?} is not one it prints"
                )));
            }
        }
    }
    if out.len() != 2 {
        return Err(PasteError::Foreign(
            "it prints a WALLET or NOWALLET line for ewallet.p12 and for cwallet.sso".into(),
        ));
    }
    Ok(out)
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
    fn a_client_listing_names_the_configured_ca_certificate_and_the_servers() {
        let text = "$ echo \"HOST $(hostname)\"; f=/opt/cloudhsm/bin/configure-pkcs11; …\nHOST db1\nHAVE /opt/cloudhsm/bin/configure-pkcs11\nCA_MISSING /etc/pki/cluster-CA.crt\nCONFIG\n{\"clusters\":[{\"cluster\":{\"hsm_ca_file\":\"/etc/pki/cluster-CA.crt\",\"servers\":[{\"hostname\":\"10.0.1.12\"}]}}]}\n\nEND";
        let c = parse_client(text).unwrap();
        assert!(c.configure && !c.ca_cert);
        assert_eq!(c.ca_path, "/etc/pki/cluster-CA.crt");
        assert_eq!(c.servers, ["10.0.1.12"]);
        assert!(parse_client("CONFIG\nEND").is_err());
        // The output of the old command (customerCA.crt only) is another command's.
        assert!(matches!(
            parse_client(
                "HAVE /opt/cloudhsm/bin/configure-pkcs11\nMISSING /opt/cloudhsm/etc/customerCA.crt\nCONFIG\n{}\nEND"
            ),
            Err(PasteError::Foreign(_))
        ));
        // A CA line that is not the configured path: refused, not taken for a check.
        let e = parse_client("HAVE /opt/cloudhsm/bin/configure-pkcs11\nCA_HAVE /opt/cloudhsm/etc/customerCA.crt\nCONFIG\n{\"clusters\":[{\"cluster\":{\"hsm_ca_file\":\"/etc/pki/other.crt\"}}]}\nEND").unwrap_err();
        assert!(e.to_string().contains("/etc/pki/other.crt"), "{e}");
        // No hsm_ca_file: the default path.
        let c = parse_client("HAVE /opt/cloudhsm/bin/configure-pkcs11\nCA_HAVE /opt/cloudhsm/etc/customerCA.crt\nCONFIG\n{\"clusters\":[]}\nEND").unwrap();
        assert!(c.ca_cert);
    }

    /// The command shown runs as printed: on a host with the configuration naming a CA file
    /// elsewhere, it prints that path's existence (sh, sed and cat as the host has them).
    #[test]
    fn the_client_command_prints_the_configured_ca_path() {
        let cmd = client_command();
        // The real paths, moved under a temporary root for the test.
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().display().to_string();
        let cfg = format!("{root}/cloudhsm-pkcs11.cfg");
        std::fs::write(
            &cfg,
            format!("{{\n  \"clusters\": [{{\n    \"cluster\": {{\n      \"hsm_ca_file\": \"{root}/ca dir/CA.crt\",\n      \"servers\": [{{\"hostname\": \"10.0.0.5\"}}]\n    }}\n  }}]\n}}\n"),
        )
        .unwrap();
        let cmd = cmd.replace(super::super::host::CLIENT_CONFIG, &cfg);
        let run = || {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(&cmd)
                .output()
                .unwrap();
            String::from_utf8(out.stdout).unwrap()
        };
        let c = parse_client(&run()).unwrap();
        assert_eq!(c.ca_path, format!("{root}/ca dir/CA.crt"));
        assert!(!c.ca_cert);
        std::fs::create_dir_all(format!("{root}/ca dir")).unwrap();
        std::fs::write(format!("{root}/ca dir/CA.crt"), b"PEM").unwrap();
        let out = run();
        let c = parse_client(&out).unwrap();
        assert!(c.ca_cert && !c.configure, "{out}");
        assert_eq!(c.servers, ["10.0.0.5"]);
        assert!(out.starts_with("HOST "), "{out}");
    }

    #[test]
    fn several_hosts_outputs_are_cut_apart() {
        let b = blocks("HOST a\nX\nEND\n$ \n");
        assert_eq!(b, ["HOST a\nX\nEND\n"]);
        let b = blocks("HOST a\nEND\nHOST b\nY\nEND\nHOST c\nZ\n");
        assert_eq!(b.len(), 3);
        assert_eq!(host_of(&b[1]).as_deref(), Some("b"));
        assert_eq!(parse_sums(&b[2]), Err(PasteError::Incomplete));
        assert_eq!(blocks("FILE x"), ["FILE x\n"]);
        assert!(blocks("  \n").is_empty());
    }

    #[test]
    fn a_wallet_listing_is_read_from_the_command_as_it_runs() {
        let dir = tempfile::tempdir().unwrap();
        let tde = dir.path().join("tde");
        std::fs::create_dir_all(&tde).unwrap();
        std::fs::write(tde.join("ewallet.p12"), [0x30, 0x82, 0x0a, 0x01, 0x02]).unwrap();
        std::fs::write(tde.join("cwallet.sso"), [0xa1, 0xf8, 0x4e, 0x38, 0, 0]).unwrap();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(wallet_command(&tde.display().to_string()))
            .output()
            .unwrap();
        let out = String::from_utf8(out.stdout).unwrap();
        let files = parse_wallet(&out).unwrap();
        assert_eq!(files[0].head, "30820a01", "{out}");
        assert_eq!(files[1].head, "a1f84e38", "{out}");
        assert!(files[1].mode.is_some());
        std::fs::remove_file(tde.join("cwallet.sso")).unwrap();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(wallet_command(&tde.display().to_string()))
            .output()
            .unwrap();
        let files = parse_wallet(&String::from_utf8(out.stdout).unwrap()).unwrap();
        assert_eq!(files[1].mode, None);
        assert!(parse_wallet("WALLET 600 30820a01 /x/ewallet.p12\nEND").is_err());
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
