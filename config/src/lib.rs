//! Configuration of rds-snapshot-s3exports: the environment files (`dev.toml`, `prod.toml`),
//! their validation, the export policy types, and the one place every AWS name is derived.

mod env;
mod error;
mod model;
pub mod names;
mod policy;
mod target;
pub mod validate;

use std::path::Path;

pub use env::{EnvSelector, current_git_branch, environment_for_branch, select};
pub use error::{ConfigError, Problem};
pub use model::{CatalogMode, Config, Database, Defaults, Loaded, Vpc, parse};
pub use policy::{
    ExportPolicy, Lifecycle, MinInterval, ObjectLock, Schedule, SnapshotType, StorageTier, lifecycle_action_day,
};
pub use target::ExportTarget;

/// The environment files compiled into every binary, as `(file name, text)`.
pub const EMBEDDED: [(&str, &str); 2] =
    [("config/dev.toml", include_str!("../dev.toml")), ("config/prod.toml", include_str!("../prod.toml"))];

/// Every embedded environment, validated.
pub fn embedded() -> Result<Vec<Loaded>, ConfigError> {
    EMBEDDED.iter().map(|(file, text)| parse(file, text)).collect()
}

/// One embedded environment by name.
pub fn embedded_env(name: &str) -> Result<Loaded, ConfigError> {
    let all = embedded()?;
    let known = all.iter().map(|l| l.config.environment.clone()).collect::<Vec<_>>().join(", ");
    all.into_iter()
        .find(|l| l.config.environment == name)
        .ok_or_else(|| ConfigError::UnknownEnvironment { name: name.to_owned(), known })
}

/// Reads and validates a config file from disk.
pub fn load_file(path: &Path) -> Result<Loaded, ConfigError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| ConfigError::Read { file: file.clone(), source })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
        let column = valid.iter().rev().take_while(|b| **b != b'\n').count() + 1;
        ConfigError::Invalid {
            file: file.clone(),
            problems: vec![Problem::new(
                "",
                format!("not UTF-8 at line {line}, column {column} (byte {}); save the file as UTF-8", valid.len()),
            )],
        }
    })?;
    parse(&file, &text)
}
