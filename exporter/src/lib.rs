//! The exporter: RDS snapshot events in, one S3 export task per snapshot out; export-completed
//! events in, Glue tables and partitions out.
//!
//! - [`batch`]: the generic runner both Lambda functions share (records in, partial batch
//!   response out), over [`event`] (Lambda events to RDS events) and [`decision`].
//! - [`export`]: the exporting function's flow, its rules and its retry timing.
//! - [`catalogue`]: the cataloguing function's flow, S3 reads, Glue writes, Parquet -> Glue types.
//! - [`aws`]: the AWS calls behind one trait, and their SDK implementation.
//! - [`poll`]: a local stand-in for Lambda's SQS event source mapping.

pub mod aws;
pub mod batch;
pub mod catalogue;
pub mod decision;
pub mod event;
pub mod event_kind;
pub mod export;
pub mod poll;

pub use batch::{Handled, Settings, handle_with};
pub use decision::{Decision, Outcome};
pub use export::handle;
