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

pub use load::{Options, Status, TableJob, TableReport};
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

/// How a table's load ended, before the count is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loaded {
    /// Committed with this many rows in the table.
    Committed(u64),
    /// Rolled back: the count was not the expected one.
    RolledBack(u64),
}
