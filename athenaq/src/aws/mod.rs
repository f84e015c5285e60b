//! The AWS reads athenaq makes, one file per service.
//!
//! - [`athena`]: running a query on Athena and fetching its results.
//! - `glue`: the Glue tables of the environment's databases and their partitions.
//! - [`s3`]: what S3 holds for an export (listing with restore states, HEAD, ranged reads) and
//!   its summaries.

pub mod athena;
pub(crate) mod glue;
pub mod s3;
