//! Puts an RDS snapshot export back into a real database: PostgreSQL for exports of
//! PostgreSQL, MySQL or MariaDB for exports of MySQL and MariaDB. Tables are created with the
//! original types from the export's metadata ([`schema`]), rows are streamed from Arrow record
//! batches into the engine's bulk path as text its input functions read back exactly
//! ([`encode`]), and each table's count is proven against what the export says it holds
//! before its transaction commits ([`load`]).

pub mod encode;
pub mod load;
pub mod mysql;
pub mod postgres;
pub mod schema;
pub mod target;

pub use load::{Options, Provenance, Status, TableJob, TableReport};
pub use target::Target;

/// The engine of the database rows are loaded into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Postgres,
    MySql,
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Postgres => "PostgreSQL",
            Self::MySql => "MySQL/MariaDB",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    #[error("cannot connect to {target}: {why}")]
    Connect { target: String, why: String },
}

/// A lock key for these parts (FNV-1a, 64 bits): stable across runs and machines, so every
/// rehydrate takes the same lock for the same table.
pub fn lock_key(parts: &[&str]) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain([0]) {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// How a table's load ended, before the count is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loaded {
    /// Committed with this many rows in the table.
    Committed(u64),
    /// Rolled back: the count was not the expected one.
    RolledBack(u64),
}
