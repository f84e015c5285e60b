//! athenaq's folders in the user's home, by the XDG base directory convention.

use std::path::PathBuf;

/// `$<xdg_var>/athenaq`, else `~/<home_fallback>/athenaq` (`XDG_CACHE_HOME` and `.cache`,
/// `XDG_STATE_HOME` and `.local/state`); `None` when neither variable is set.
pub fn user_dir(xdg_var: &str, home_fallback: &str) -> Option<PathBuf> {
    let base = std::env::var_os(xdg_var)
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(home_fallback)))?;
    Some(base.join("athenaq"))
}
