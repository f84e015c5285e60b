//! The testkit crate's integration tests: one binary, a module per area.

mod databases;
mod gen_export;
