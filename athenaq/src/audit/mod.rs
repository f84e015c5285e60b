//! What an auditor reads: plain data first, then rows.
//!
//! - [`exports`]: `list-exports` rows, with where each export's data lives today.
//! - `lifecycle`: exports the lifecycle has archived by now, warned about before a query.
//! - `missing`: `list-exports --missing`, the snapshots without an export.
//! - `evidence`: one row per manifest of a database's chain.
//! - `cost`: the export charge and the monthly storage, per database.
//! - `prices`: every price athenaq estimates with.
//! - [`verify`]: the evidence that one export is whole, one row per check.

pub(crate) mod cost;
pub(crate) mod evidence;
pub mod exports;
pub(crate) mod lifecycle;
pub(crate) mod missing;
pub(crate) mod prices;
pub mod verify;
