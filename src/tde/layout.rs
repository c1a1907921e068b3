//! Where Oracle keeps a keystore's files under WALLET_ROOT (19c): the software keystore in
//! `WALLET_ROOT/tde/` (`ewallet.p12`, its auto-login `cwallet.sso`, backups
//! `ewallet_<timestamp>[_<tag>].p12`), the HSM_PASSWORD secret in `WALLET_ROOT/tde_seps/`, and
//! an isolated PDB's keystore in `WALLET_ROOT/<PDB GUID>/tde/`.

/// The software keystore's directory under WALLET_ROOT (and under a PDB's GUID directory).
pub const KEYSTORE_DIR: &str = "tde";
/// Where `ADMINISTER KEY MANAGEMENT ADD SECRET … FOR CLIENT 'HSM_PASSWORD'` must write for
/// `IDENTIFIED BY EXTERNAL STORE` to find it.
pub const SEPS_DIR: &str = "tde_seps";
/// The password-protected keystore.
pub const EWALLET: &str = "ewallet.p12";
/// The auto-login keystore (also the secret store in `tde_seps`).
pub const CWALLET: &str = "cwallet.sso";

/// `<root>/<sub>` as Oracle writes it, without a doubled slash.
pub fn under_root(root: &str, sub: &str) -> String {
    format!("{}/{sub}", root.trim_end_matches('/'))
}

/// The name Oracle gives a keystore backup made at `stamp` (`YYYYMMDDHHMMSS`, UTC) with an
/// optional `USING` tag.
pub fn backup_name(stamp: &str, tag: Option<&str>) -> String {
    match tag {
        Some(t) => format!("ewallet_{stamp}_{t}.p12"),
        None => format!("ewallet_{stamp}.p12"),
    }
}

/// Whether a file name is a keystore backup.
pub fn is_backup_name(name: &str) -> bool {
    name.starts_with("ewallet_") && name.ends_with(".p12")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backups_are_named_as_oracle_names_them() {
        let n = backup_name("20261124050000", Some("pre_hsm"));
        assert_eq!(n, "ewallet_20261124050000_pre_hsm.p12");
        assert!(is_backup_name(&n) && is_backup_name(&backup_name("1", None)));
        assert!(!is_backup_name(EWALLET) && !is_backup_name(CWALLET));
        assert_eq!(under_root("/u01/wr/", SEPS_DIR), "/u01/wr/tde_seps");
    }
}
