//! tdekey: a desktop assistant for Oracle TDE master keys kept in a PKCS#11 HSM.
//!
//! Layers (see DESIGN.md): front ends (`ui`, `cli`) talk to the `engine` and the workflows
//! (`inventory`, `audit`); the adapters (`hsm`, `store`) are the only places that name
//! cryptoki and rusqlite; `tde` is pure Oracle knowledge; `secret` holds zeroizing types.

pub mod audit;
pub mod cli;
pub mod databases;
pub mod engine;
pub mod hsm;
pub mod inventory;
pub mod model;
pub mod oracle;
pub mod paths;
pub mod secret;
pub mod session;
pub mod store;
pub mod tde;
pub mod ui;
pub mod wallet;

/// The version written into audit entries and exports.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
