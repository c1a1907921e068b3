//! Every ADMINISTER KEY MANAGEMENT and ALTER SYSTEM statement tdekey emits (19c syntax).
//!
//! Each statement renders two ways: the executable text (a [`Secret`], since it may carry
//! passwords) and a display text with every secret replaced by `<hidden>`, for the screen and
//! the audit log. Passwords and `user:password` go inside double quotes, where Oracle cannot
//! escape a `"`: such a secret (or one with a line break) is refused with a sentence. Tags and
//! paths go inside single quotes with `'` doubled.

use crate::secret::Secret;
use crate::tde::labels::MasterKeyId;

pub const HIDDEN: &str = "<hidden>";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SqlError {
    #[error(
        "The {what} contains a double quote (\"). Oracle cannot take one inside a quoted password, so tdekey will not build this statement; change the {what} first."
    )]
    DoubleQuote { what: &'static str },
    #[error("The {what} contains a line break, which cannot be part of the statement. Remove it.")]
    LineBreak { what: &'static str },
    #[error("The {what} is empty.")]
    Empty { what: &'static str },
    #[error(
        "The HSM user name {user:?} contains ':', which would be read as the end of the user name in user:password."
    )]
    ColonInUser { user: String },
    #[error(
        "{value:?} is not a keystore configuration: use FILE, HSM, HSM|FILE, FILE|HSM, OKV, OKV|FILE or FILE|OKV."
    )]
    BadConfiguration { value: String },
}

/// A rendered statement.
#[derive(Debug, Clone)]
pub struct Statement {
    /// What runs: may contain secrets.
    pub sql: Secret,
    /// What is shown and logged: every secret is `<hidden>`.
    pub display: String,
}

/// How the keystore is opened or a key operation authenticated.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A software keystore password.
    Password(Secret),
    /// The HSM crypto user: rendered `"user:password"`.
    Hsm { user: String, password: Secret },
    /// `IDENTIFIED BY EXTERNAL STORE` (the HSM_PASSWORD secret in WALLET_ROOT/tde_seps).
    ExternalStore,
}

/// Accumulates both renderings side by side.
struct Builder {
    sql: zeroize::Zeroizing<String>,
    display: String,
}

impl Builder {
    fn new() -> Self {
        Self {
            sql: zeroize::Zeroizing::new(String::with_capacity(256)),
            display: String::with_capacity(256),
        }
    }

    fn text(&mut self, s: &str) -> &mut Self {
        self.sql.push_str(s);
        self.display.push_str(s);
        self
    }

    fn secret_dq(&mut self, s: &str, what: &'static str) -> Result<&mut Self, SqlError> {
        check_secret(s, what)?;
        if s.contains('"') {
            return Err(SqlError::DoubleQuote { what });
        }
        self.sql.push('"');
        self.sql.push_str(s);
        self.sql.push('"');
        self.display.push('"');
        self.display.push_str(HIDDEN);
        self.display.push('"');
        Ok(self)
    }

    fn secret_sq(&mut self, s: &str, what: &'static str) -> Result<&mut Self, SqlError> {
        check_secret(s, what)?;
        self.sql.push('\'');
        self.sql.push_str(&s.replace('\'', "''"));
        self.sql.push('\'');
        self.display.push('\'');
        self.display.push_str(HIDDEN);
        self.display.push('\'');
        Ok(self)
    }

    fn literal(&mut self, s: &str, what: &'static str) -> Result<&mut Self, SqlError> {
        if s.contains(['\n', '\r']) {
            return Err(SqlError::LineBreak { what });
        }
        let q = format!("'{}'", s.replace('\'', "''"));
        Ok(self.text(&q))
    }

    fn credential(&mut self, c: &Credential) -> Result<&mut Self, SqlError> {
        match c {
            Credential::Password(p) => self.secret_dq(p.expose(), "keystore password"),
            Credential::Hsm { user, password } => {
                let joined = hsm_pin(user, password)?;
                self.secret_dq(joined.expose(), "HSM password")
            }
            Credential::ExternalStore => Ok(self.text("EXTERNAL STORE")),
        }
    }

    fn finish(&mut self) -> Statement {
        self.text(";");
        Statement {
            sql: Secret::new(std::mem::take(&mut *self.sql)),
            display: std::mem::take(&mut self.display),
        }
    }
}

fn check_secret(s: &str, what: &'static str) -> Result<(), SqlError> {
    if s.is_empty() {
        return Err(SqlError::Empty { what });
    }
    if s.contains(['\n', '\r', '\0']) {
        return Err(SqlError::LineBreak { what });
    }
    Ok(())
}

