//! HSM connection profiles and how a token and a PIN are chosen.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// How the crypto user's credentials become the PIN given to `C_Login`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PinFormat {
    /// AWS CloudHSM: `<crypto user>:<password>`.
    CloudHsm,
    /// The password alone (SoftHSM2 and most HSMs); the user name is recorded, not sent.
    Plain,
}

impl PinFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            PinFormat::CloudHsm => "cloudhsm",
            PinFormat::Plain => "plain",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "cloudhsm" => Some(PinFormat::CloudHsm),
            "plain" => Some(PinFormat::Plain),
            _ => None,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            PinFormat::CloudHsm => "CloudHSM (user:password)",
            PinFormat::Plain => "Plain PIN",
        }
    }

    /// The format that suits a module path.
    pub fn guess(module: &Path) -> Self {
        if module.to_string_lossy().contains("cloudhsm") {
            PinFormat::CloudHsm
        } else {
            PinFormat::Plain
        }
    }
}

/// Which token to use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenSelector {
    Label(String),
    Slot(u64),
    /// The only token present; an error when there are several.
    Only,
}

impl TokenSelector {
    /// How audit entries and messages name the token before it is found.
    pub fn describe(&self) -> String {
        match self {
            TokenSelector::Label(l) => l.clone(),
            TokenSelector::Slot(s) => format!("slot {s}"),
            TokenSelector::Only => "the only token".to_owned(),
        }
    }
}

/// An open token: the slot and its label.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OpenToken {
    pub slot_id: u64,
    pub label: String,
}

/// An HSM connection profile: module, token, crypto user, PIN format. Never a password.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HsmProfile {
    /// `None` until saved.
    pub id: Option<i64>,
    pub name: String,
    pub module_path: PathBuf,
    pub token_label: Option<String>,
    pub slot_id: Option<u64>,
    pub user_name: String,
    pub pin_format: PinFormat,
}

impl HsmProfile {
    /// The token this profile names: by label, else by slot, else the only one.
    pub fn selector(&self) -> TokenSelector {
        match (&self.token_label, self.slot_id) {
            (Some(l), _) => TokenSelector::Label(l.clone()),
            (None, Some(s)) => TokenSelector::Slot(s),
            (None, None) => TokenSelector::Only,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_selects_its_token_by_label_then_slot() {
        let mut p = HsmProfile {
            id: None,
            name: "p".into(),
            module_path: "/m.so".into(),
            token_label: Some("t".into()),
            slot_id: Some(3),
            user_name: String::new(),
            pin_format: PinFormat::Plain,
        };
        assert_eq!(p.selector(), TokenSelector::Label("t".into()));
        p.token_label = None;
        assert_eq!(p.selector(), TokenSelector::Slot(3));
        p.slot_id = None;
        assert_eq!(p.selector(), TokenSelector::Only);
    }
}
