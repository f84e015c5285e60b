//! The infra crate's integration tests: one binary, a module per area.

mod deploy_moto;
mod templates;
