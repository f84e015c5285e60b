//! The stacks of an environment, from its config.

pub mod bootstrap;
pub mod catalogue;
pub mod core;
pub mod database;
pub mod function;
pub mod queue;

use s3exports_config::{Config, names};

use serde_json::Value;

use crate::cfn::{Template, allow, sub};

/// Reading every export target the database stacks published (GetParametersByPath on their
/// path): both functions find the database a bucket belongs to this way.
pub fn list_export_targets(env: &str) -> Value {
    allow(
        "ListExportTargets",
        &["ssm:GetParametersByPath"],
        vec![sub(&format!(
            "arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{}",
            names::target_parameter_prefix(env).trim_end_matches('/')
        ))],
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackKind {
    Bootstrap,
    Core,
    Database,
}

#[derive(Debug)]
pub struct Stack {
    pub name: String,
    pub kind: StackKind,
    pub template: Template,
}

/// Every stack of the environment in deployment order: bootstrap, core, then one per database.
pub fn all(config: &Config) -> Vec<Stack> {
    let env = &config.environment;
    let mut stacks = vec![
        Stack { name: names::bootstrap_stack(env), kind: StackKind::Bootstrap, template: bootstrap::template(config) },
        Stack { name: names::core_stack(env), kind: StackKind::Core, template: core::template(config) },
    ];
    stacks.extend(config.databases.iter().map(|db| Stack {
        name: names::database_stack(&db.db_name, env),
        kind: StackKind::Database,
        template: database::template(config, db),
    }));
    stacks
}
