//! athenaq: list, audit and query RDS snapshot exports — on Athena, or locally with no AWS.

// First, so that its `println!`/`eprintln!` (which never panic on a closed pipe) are the ones
// every module below uses.
#[macro_use]
pub mod output;
pub mod athena;
pub mod commands;
pub mod cost;
pub mod evidence;
pub mod exports;
pub mod glue;
pub mod in_place;
pub mod known_objects;
pub mod layout;
pub mod local;
pub mod metadata_cache;
pub mod missing;
pub mod objects;
pub mod prices;
pub mod progress;
pub mod pull;
pub mod rehydrate;
pub mod restore;
pub mod runtime;
pub mod shell;
pub mod text_decimal;
pub mod tiers;
pub mod user_dirs;
pub mod verify;
