//! CloudFormation for rds-snapshot-s3exports, generated from `config/<env>.toml`: the stacks,
//! their synthesis to files, and change-set deployment.

pub mod artifacts;
pub mod bucket_rules;
pub mod cfn;
pub mod deploy;
pub mod stacks;
pub mod synth;
