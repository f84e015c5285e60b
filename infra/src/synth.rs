//! `infra synth`: one `<stack>.template.json` per stack, byte-identical for the same config.

use std::path::{Path, PathBuf};

use s3exports_config::{Config, names};

use crate::stacks::Stack;

/// CloudFormation's limits on one template.
pub const MAX_RESOURCES: usize = 500;
pub const MAX_TEMPLATE_BYTES: usize = 1_000_000;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Synthesized {
    pub stack: String,
    pub resources: usize,
    pub parameters: usize,
    pub bytes: usize,
    pub path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("stack {stack} has {resources} resources, over CloudFormation's {MAX_RESOURCES}")]
    TooManyResources { stack: String, resources: usize },
    #[error("stack {stack} template is {bytes} bytes, over CloudFormation's {MAX_TEMPLATE_BYTES}")]
    TooLarge { stack: String, bytes: usize },
    #[error("stack {stack} adds logical id(s) {} more than once: rename one (a bug in infra)", ids.join(", "))]
    DuplicateLogicalIds { stack: String, ids: Vec<String> },
    #[error(
        "stack {stack} has a bucket CloudFormation or S3 would refuse (the stack would roll back):\n  {}\n\
         change the config (lifecycle days) or infra so that none remains",
        problems.join("\n  ")
    )]
    RefusedBucket { stack: String, problems: Vec<String> },
}

/// What CloudFormation would refuse in one stack's template before any call: logical ids added
/// twice, the template limits, and the bucket rules its schema states only in prose
/// ([`crate::bucket_rules`]). Returns the rendered template.
pub fn check(stack: &Stack) -> Result<String, SynthError> {
    let duplicates = stack.template.duplicate_ids();
    if !duplicates.is_empty() {
        let ids = duplicates.into_iter().map(str::to_owned).collect();
        return Err(SynthError::DuplicateLogicalIds { stack: stack.name.clone(), ids });
    }
    let resources = stack.template.resources.len();
    if resources > MAX_RESOURCES {
        return Err(SynthError::TooManyResources { stack: stack.name.clone(), resources });
    }
    let text = stack.template.render();
    if text.len() > MAX_TEMPLATE_BYTES {
        return Err(SynthError::TooLarge { stack: stack.name.clone(), bytes: text.len() });
    }
    let problems: Vec<String> =
        crate::bucket_rules::check_template(&stack.template.to_json()).iter().map(ToString::to_string).collect();
    if !problems.is_empty() {
        return Err(SynthError::RefusedBucket { stack: stack.name.clone(), problems });
    }
    Ok(text)
}

/// `names.json`: every name the environment's resources get, for scripts.
pub const NAMES_FILE: &str = "names.json";

pub fn write_names(config: &Config, dir: &Path) -> Result<PathBuf, SynthError> {
    let path = dir.join(NAMES_FILE);
    let mut text = serde_json::to_string_pretty(&names::environment(config)).unwrap_or_default();
    text.push('\n');
    std::fs::write(&path, text).map_err(|source| SynthError::Write { path: path.clone(), source })?;
    Ok(path)
}

pub fn write(stacks: &[Stack], dir: &Path) -> Result<Vec<Synthesized>, SynthError> {
    std::fs::create_dir_all(dir).map_err(|source| SynthError::Write { path: dir.to_owned(), source })?;
    stacks
        .iter()
        .map(|stack| {
            let text = check(stack)?;
            let resources = stack.template.resources.len();
            let path = dir.join(format!("{}.template.json", stack.name));
            std::fs::write(&path, &text).map_err(|source| SynthError::Write { path: path.clone(), source })?;
            Ok(Synthesized {
                stack: stack.name.clone(),
                resources,
                parameters: stack.template.parameters.len(),
                bytes: text.len(),
                path,
            })
        })
        .collect()
}
