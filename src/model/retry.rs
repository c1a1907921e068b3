//! Whether trying again can help: every workflow error says so, so that the window, the
//! migration wizard and the rotation runner can choose between retry, reconnect, fix and stop.

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Retry {
    /// The same action again may succeed (a busy database, a throttled HSM, a timeout before
    /// anything changed).
    Yes,
    /// Reconnect to the HSM first: the session went away.
    AfterReconnect,
    /// Not as it is: the input, the configuration or the environment must change first.
    AfterFix,
    /// The action may have partly happened: check the state before trying again.
    CheckFirst,
}

impl Retry {
    /// A sentence for the end of an error message.
    pub fn advice(self) -> &'static str {
        match self {
            Retry::Yes => "Trying again may work.",
            Retry::AfterReconnect => "Reconnect to the HSM, then try again.",
            Retry::AfterFix => "Trying again as it is will fail the same way.",
            Retry::CheckFirst => "Check what happened before trying again.",
        }
    }
}