fn hsm_pin(user: &str, password: &Secret) -> Result<Secret, SqlError> {
    if user.is_empty() {
        return Err(SqlError::Empty {
            what: "HSM user name",
        });
    }
    if user.contains(':') {
        return Err(SqlError::ColonInUser {
            user: user.to_owned(),
        });
    }
    Ok(password.joined_with_user(user))
}

/// `TDE_CONFIGURATION`'s KEYSTORE_CONFIGURATION values.
pub const KEYSTORE_CONFIGURATIONS: &[&str] = &[
    "FILE", "HSM", "HSM|FILE", "FILE|HSM", "OKV", "OKV|FILE", "FILE|OKV",
];

/// Normalizes a KEYSTORE_CONFIGURATION value (case-insensitive).
pub fn keystore_configuration(v: &str) -> Result<&'static str, SqlError> {
    let up = v.trim().to_ascii_uppercase();
    KEYSTORE_CONFIGURATIONS
        .iter()
        .find(|c| **c == up)
        .copied()
        .ok_or_else(|| SqlError::BadConfiguration {
            value: v.to_owned(),
        })
}

/// TDE_CONFIGURATION's value for a KEYSTORE_CONFIGURATION, as SHOW PARAMETER prints it:
/// `KEYSTORE_CONFIGURATION=HSM|FILE`.
pub fn tde_configuration_value(keystore_configuration: &str) -> String {
    format!("KEYSTORE_CONFIGURATION={keystore_configuration}")
}

/// Options shared by several statements.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `WITH BACKUP`, optionally `USING '<tag>'`.
    pub backup: Option<Option<String>>,
    /// `CONTAINER = ALL` (from the root of a CDB).
    pub all_containers: bool,
}

impl Builder {
    fn options(&mut self, o: &Options) -> Result<&mut Self, SqlError> {
        if let Some(tag) = &o.backup {
            self.text(" WITH BACKUP");
            if let Some(t) = tag {
                self.text(" USING ");
                self.literal(t, "backup tag")?;
            }
        }
        if o.all_containers {
            self.text(" CONTAINER = ALL");
        }
        Ok(self)
    }
}

/// `ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY … [CONTAINER = ALL];`
pub fn open_keystore(c: &Credential, all_containers: bool) -> Result<Statement, SqlError> {
    let mut b = Builder::new();
    b.text("ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY ");
    b.credential(c)?;
    if all_containers {
        b.text(" CONTAINER = ALL");
    }
    Ok(b.finish())
}

/// `ADMINISTER KEY MANAGEMENT SET KEYSTORE CLOSE [IDENTIFIED BY …] [CONTAINER = ALL];`
pub fn close_keystore(c: Option<&Credential>, all_containers: bool) -> Result<Statement, SqlError> {
    let mut b = Builder::new();
    b.text("ADMINISTER KEY MANAGEMENT SET KEYSTORE CLOSE");
    if let Some(c) = c {
        b.text(" IDENTIFIED BY ");
        b.credential(c)?;
    }
    if all_containers {
        b.text(" CONTAINER = ALL");
    }
    Ok(b.finish())
}

/// File wallet → HSM:
/// `ADMINISTER KEY MANAGEMENT SET ENCRYPTION KEY IDENTIFIED BY "<cu>:<pw>" MIGRATE USING "<wallet pw>" [WITH BACKUP [USING '<tag>']];`
///
/// No `CONTAINER` clause: the `migrate_key` grammar of Oracle's SQL Reference (18c to 23ai)
/// has none (only create, set, open and close take one). In a united CDB it runs in the root.
pub fn migrate_to_hsm(
    hsm_user: &str,
    hsm_password: &Secret,
    wallet_password: &Secret,
    backup: Option<&Option<String>>,
) -> Result<Statement, SqlError> {
    let mut b = Builder::new();
    b.text("ADMINISTER KEY MANAGEMENT SET ENCRYPTION KEY IDENTIFIED BY ");
    b.credential(&Credential::Hsm {
        user: hsm_user.to_owned(),
        password: hsm_password.clone(),
    })?;
    b.text(" MIGRATE USING ");
    b.secret_dq(wallet_password.expose(), "wallet password")?;
    b.options(&Options {
        backup: backup.cloned(),
        all_containers: false,
    })?;
    Ok(b.finish())
}

