//! What tests, the demo and the benchmarks share: the local AWS emulator ([`moto`]), builders
//! of the events RDS, SNS and SQS deliver ([`events`]), and, with the `sample` feature, the
//! sample exports: PostgreSQL's ([`sample`]), MySQL's ([`mysql_sample`]) and any tables
//! ([`export_writer`]); with `databases`, real PostgreSQL and MariaDB servers ([`databases`]).

pub mod aws_examples;
#[cfg(feature = "databases")]
pub mod databases;
pub mod events;
#[cfg(feature = "sample")]
pub mod export_writer;
pub mod moto;
#[cfg(feature = "sample")]
pub mod mysql_sample;
#[cfg(feature = "sample")]
pub mod sample;

pub use moto::{ACCOUNT, Moto, REGION, create_db_instance, start_export};
