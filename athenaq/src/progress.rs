//! Progress bars on stderr (indicatif), drawn only on a terminal so that logs and pipes stay clean.

use std::future::Future;
use std::io::IsTerminal;

use futures::{StreamExt, stream};
use indicatif::{ProgressBar, ProgressStyle};

/// A bar of `len` steps labelled `what`; hidden when stderr is not a terminal.
pub fn bar(len: u64, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    let style = ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {elapsed}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style.progress_chars("=> "));
    bar.set_message(what.to_owned());
    bar
}

/// A bar counting bytes, for downloads.
pub fn bytes_bar(len: u64, what: &str) -> ProgressBar {
    let bar = self::bar(len, what);
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// `f` on every item, `limit` at a time, counted on a bar labelled `what`; the results in the
/// order they finish.
pub async fn each_concurrently<'a, T, R, F, Fut>(items: &'a [T], what: &str, limit: usize, f: F) -> Vec<R>
where
    F: Fn(&'a T) -> Fut,
    Fut: Future<Output = R>,
{
    let bar = bar(items.len() as u64, what);
    let results = stream::iter(items.iter().map(|item| {
        let (bar, work) = (bar.clone(), f(item));
        async move {
            let result = work.await;
            bar.inc(1);
            result
        }
    }))
    .buffer_unordered(limit)
    .collect()
    .await;
    bar.finish_and_clear();
    results
}
