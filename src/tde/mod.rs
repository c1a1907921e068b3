//! Pure Oracle TDE knowledge: no I/O. The names Oracle gives the objects it keeps on an HSM
//! (see reference/oracle-tde.md, "Key identifiers and labels"), the statements tdekey emits and
//! the SQL*Plus script that carries them, what Oracle prints (its views, parameters, feedback
//! and ORA- errors) both ways: parsed and rendered.

pub mod labels;
pub mod layout;
pub mod ora;
pub mod output;
pub mod privileges;
pub mod render;
pub mod request;
pub mod sql;
pub mod sqlnet;
pub mod sqlplus;
pub mod views;
