//! Choosing the environment: named explicitly, or `auto` from the git branch as the seed did
//! (main -> prod, develop -> dev; the mapping comes from each config's `git_branch`).

use std::path::Path;
use std::process::Command;
use std::str::FromStr;

use crate::error::ConfigError;
use crate::model::Config;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvSelector {
    Named(String),
    /// From the current git branch.
    Auto,
}

impl FromStr for EnvSelector {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Self::Auto),
            name => crate::validate::environment_name(name).map(|()| Self::Named(name.to_owned())),
        }
    }
}

/// The environment whose config deploys from `branch`.
pub fn environment_for_branch<'a>(branch: &str, configs: &'a [Config]) -> Option<&'a Config> {
    configs.iter().find(|c| c.git_branch == branch)
}

/// Resolves a selector among the given configs; `branch` is asked for only with `auto`.
pub fn select<'a>(
    selector: &EnvSelector,
    configs: &'a [Config],
    branch: impl FnOnce() -> Result<String, String>,
) -> Result<&'a Config, ConfigError> {
    let known = configs.iter().map(|c| c.environment.as_str()).collect::<Vec<_>>().join(", ");
    match selector {
        EnvSelector::Named(name) => configs
            .iter()
            .find(|c| &c.environment == name)
            .ok_or_else(|| ConfigError::UnknownEnvironment { name: name.clone(), known }),
        EnvSelector::Auto => {
            let branch = branch().map_err(|reason| ConfigError::Auto { reason, known: known.clone() })?;
            environment_for_branch(&branch, configs).ok_or_else(|| ConfigError::Auto {
                reason: format!("no environment deploys from git branch `{branch}`"),
                known,
            })
        }
    }
}

/// The checked-out branch of the repository at `dir` (`GIT_BRANCH` wins, for CI systems that
/// check out a detached HEAD).
pub fn current_git_branch(dir: &Path) -> Result<String, String> {
    if let Ok(branch) = std::env::var("GIT_BRANCH") {
        if !branch.is_empty() {
            return Ok(branch);
        }
    }
    let out = Command::new("git")
        .args(["rev-parse", "--abbrev-ref", "HEAD"])
        .current_dir(dir)
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "git rev-parse failed in {}: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let branch = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if branch == "HEAD" {
        return Err("HEAD is detached (set GIT_BRANCH)".to_owned());
    }
    Ok(branch)
}
