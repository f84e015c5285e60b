//! Bringing an export back.
//!
//! - [`restore`]: restoring archived objects from Glacier Flexible Retrieval or Deep Archive.
//! - `pull`: downloading an export into the folder layout `query --local` reads.

pub(crate) mod pull;
pub mod restore;
