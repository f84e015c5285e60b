//! The cataloguing function: export-completed events in, Glue tables and partitions out.

pub mod cataloguer;
pub mod evidence;
pub mod flow;
pub mod glue_writes;
pub mod parquet_to_glue;
pub mod plan;
pub mod s3_reads;

pub use cataloguer::{Cataloguer, Report};
pub use flow::Cataloguing;
