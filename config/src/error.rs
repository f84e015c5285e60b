use std::fmt;

/// One thing wrong (or worth a warning) in a config file, at a field path such as
/// `databases[1].s3_bucket_name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl Problem {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self { path: path.into(), message: message.into() }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() { f.write_str(&self.message) } else { write!(f, "{}: {}", self.path, self.message) }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {file}: {source}")]
    Read { file: String, source: std::io::Error },

    #[error("{file}: {}", render(problems))]
    Invalid { file: String, problems: Vec<Problem> },

    #[error(
        "unknown environment `{name}`: the configured environments are {known}; \
         add config/{name}.toml or pass one of them"
    )]
    UnknownEnvironment { name: String, known: String },

    #[error("cannot choose the environment automatically: {reason}; pass --env with one of {known}")]
    Auto { reason: String, known: String },
}

fn render(problems: &[Problem]) -> String {
    match problems {
        [one] => one.to_string(),
        many => {
            let mut out = format!("{} problems:", many.len());
            for p in many {
                out.push_str("\n  - ");
                out.push_str(&p.to_string());
            }
            out
        }
    }
}
