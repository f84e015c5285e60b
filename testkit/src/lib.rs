//! What tests, the demo and the benchmarks share: the local AWS emulator ([`moto`]), builders
//! of the events RDS, SNS and SQS deliver ([`events`]), and, with the `sample` feature, the
//! sample export generator ([`sample`]).

pub mod aws_examples;
pub mod events;
pub mod moto;
#[cfg(feature = "sample")]
pub mod sample;

pub use moto::{ACCOUNT, Moto, REGION, create_db_instance, start_export};
