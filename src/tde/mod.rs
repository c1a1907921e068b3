//! Pure Oracle TDE knowledge: no I/O. This slice holds the names Oracle gives the objects it
//! keeps on an HSM (see reference/oracle-tde.md, "Key identifiers and labels").

pub mod labels;
pub mod output;
pub mod request;
pub mod sql;
pub mod sqlnet;
pub mod sqlplus;
