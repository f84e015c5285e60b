//! The exporter: RDS snapshot events in, one S3 export task per snapshot out.
//!
//! Decisions are plain functions ([`decide`], [`export_id`], [`classify`]) over plain data
//! ([`model`]); the handler drives them through the [`edge::Aws`] trait, which [`aws::SdkAws`]
//! implements with the AWS SDK.

pub mod aws;
pub mod catalogue;
pub mod classify;
pub mod decide;
pub mod decision;
pub mod edge;
pub mod event;
pub mod export_id;
pub mod handler;
pub mod layout;
pub mod model;
pub mod poll;
pub mod simulation;

pub use decision::{Decision, Outcome};
pub use handler::{Handled, Settings, handle};
