//! The demo: its SoftHSM2 token (also used for test and benchmark tokens), its demo values, and
//! what it puts on the token. Everything here goes through the real PKCS#11 module.

use super::{Hsm, HsmError, KeyTemplate, module::SOFTHSM_MODULES};
use crate::model::{PinFormat, TokenSelector};
use crate::secret::Secret;
use crate::tde::labels::{MasterKeyId, SUPPORTED_IDEN, hsm_key_id, key_metadata_label};
use std::path::{Path, PathBuf};

/// Label of the demo token `make run` creates.
pub const DEMO_TOKEN_LABEL: &str = "tdekey-demo";
/// The demo token's crypto-user PIN. A demo value, shown as such in the UI: never a real PIN.
pub const DEMO_USER_PIN: &str = "demo-pin-1234";
/// The demo token's security-officer PIN (demo value).
pub const DEMO_SO_PIN: &str = "demo-so-pin-5678";
/// User name recorded for the demo token (SoftHSM2 takes a plain PIN; the name is for the log).
pub const DEMO_USER: &str = "demo_cu";
/// Name of the demo connection profile.
/// The Rehearsal database `make run` creates on the demo token.
pub const DEMO_DATABASE_NAME: &str = "Rehearsal demo";
/// Its file wallet's password: a demo value, shown as such.
pub const DEMO_WALLET_PASSWORD: &str = "demo-wallet-1234";
/// Its simulated WALLET_ROOT.
pub const DEMO_WALLET_ROOT: &str = "/u01/app/oracle/admin/REHEARSAL/wallet";
pub const DEMO_PROFILE_NAME: &str = "Demo token (SoftHSM2)";

/// The first SoftHSM2 library found on this machine.
pub fn softhsm_module() -> Option<PathBuf> {
    SOFTHSM_MODULES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// Writes a SoftHSM2 configuration whose token directory is `dir/tokens`. Returns the path of
/// the configuration file.
pub fn write_softhsm_conf(dir: &Path) -> std::io::Result<PathBuf> {
    crate::paths::create_private_dir(dir)?;
    let tokens = dir.join("tokens");
    crate::paths::create_private_dir(&tokens)?;
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "# Written by tdekey for its demo and test tokens.\n\
             directories.tokendir = {}\n\
             objectstore.backend = file\n\
             log.level = ERROR\n\
             slots.removable = false\n",
            tokens.display()
        ),
    )?;
    Ok(conf)
}

/// One object the demo puts on its token.
#[derive(Clone, Debug)]
pub struct DemoObject {
    pub label: String,
    pub what: &'static str,
    pub key: Option<KeyTemplate>,
}

/// What the demo token holds: what Oracle leaves on an HSM after a migration (a master key, its
/// metadata object, the keystore marker), plus a second master key made the way cloudhsm-cli
/// makes keys by default (extractable), so the health check has something to show.
pub fn demo_objects(first: MasterKeyId, second: MasterKeyId) -> Vec<DemoObject> {
    vec![
        DemoObject {
            label: first.hsm_label(),
            what: "TDE master key as Oracle generates it",
            key: Some(KeyTemplate::ORACLE_MASTER_KEY),
        },
        DemoObject {
            label: key_metadata_label(&hsm_key_id(&first)),
            what: "Oracle key metadata for that master key",
            key: None,
        },
        DemoObject {
            label: SUPPORTED_IDEN.to_owned(),
            what: "Oracle keystore marker",
            key: None,
        },
        DemoObject {
            label: second.hsm_label(),
            what: "TDE master key made with cloudhsm-cli defaults (extractable: flagged)",
            key: Some(KeyTemplate::CLOUDHSM_CLI_DEFAULT),
        },
    ]
}

/// Settings for a demo or test token.
pub struct TokenSpec<'a> {
    pub label: &'a str,
    pub so_pin: Secret,
    pub user_pin: Secret,
}

impl TokenSpec<'_> {
    pub fn demo() -> TokenSpec<'static> {
        TokenSpec {
            label: DEMO_TOKEN_LABEL,
            so_pin: Secret::from(DEMO_SO_PIN),
            user_pin: Secret::from(DEMO_USER_PIN),
        }
    }
}

/// Creates a SoftHSM2 token and logs the user in on it; the caller adds objects.
/// `SOFTHSM2_CONF` must already point at the configuration to use.
pub fn create_softhsm_token(spec: &TokenSpec<'_>) -> Result<Hsm, HsmError> {
    let module = softhsm_module().ok_or_else(|| HsmError::ModuleNotFound {
        path: PathBuf::from(SOFTHSM_MODULES[0]),
    })?;
    let mut hsm = Hsm::load(&module)?;
    hsm.init_token(spec.label, &spec.so_pin, &spec.user_pin)?;
    hsm.open(&TokenSelector::Label(spec.label.to_owned()))?;
    hsm.login("", &spec.user_pin, PinFormat::Plain)?;
    Ok(hsm)
}
