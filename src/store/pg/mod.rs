//! The shared store on PostgreSQL (issue #21): its schema; the connection and the executor
//! come with the rest of the issue.

pub mod schema;