/// HSM → file wallet:
/// `ADMINISTER KEY MANAGEMENT SET ENCRYPTION KEY IDENTIFIED BY "<wallet pw>" REVERSE MIGRATE USING "<cu>:<pw>" WITH BACKUP;`
/// With no `hsm_user` (an HSM that takes a password only, as some vendors' Oracle guides
/// write it): `USING "<pw>"`.
pub fn reverse_migrate(
    wallet_password: &Secret,
    hsm_user: Option<&str>,
    hsm_password: &Secret,
) -> Result<Statement, SqlError> {
    let mut b = Builder::new();
    b.text("ADMINISTER KEY MANAGEMENT SET ENCRYPTION KEY IDENTIFIED BY ");
    b.secret_dq(wallet_password.expose(), "wallet password")?;
    b.text(" REVERSE MIGRATE USING ");
    match hsm_user {
        Some(user) => b.credential(&Credential::Hsm {
            user: user.to_owned(),
            password: hsm_password.clone(),
        })?,
        None => b.secret_dq(hsm_password.expose(), "HSM password")?,
    };
    b.text(" WITH BACKUP");
    Ok(b.finish())
}

/// Rotation, Oracle generating the key:
/// `ADMINISTER KEY MANAGEMENT SET KEY [USING TAG '<tag>'] IDENTIFIED BY … [WITH BACKUP [USING '<tag>']] [CONTAINER = ALL];`
pub fn set_key(tag: Option<&str>, c: &Credential, o: &Options) -> Result<Statement, SqlError> {
    let mut b = Builder::new();
    b.text("ADMINISTER KEY MANAGEMENT SET KEY");
    if let Some(t) = tag {
        b.text(" USING TAG ");
        b.literal(t, "key tag")?;
    }
    b.text(" IDENTIFIED BY ");
    b.credential(c)?;
    b.options(o)?;
    Ok(b.finish())
}

/// Rotation to a key made on the HSM first:
/// `ADMINISTER KEY MANAGEMENT USE KEY '<34 hex>' [USING TAG '<tag>'] FORCE KEYSTORE IDENTIFIED BY …;`
pub fn use_key(id: &MasterKeyId, tag: Option<&str>, c: &Credential) -> Result<Statement, SqlError> {
    let mut b = Builder::new();
    b.text("ADMINISTER KEY MANAGEMENT USE KEY ");
    b.literal(&id.use_key_id(), "key id")?;
    if let Some(t) = tag {
        b.text(" USING TAG ");
        b.literal(t, "key tag")?;
    }
    b.text(" FORCE KEYSTORE IDENTIFIED BY ");
    b.credential(c)?;
    Ok(b.finish())
}

/// `ADMINISTER KEY MANAGEMENT CREATE KEYSTORE ['<dir>'] IDENTIFIED BY "<pw>";` (no directory:
/// Oracle uses WALLET_ROOT/tde).
pub fn create_keystore(dir: Option<&str>, password: &Secret) -> Result<Statement, SqlError> {
    let mut b = Builder::new();
    b.text("ADMINISTER KEY MANAGEMENT CREATE KEYSTORE ");
    if let Some(d) = dir {
        b.literal(d, "keystore directory")?;
        b.text(" ");
    }
    b.text("IDENTIFIED BY ");
    b.secret_dq(password.expose(), "keystore password")?;
    Ok(b.finish())
}

/// HSM auto-login, first statement: the HSM credential kept as the secret `HSM_PASSWORD` in
/// the *software* keystore (WALLET_ROOT/tde), which is then made auto-login:
/// `ADMINISTER KEY MANAGEMENT ADD SECRET '<cu>:<pw>' FOR CLIENT 'HSM_PASSWORD' [FORCE KEYSTORE] IDENTIFIED BY "<wallet pw>" WITH BACKUP [USING '<tag>'];`
/// (AWS's procedure for Oracle 19c and the HSM vendors' guides: Utimaco, Thales, Entrust).
pub fn add_hsm_secret(
    hsm_user: &str,
    hsm_password: &Secret,
    wallet_password: &Secret,
    force: bool,
    backup_tag: Option<&str>,
) -> Result<Statement, SqlError> {
    let joined = hsm_pin(hsm_user, hsm_password)?;
    let mut b = Builder::new();
    b.text("ADMINISTER KEY MANAGEMENT ADD SECRET ");
    b.secret_sq(joined.expose(), "HSM password")?;
    b.text(" FOR CLIENT 'HSM_PASSWORD'");
    if force {
        b.text(" FORCE KEYSTORE");
    }
    b.text(" IDENTIFIED BY ");
    b.secret_dq(wallet_password.expose(), "keystore password")?;
    b.text(" WITH BACKUP");
    if let Some(t) = backup_tag {
        b.text(" USING ");
        b.literal(t, "backup tag")?;
    }
    Ok(b.finish())
}

