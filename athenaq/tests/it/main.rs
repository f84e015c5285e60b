//! athenaq's integration tests: one binary (one link of DataFusion and the SDKs), a module
//! per area, as uv's `crates/uv/tests/it` and ripgrep's `tests/tests.rs` do.

mod athena_mocks;
mod cli;
mod damaged_exports;
mod documented_examples;
mod evidence_moto;
mod hostile_s3;
mod local_queries;
mod metadata_cache;
mod moto;
mod rehydrate_mysql;
mod rehydrate_postgres;
mod rehydrating;
mod s3_mocks;
mod shell;
mod support;
mod verify_restore;
