//! Plain types shared by every layer: profiles, connector kinds, PIN formats, token selectors,
//! the objects an inventory lists, and the program's clock. No I/O, no adapter, no workflow.

mod clock;
mod database;
mod hsm;
mod object;
mod retry;
mod text;

pub use clock::now_ms;
pub use database::{
    ConnectAs, ConnectorKind, DatabaseProfile, DbAuth, Multitenant, Standby, same_host,
    valid_host_name,
};
pub use hsm::{HsmProfile, OpenToken, PinFormat, TokenSelector};
pub use object::{ObjectFlags, ObjectInfo, bool_text};
pub use retry::Retry;
pub use text::{
    MAX_NAME_CHARS, MAX_PASTE_BYTES, NameError, PasteTooLarge, admit_paste, check_name, file_stem,
    printable,
};
