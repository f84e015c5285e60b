//! athenaq: list, audit and query RDS snapshot exports — on Athena, or locally with no AWS.
//!
//! - [`commands`]: one module per subcommand, its clap arguments and `run()`.
//! - [`source`]: where exports are read from, a folder or `s3://bucket/prefix` in place.
//! - [`engine`]: DataFusion over what a source found, under the Glue names.
//! - [`aws`]: the AWS reads athenaq makes, one file per service.
//! - [`audit`]: what an auditor reads: list-exports, lifecycle, missing, evidence, cost, verify.
//! - [`archive`]: bringing an export back: restore and pull.
//! - [`shell`]: the interactive prompt.
//! - `rehydrate`: an export loaded back into a database.
//! - [`output`], `progress`, [`runtime`], `user_dirs`: rows and their renderings, progress
//!   bars, the runtime, XDG folders.

// First, so that its `println!`/`eprintln!` (which never panic on a closed pipe) are the ones
// every module below uses.
#[macro_use]
pub mod output;
pub mod archive;
pub mod audit;
pub mod aws;
pub mod commands;
pub mod engine;
pub(crate) mod progress;
pub(crate) mod rehydrate;
pub mod runtime;
pub mod shell;
pub mod source;
pub(crate) mod user_dirs;
