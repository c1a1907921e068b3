//! PostgreSQL as the team's shared store (`--store postgresql://…`, `TDEKEY_STORE`): where it
//! is, which password and which TLS to use, and one connection made the way every connection
//! of the store is made. What the `postgres` crate does not do itself (libpq's `sslmode`
//! values past `require`, `sslrootcert`, `PGPASSWORD`, `~/.pgpass`) is done here.
//!
//! - [`PgTarget::parse`] takes the URL apart (a password in it is refused), finds the password
//!   and plans TLS; [`PgTarget::connect`] opens a `postgres::Client`.
//! - [`PgError`] says in one sentence what went wrong and what to do; [`classify`] maps the
//!   crate's errors, from connecting or from queries.
//! - [`schema`] makes and migrates tdekey's schema on PostgreSQL.

mod errors;
mod location;
mod pgpass;
pub mod schema;
mod tls;
mod tls_stream;
mod url;

pub use errors::{PgError, classify};
pub use location::{Env, PgTarget, process_env};
pub use pgpass::PasswordFrom;
pub use tls::{Check, RootCert, SslMode};
pub use url::PgHost;
