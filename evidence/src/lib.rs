//! The evidence that an export is what RDS wrote, and stays so: a manifest per export (every
//! object's version and S3 checksum, each table's rows and columns, what RDS left out), chained
//! by SHA-256 to the database's previous manifest ([`record`], [`chain`]); a seal with S3
//! Object Lock ([`seal`]); and what a new manifest says against the previous one
//! ([`completeness`]). Written by the cataloguing function (and `exporter evidence --backfill`),
//! checked by `athenaq verify` and `athenaq evidence` without downloading any data.

pub mod chain;
pub mod completeness;
pub mod manifest;
pub mod record;
pub mod s3;
pub mod seal;
pub mod text;

pub use manifest::{Manifest, sha256_hex};
pub use record::{EvidenceError, ExportFacts, Recorded, collect, record};
pub use seal::{SealReport, Sealed, seal};
