//! The exporter's integration tests: one binary, a module per area (fixtures stay in
//! `tests/fixtures/`).

mod catalogue_crawler;
mod catalogue_moto;
mod cli;
mod documented_examples;
mod event_mutations;
mod events;
mod handler_mocks;
mod moto;
mod pending_mocks;