/// The external store (not auto-login): `ADMINISTER KEY MANAGEMENT ADD SECRET '<cu>:<pw>' FOR
/// CLIENT 'HSM_PASSWORD' TO [LOCAL] AUTO_LOGIN KEYSTORE '<WALLET_ROOT>/tde_seps';` lets later
/// statements say `IDENTIFIED BY EXTERNAL STORE` instead of the password. It opens nothing by
/// itself at start-up.
pub fn add_external_store_secret(
    hsm_user: &str,
    hsm_password: &Secret,
    seps_dir: &str,
    local: bool,
) -> Result<Statement, SqlError> {
    let joined = hsm_pin(hsm_user, hsm_password)?;
    let mut b = Builder::new();
    b.text("ADMINISTER KEY MANAGEMENT ADD SECRET ");
    b.secret_sq(joined.expose(), "HSM password")?;
    b.text(" FOR CLIENT 'HSM_PASSWORD' TO ");
    if local {
        b.text("LOCAL ");
    }
    b.text("AUTO_LOGIN KEYSTORE ");
    b.literal(seps_dir, "keystore directory")?;
    Ok(b.finish())
}

/// `ADMINISTER KEY MANAGEMENT CREATE [LOCAL] AUTO_LOGIN KEYSTORE FROM KEYSTORE '<dir>' IDENTIFIED BY "<pw>";`
pub fn create_auto_login(dir: &str, password: &Secret, local: bool) -> Result<Statement, SqlError> {
    let mut b = Builder::new();
    b.text("ADMINISTER KEY MANAGEMENT CREATE ");
    if local {
        b.text("LOCAL ");
    }
    b.text("AUTO_LOGIN KEYSTORE FROM KEYSTORE ");
    b.literal(dir, "keystore directory")?;
    b.text(" IDENTIFIED BY ");
    b.secret_dq(password.expose(), "keystore password")?;
    Ok(b.finish())
}

/// `ADMINISTER KEY MANAGEMENT BACKUP KEYSTORE [USING '<tag>'] [FORCE KEYSTORE] IDENTIFIED BY … [TO '<dir>'];`
pub fn backup_keystore(
    tag: Option<&str>,
    force: bool,
    c: &Credential,
    to: Option<&str>,
) -> Result<Statement, SqlError> {
    let mut b = Builder::new();
    b.text("ADMINISTER KEY MANAGEMENT BACKUP KEYSTORE");
    if let Some(t) = tag {
        b.text(" USING ");
        b.literal(t, "backup tag")?;
    }
    if force {
        b.text(" FORCE KEYSTORE");
    }
    b.text(" IDENTIFIED BY ");
    b.credential(c)?;
    if let Some(d) = to {
        b.text(" TO ");
        b.literal(d, "backup directory")?;
    }
    Ok(b.finish())
}

/// `ALTER SYSTEM SET WALLET_ROOT='<dir>' SCOPE=SPFILE [SID='*'];` (a static parameter: restart).
pub fn set_wallet_root(dir: &str, all_instances: bool) -> Result<Statement, SqlError> {
    let mut b = Builder::new();
    b.text("ALTER SYSTEM SET WALLET_ROOT=");
    b.literal(dir, "WALLET_ROOT")?;
    b.text(" SCOPE=SPFILE");
    if all_instances {
        b.text(" SID='*'");
    }
    Ok(b.finish())
}

