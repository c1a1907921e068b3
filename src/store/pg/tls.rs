//! libpq's `sslmode` and `sslrootcert`, which the `postgres` crate does not know past
//! `disable|prefer|require`, mapped onto native-tls (the system's OpenSSL) and
//! postgres-native-tls.
//!
//! | sslmode | roots (sslrootcert, else `~/.postgresql/root.crt` if it exists) | TLS | checked |
//! |---|---|---|---|
//! | disable | ignored | never | — |
//! | allow | refused: tdekey never starts without TLS when it could have it |
//! | prefer | none | if the server offers it | nothing |
//! | prefer | a file | if the server offers it | the chain against the file (as libpq) |
//! | require | none | always | nothing |
//! | require | a file | always | the chain against the file (as libpq) |
//! | verify-ca | a file | always | the chain, not the host name |
//! | verify-ca | none | refused: name the CA certificate |
//! | verify-full | a file, or `system` | always | the chain and the host name |
//! | verify-full | none | refused: name the CA certificate |
//!
//! `sslrootcert=system` (the system's trusted roots) is taken with verify-full only, as libpq 16
//! does: any public CA can vouch for a host, so without the name check it would prove nothing.

use postgres::config::SslMode as CrateSslMode;
use std::path::{Path, PathBuf};

/// libpq's `sslmode` values that tdekey takes (`allow` is refused when parsing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    /// Parses libpq's name of a mode; `Err` holds the reason in words.
    pub fn parse(s: &str) -> Result<SslMode, String> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            "allow" => {
                return Err(
                    "sslmode=allow tries without TLS first, which tdekey does not do; use sslmode=require or verify-full (or disable on a trusted network)"
                        .to_owned(),
                );
            }
            other => {
                return Err(format!(
                    "sslmode={other} is not one of disable, prefer, require, verify-ca, verify-full"
                ));
            }
        })
    }

    /// libpq's name of the mode.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

impl std::fmt::Display for SslMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What `sslrootcert` says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RootCert {
    /// A PEM file of one or more CA certificates.
    File(PathBuf),
    /// `sslrootcert=system`: the system's trusted roots.
    System,
}

/// What the server's certificate is checked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// Encrypted, but any certificate is taken.
    Nothing,
    /// The chain must lead to one of the roots; any host name is taken.
    Chain,
    /// The chain and the host name.
    ChainAndHost,
}

/// How one connection uses TLS: the crate's mode (whether to ask for TLS, whether to insist),
/// what is checked, against which roots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsPlan {
    pub mode: SslMode,
    pub check: Check,
    pub roots: Option<RootCert>,
}

impl TlsPlan {
    /// The plan for `mode`, `sslrootcert` (`explicit`, from the URL or PGSSLROOTCERT) and
    /// libpq's default root file (`default_root`, `~/.postgresql/root.crt`, given only when it
    /// exists). `Err` holds the reason in words, naming what to do.
    pub fn new(
        mode: SslMode,
        explicit: Option<RootCert>,
        default_root: Option<PathBuf>,
    ) -> Result<TlsPlan, String> {
        if mode == SslMode::Disable {
            return Ok(TlsPlan {
                mode,
                check: Check::Nothing,
                roots: None,
            });
        }
        if let Some(RootCert::File(f)) = &explicit
            && !f.is_file()
        {
            return Err(format!(
                "sslrootcert={} is not a file; name the PEM file of the server's CA certificate, or use sslrootcert=system with sslmode=verify-full",
                f.display()
            ));
        }
        if explicit == Some(RootCert::System) && mode != SslMode::VerifyFull {
            return Err(format!(
                "sslrootcert=system is taken with sslmode=verify-full only (sslmode={mode} would trust any certificate a public CA signed for any host); use sslmode=verify-full"
            ));
        }
        let roots = explicit.or(default_root.map(RootCert::File));
        let check = match (mode, &roots) {
            (SslMode::VerifyFull, Some(_)) => Check::ChainAndHost,
            (SslMode::VerifyCa | SslMode::Prefer | SslMode::Require, Some(_)) => Check::Chain,
            (SslMode::Prefer | SslMode::Require, None) => Check::Nothing,
            (SslMode::VerifyCa | SslMode::VerifyFull, None) => {
                return Err(format!(
                    "sslmode={mode} checks the server's certificate, so it needs the CA certificate: name its PEM file with sslrootcert=FILE (or put it in ~/.postgresql/root.crt), or use sslrootcert=system for the system's trusted roots with verify-full"
                ));
            }
            (SslMode::Disable, _) => Check::Nothing,
        };
        Ok(TlsPlan { mode, check, roots })
    }

    /// The `postgres` crate's mode: whether to ask for TLS and whether to insist.
    pub fn crate_mode(&self) -> CrateSslMode {
        match self.mode {
            SslMode::Disable => CrateSslMode::Disable,
            SslMode::Prefer => CrateSslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => CrateSslMode::Require,
        }
    }

    /// `sslmode=…, sslrootcert=…` as a failure names them.
    pub fn describe(&self) -> String {
        let roots = match &self.roots {
            None => "no sslrootcert".to_owned(),
            Some(RootCert::System) => "sslrootcert=system".to_owned(),
            Some(RootCert::File(f)) => format!("sslrootcert={}", f.display()),
        };
        format!("sslmode={}, {roots}", self.mode)
    }

