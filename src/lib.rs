//! tdekey: a desktop assistant for Oracle TDE master keys kept in a PKCS#11 HSM.
//!
//! Layers (see DESIGN.md; `tests/tidy.rs` checks them), top to bottom:
//! - front ends: `ui` (egui/eframe, through the `engine`) and `cli` (clap, calling workflows);
//! - `engine`: the window's threads; each command is one workflow call and one event back;
//! - workflows, one function per use case, each recorded in the audit log: `session` (connect,
//!   login, inventory, HSM profiles, the demo token), `databases` (profiles, statements through
//!   a connector, wallet reads), `audit` (the log: chain, checkpoints, reading, exports);
//! - adapters, each talking to one outside thing: `hsm` (cryptoki), `oracle` (connectors,
//!   sqlplus processes), `store` (rusqlite), `wallet` (wallet files);
//! - pure knowledge and plain types: `tde` (every Oracle string, both ways), `inventory` (what
//!   an object on a token is and what is wrong with it), `model`, `secret`, `paths`.

pub mod audit;
pub mod cli;
pub mod databases;
pub mod engine;
pub mod faults;
pub mod hsm;
pub mod inventory;
pub mod migration;
pub mod model;
pub mod oracle;
pub mod paths;
pub mod recover;
pub mod rotation;
pub mod secret;
pub mod session;
pub mod store;
pub mod tde;
pub mod ui;
pub mod wallet;

/// The version written into audit entries and exports.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