/// `ALTER SYSTEM SET TDE_CONFIGURATION="KEYSTORE_CONFIGURATION=<v>" SCOPE=BOTH [SID='*'];`
pub fn set_tde_configuration(value: &str, all_instances: bool) -> Result<Statement, SqlError> {
    let v = keystore_configuration(value)?;
    let mut b = Builder::new();
    b.text(&format!(
        "ALTER SYSTEM SET TDE_CONFIGURATION=\"{}\" SCOPE=BOTH",
        tde_configuration_value(v)
    ));
    if all_instances {
        b.text(" SID='*'");
    }
    Ok(b.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Secret {
        Secret::from(x)
    }

    fn hsm(pw: &str) -> Credential {
        Credential::Hsm {
            user: "cu_oracle".into(),
            password: s(pw),
        }
    }

    #[test]
    fn migrate_renders_exactly_and_hides_both_secrets() {
        let st = migrate_to_hsm(
            "cu_oracle",
            &s("HsmPw1"),
            &s("WalletPw2"),
            Some(&Some("pre-migration".into())),
        )
        .unwrap();
        // No CONTAINER clause: the migrate_key grammar has none.
        assert_eq!(
            st.sql.expose(),
            r#"ADMINISTER KEY MANAGEMENT SET ENCRYPTION KEY IDENTIFIED BY "cu_oracle:HsmPw1" MIGRATE USING "WalletPw2" WITH BACKUP USING 'pre-migration';"#
        );
        assert_eq!(
            st.display,
            r#"ADMINISTER KEY MANAGEMENT SET ENCRYPTION KEY IDENTIFIED BY "<hidden>" MIGRATE USING "<hidden>" WITH BACKUP USING 'pre-migration';"#
        );
        assert!(!st.display.contains("HsmPw1") && !st.display.contains("WalletPw2"));
        assert!(
            !format!("{st:?}").contains("HsmPw1"),
            "Debug hides the executable text"
        );
    }

    #[test]
    fn every_statement_of_the_reference() {
        let id = MasterKeyId([0x15; 16]);
        let cases: Vec<(Statement, &str)> = vec![
            (
                open_keystore(&hsm("p"), false).unwrap(),
                r#"ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY "cu_oracle:p";"#,
            ),
            (
                open_keystore(&Credential::Password(s("w")), true).unwrap(),
                r#"ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY "w" CONTAINER = ALL;"#,
            ),
            (
                open_keystore(&Credential::ExternalStore, false).unwrap(),
                "ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY EXTERNAL STORE;",
            ),
            (
                close_keystore(None, false).unwrap(),
                "ADMINISTER KEY MANAGEMENT SET KEYSTORE CLOSE;",
            ),
            (
                close_keystore(Some(&Credential::Password(s("w"))), true).unwrap(),
                r#"ADMINISTER KEY MANAGEMENT SET KEYSTORE CLOSE IDENTIFIED BY "w" CONTAINER = ALL;"#,
            ),
            (
                reverse_migrate(&s("w"), Some("cu_oracle"), &s("p")).unwrap(),
                r#"ADMINISTER KEY MANAGEMENT SET ENCRYPTION KEY IDENTIFIED BY "w" REVERSE MIGRATE USING "cu_oracle:p" WITH BACKUP;"#,
            ),
            (
                // An HSM that takes a password only: no `user:` part.
                reverse_migrate(&s("w"), None, &s("luna-partition-pw")).unwrap(),
                r#"ADMINISTER KEY MANAGEMENT SET ENCRYPTION KEY IDENTIFIED BY "w" REVERSE MIGRATE USING "luna-partition-pw" WITH BACKUP;"#,
            ),
            (
                set_key(Some("q4 rotation"), &hsm("p"), &Options::default()).unwrap(),
                r#"ADMINISTER KEY MANAGEMENT SET KEY USING TAG 'q4 rotation' IDENTIFIED BY "cu_oracle:p";"#,
            ),
            (
                set_key(
                    None,
                    &hsm("p"),
                    &Options {
                        backup: Some(None),
                        all_containers: true,
                    },
                )
                .unwrap(),
                r#"ADMINISTER KEY MANAGEMENT SET KEY IDENTIFIED BY "cu_oracle:p" WITH BACKUP CONTAINER = ALL;"#,
            ),
            (
                use_key(&id, Some("t"), &hsm("p")).unwrap(),
                r#"ADMINISTER KEY MANAGEMENT USE KEY '0615151515151515151515151515151515' USING TAG 't' FORCE KEYSTORE IDENTIFIED BY "cu_oracle:p";"#,
            ),
            (
                create_keystore(None, &s("w")).unwrap(),
                r#"ADMINISTER KEY MANAGEMENT CREATE KEYSTORE IDENTIFIED BY "w";"#,
            ),
            (
                create_keystore(Some("/u01/wallet/tde"), &s("w")).unwrap(),
                r#"ADMINISTER KEY MANAGEMENT CREATE KEYSTORE '/u01/wallet/tde' IDENTIFIED BY "w";"#,
            ),
            (
                add_hsm_secret("cu_oracle", &s("p"), &s("w"), false, None).unwrap(),
                r#"ADMINISTER KEY MANAGEMENT ADD SECRET 'cu_oracle:p' FOR CLIENT 'HSM_PASSWORD' IDENTIFIED BY "w" WITH BACKUP;"#,
            ),
            (
                add_hsm_secret("cu_oracle", &s("p"), &s("w"), true, Some("hsm_pw")).unwrap(),
                r#"ADMINISTER KEY MANAGEMENT ADD SECRET 'cu_oracle:p' FOR CLIENT 'HSM_PASSWORD' FORCE KEYSTORE IDENTIFIED BY "w" WITH BACKUP USING 'hsm_pw';"#,
            ),
            (
                add_external_store_secret("cu_oracle", &s("p"), "/u01/wallet/tde_seps", false)
                    .unwrap(),
                "ADMINISTER KEY MANAGEMENT ADD SECRET 'cu_oracle:p' FOR CLIENT 'HSM_PASSWORD' TO AUTO_LOGIN KEYSTORE '/u01/wallet/tde_seps';",
            ),
            (
                add_external_store_secret("cu_oracle", &s("p"), "/w/tde_seps", true).unwrap(),
                "ADMINISTER KEY MANAGEMENT ADD SECRET 'cu_oracle:p' FOR CLIENT 'HSM_PASSWORD' TO LOCAL AUTO_LOGIN KEYSTORE '/w/tde_seps';",
            ),
            (
                create_auto_login("/w/tde_seps", &s("w"), true).unwrap(),
                r#"ADMINISTER KEY MANAGEMENT CREATE LOCAL AUTO_LOGIN KEYSTORE FROM KEYSTORE '/w/tde_seps' IDENTIFIED BY "w";"#,
            ),
            (
                backup_keystore(
                    Some("b1"),
                    true,
                    &Credential::Password(s("w")),
                    Some("/backup"),
                )
                .unwrap(),
                r#"ADMINISTER KEY MANAGEMENT BACKUP KEYSTORE USING 'b1' FORCE KEYSTORE IDENTIFIED BY "w" TO '/backup';"#,
            ),
            (
                set_wallet_root("/u01/app/oracle/admin/ORCL/wallet", true).unwrap(),
                "ALTER SYSTEM SET WALLET_ROOT='/u01/app/oracle/admin/ORCL/wallet' SCOPE=SPFILE SID='*';",
            ),
            (
                set_tde_configuration("hsm|file", true).unwrap(),
                r#"ALTER SYSTEM SET TDE_CONFIGURATION="KEYSTORE_CONFIGURATION=HSM|FILE" SCOPE=BOTH SID='*';"#,
            ),
        ];
        for (st, want) in cases {
            assert_eq!(st.sql.expose(), want);
            assert!(
                !st.display.contains(":p\"") && !st.display.contains("\"w\""),
                "{}",
                st.display
            );
        }
    }

    #[test]
    fn quoting_refuses_what_oracle_cannot_take() {
        let e = open_keystore(&Credential::Password(s("pa\"ss")), false).unwrap_err();
        assert_eq!(
            e,
            SqlError::DoubleQuote {
                what: "keystore password"
            }
        );
        assert!(e.to_string().contains("double quote"));
        assert!(
            !e.to_string().contains("pa\"ss"),
            "the message never repeats the secret"
        );
        assert!(matches!(
            open_keystore(&hsm("a\nb"), false),
            Err(SqlError::LineBreak { .. })
        ));
        assert!(matches!(
            open_keystore(&Credential::Password(s("")), false),
            Err(SqlError::Empty { .. })
        ));
        let bad_user = Credential::Hsm {
            user: "a:b".into(),
            password: s("p"),
        };
        assert!(matches!(
            open_keystore(&bad_user, false),
            Err(SqlError::ColonInUser { .. })
        ));
        // Single quotes in tags, paths and the single-quoted secret are doubled.
        let st = set_key(Some("it's"), &hsm("p"), &Options::default()).unwrap();
        assert!(st.sql.expose().contains("USING TAG 'it''s'"));
        let st = add_external_store_secret("cu", &s("o'k\"x"), "/w'x", false).unwrap();
        assert!(
            st.sql
                .expose()
                .starts_with("ADMINISTER KEY MANAGEMENT ADD SECRET 'cu:o''k\"x'")
        );
        assert!(st.sql.expose().ends_with("KEYSTORE '/w''x';"));
        assert!(matches!(
            set_key(Some("a\nb"), &hsm("p"), &Options::default()),
            Err(SqlError::LineBreak { .. })
        ));
        assert!(matches!(
            set_tde_configuration("HSM,FILE", false),
            Err(SqlError::BadConfiguration { .. })
        ));
    }
}