    /// The connector for this plan, `None` for sslmode=disable. `Err` holds the reason in words.
    pub(crate) fn connector(&self) -> Result<Option<super::tls_stream::MakeClean>, String> {
        if self.mode == SslMode::Disable {
            return Ok(None);
        }
        let mut b = native_tls::TlsConnector::builder();
        // libpq's default ssl_min_protocol_version.
        b.min_protocol_version(Some(native_tls::Protocol::Tlsv12));
        if let Some(RootCert::File(f)) = &self.roots {
            b.disable_built_in_roots(true);
            for cert in read_roots(f)? {
                b.add_root_certificate(cert);
            }
        }
        match self.check {
            Check::Nothing => {
                b.danger_accept_invalid_certs(true);
            }
            Check::Chain => {
                b.danger_accept_invalid_hostnames(true);
            }
            Check::ChainAndHost => {}
        }
        let c = b
            .build()
            .map_err(|e| format!("the TLS library cannot be set up ({e})"))?;
        Ok(Some(super::tls_stream::MakeClean(
            postgres_native_tls::MakeTlsConnector::new(c),
        )))
    }
}

/// The CA certificates of a PEM file.
fn read_roots(f: &Path) -> Result<Vec<native_tls::Certificate>, String> {
    let pem = std::fs::read(f).map_err(|e| {
        format!(
            "sslrootcert={} cannot be read ({e}); make it readable by this user",
            f.display()
        )
    })?;
    match native_tls::Certificate::stack_from_pem(&pem) {
        Ok(certs) if !certs.is_empty() => Ok(certs),
        _ => Err(format!(
            "sslrootcert={} holds no PEM certificate; name the PEM file of the server's CA certificate",
            f.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_by_libpq_name_and_allow_is_refused() {
        for m in [
            SslMode::Disable,
            SslMode::Prefer,
            SslMode::Require,
            SslMode::VerifyCa,
            SslMode::VerifyFull,
        ] {
            assert_eq!(SslMode::parse(m.as_str()), Ok(m));
        }
        assert!(SslMode::parse("allow").unwrap_err().contains("require"));
        assert!(
            SslMode::parse("verify_full")
                .unwrap_err()
                .contains("not one of")
        );
    }

    /// Mode, sslrootcert, the default root file, what is checked (or the refusal's words).
    type Row = (
        SslMode,
        Option<RootCert>,
        Option<PathBuf>,
        Result<Check, &'static str>,
    );

    /// The table at the top of this file, row by row.
    #[test]
    fn the_sslmode_table() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "x").unwrap();
        let file = || Some(RootCert::File(ca.clone()));
        use Check::*;
        use SslMode::*;
        let plan = |m, explicit, default| TlsPlan::new(m, explicit, default).map(|p| p.check);
        let rows: [Row; 16] = [
            (Disable, None, None, Ok(Nothing)),
            (Disable, Some(RootCert::System), None, Ok(Nothing)),
            (Prefer, None, None, Ok(Nothing)),
            (Prefer, file(), None, Ok(Chain)),
            (Prefer, None, Some(ca.clone()), Ok(Chain)),
            (
                Prefer,
                Some(RootCert::System),
                None,
                Err("verify-full only"),
            ),
            (Require, None, None, Ok(Nothing)),
            (Require, file(), None, Ok(Chain)),
            (Require, None, Some(ca.clone()), Ok(Chain)),
            (
                Require,
                Some(RootCert::System),
                None,
                Err("verify-full only"),
            ),
            (VerifyCa, file(), None, Ok(Chain)),
            (VerifyCa, None, None, Err("needs the CA certificate")),
            (
                VerifyCa,
                Some(RootCert::System),
                None,
                Err("verify-full only"),
            ),
            (VerifyFull, file(), None, Ok(ChainAndHost)),
            (VerifyFull, Some(RootCert::System), None, Ok(ChainAndHost)),
            (VerifyFull, None, None, Err("needs the CA certificate")),
        ];
        for (m, explicit, default, want) in rows {
            let got = plan(m, explicit.clone(), default.clone());
            match (want, got) {
                (Ok(w), Ok(g)) => assert_eq!(w, g, "{m} {explicit:?} {default:?}"),
                (Err(w), Err(g)) => assert!(g.contains(w), "{m}: {g}"),
                (w, g) => panic!("{m} {explicit:?} {default:?}: wanted {w:?}, got {g:?}"),
            }
        }
        // An explicit file wins over the default one; a missing explicit file is refused.
        let other = dir.path().join("other.pem");
        std::fs::write(&other, "x").unwrap();
        let p = TlsPlan::new(VerifyFull, file(), Some(other)).unwrap();
        assert_eq!(p.roots, file());
        let e = TlsPlan::new(Require, Some(RootCert::File(dir.path().join("no"))), None);
        assert!(e.unwrap_err().contains("is not a file"));
        // The crate is asked for TLS as the mode says.
        let crate_mode = |m| TlsPlan::new(m, file(), None).unwrap().crate_mode();
        assert_eq!(crate_mode(Disable), CrateSslMode::Disable);
        assert_eq!(crate_mode(Prefer), CrateSslMode::Prefer);
        for m in [Require, VerifyCa, VerifyFull] {
            assert_eq!(crate_mode(m), CrateSslMode::Require);
        }
    }

    #[test]
    fn a_root_file_without_certificates_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "not a certificate").unwrap();
        let p = TlsPlan::new(SslMode::VerifyFull, Some(RootCert::File(ca.clone())), None).unwrap();
        let e = p.connector().err().unwrap();
        assert!(
            e.contains("holds no PEM certificate") && e.contains("ca.pem"),
            "{e}"
        );
        assert!(p.describe().contains("sslmode=verify-full, sslrootcert="));
        let p = TlsPlan::new(SslMode::Disable, None, None).unwrap();
        assert!(p.connector().unwrap().is_none());
        let p = TlsPlan::new(SslMode::Require, None, None).unwrap();
        assert!(p.connector().unwrap().is_some());
    }
}
