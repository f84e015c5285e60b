//! `shell [--local DIR|s3://...] [--db NAME]`: an interactive SQL prompt on Athena (the default),
//! a folder of exports, or exports read in place on S3, with the catalogue discovered once.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{Config, Editor};

use super::Context;
use crate::engine;
use crate::shell::complete::Names;
use crate::shell::engine::Engine;
use crate::shell::{Next, Session};
use crate::source::{Purpose, Source};
use crate::user_dirs::OwnDir;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Query exports in a folder or in place on S3 with DataFusion instead of Athena.
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
    local: Option<Source>,
    /// Only this database's tables (on Athena: the default database for unqualified names).
    #[arg(long)]
    db: Option<String>,
}

impl Args {
    pub async fn run(self, ctx: &Context) -> Result<ExitCode> {
        let engine = match &self.local {
            Some(source) => {
                let opened = ctx.open(source, Purpose::ReadData).await?;
                let tables = engine::catalog_tables(&opened.found.exports, Some(&ctx.config), self.db.as_deref());
                let session = engine::session_in(opened.ctx.clone(), &tables).await?;
                opened.remember(&session);
                eprintln!("{} table(s) over {} export(s) in {source}", tables.len(), opened.found.exports.len());
                Engine::Local { ctx: session, tables, cache: opened.cache }
            }
            None => {
                ctx.check_db(self.db.as_deref(), false)?;
                let database = ctx.default_glue_database(self.db.as_deref());
                Engine::Athena { config: Box::new(ctx.config.clone()), sdk: Box::new(ctx.sdk().await), database }
            }
        };
        let mut session = Session::new(engine, ctx.format);
        if std::io::stdin().is_terminal() {
            interactive(&mut session).await?;
            return Ok(ExitCode::SUCCESS);
        }
        // Fed from a pipe or a file: every line in turn, and the exit status says whether any
        // statement or command failed.
        let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr());
        for line in std::io::stdin().lock().lines() {
            let line = line.context("reading the SQL from standard input")?;
            if session.line(&line, std::future::pending::<()>, &mut out, &mut err).await? == Next::Quit {
                break;
            }
        }
        if session.is_open() {
            eprintln!("error: the input ended inside a statement (no closing `;`)");
            session.failures += 1;
        }
        Ok(if session.failures > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
    }
}

async fn interactive(session: &mut Session) -> Result<()> {
    let names = match session.engine.tables().await {
        Ok(tables) => Names::new(&tables),
        Err(e) => {
            eprintln!("warning: no completion of table names: {e}");
            Names::default()
        }
    };
    let mut editor: Editor<Names, FileHistory> =
        Editor::with_config(Config::builder().auto_add_history(false).max_history_size(10_000)?.build())?;
    editor.set_helper(Some(names));
    let history = history_dir();
    if let Some(path) = history.as_ref().and_then(|dir| dir.check().ok()).map(|dir| dir.join(HISTORY_FILE)) {
        // A first session has no history yet; a linked history is never read.
        if matches!(crate::user_dirs::open_own_file(&path), Ok(Some(_))) {
            let _ = editor.load_history(&path);
        }
    }
    eprintln!("athenaq shell on {}: SQL ends with `;`, \\? for help, Ctrl-D to quit", session.engine.describe());
    let interrupts = interrupts()?;
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    loop {
        let prompt = if session.is_open() { "     -> " } else { "athenaq> " };
        let read = tokio::task::block_in_place(|| editor.readline(prompt));
        match read {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                }
                // Ctrl-C while a statement runs cancels it (StopQueryExecution on Athena).
                let cancel = || {
                    let mut seen = interrupts.clone();
                    seen.borrow_and_update();
                    async move {
                        let _ = seen.changed().await;
                    }
                };
                if session.line(&line, cancel, &mut out, &mut err).await? == Next::Quit {
                    break;
                }
            }
            Err(ReadlineError::Interrupted) => session.clear(),
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(dir) = &history {
        if let Err(e) = save_history(dir, |path| editor.save_history(path)) {
            eprintln!("warning: {e}");
        }
    }
    Ok(())
}

/// Saves the history with `save` into `dir`, made as needed; the error says which folder or
/// file could not be written, the real reason (a read-only home is not "No such file or
/// directory") and what to do.
fn save_history(dir: &OwnDir, save: impl FnOnce(&std::path::Path) -> Result<(), ReadlineError>) -> Result<(), String> {
    const WHAT_TO_DO: &str = "set XDG_STATE_HOME to a folder you can write";
    let folder = dir.create().map_err(|e| format!("history not saved: {e}; {WHAT_TO_DO}"))?;
    let path = folder.join(HISTORY_FILE);
    if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(format!(
            "history not saved: {} is a symbolic link, which athenaq never writes through; remove it",
            path.display()
        ));
    }
    save(&path).map_err(|e| format!("history not saved to {}: {e}; {WHAT_TO_DO}", path.display()))
}

/// Counts Ctrl-C presses. They are caught on a thread of their own: a busy query can hold
/// every runtime worker, and the workers are what notice signals.
fn interrupts() -> Result<tokio::sync::watch::Receiver<u64>> {
    let (tx, rx) = tokio::sync::watch::channel(0u64);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    // The handler is in place before the first prompt: created, not first polled.
    let mut sigint = {
        let _on = runtime.enter();
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).context("catching Ctrl-C")?
    };
    std::thread::Builder::new().name("athenaq-ctrl-c".into()).spawn(move || {
        runtime.block_on(async move {
            while sigint.recv().await.is_some() {
                tx.send_modify(|n| *n += 1);
            }
        });
    })?;
    Ok(rx)
}

/// The history's file name in [`history_dir`].
const HISTORY_FILE: &str = "history";

/// `$XDG_STATE_HOME/athenaq`, else `~/.local/state/athenaq`: the history's folder.
fn history_dir() -> Option<OwnDir> {
    crate::user_dirs::user_dir("XDG_STATE_HOME", ".local/state")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_history_that_cannot_be_saved_says_why_and_where() {
        let home = tempfile::tempdir().unwrap();
        // A folder that cannot be made: its parent is a file (what a read-only home gives, seen
        // as root too, whom permissions do not stop).
        std::fs::write(home.path().join("state"), b"").unwrap();
        let dir = OwnDir { base: home.path().join("state/deeper"), own: vec!["athenaq".into()] };
        let err = save_history(&dir, |_| panic!("nothing is written")).unwrap_err();
        assert!(
            err.contains(&format!("cannot create the folder {}", home.path().join("state/deeper").display())),
            "{err}"
        );
        assert!(err.contains("Not a directory") && !err.contains("No such file"), "{err}");
        assert!(err.contains("XDG_STATE_HOME"), "{err}");

        // A read-only folder, where permissions apply (not as root).
        let locked = home.path().join("locked");
        std::fs::create_dir(&locked).unwrap();
        std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o500)).unwrap();
        let dir = OwnDir { base: locked.clone(), own: vec!["athenaq".into()] };
        if std::fs::create_dir(locked.join("probe")).is_err() {
            let err = save_history(&dir, |_| panic!("nothing is written")).unwrap_err();
            assert!(err.contains("Permission denied") && err.contains(&*locked.display().to_string()), "{err}");
        }
        std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();

        // Made as needed, then written.
        let dir = OwnDir { base: home.path().join("fresh"), own: vec!["athenaq".into()] };
        let mut written = None;
        save_history(&dir, |path| {
            written = Some(path.to_owned());
            Ok(())
        })
        .unwrap();
        assert_eq!(written.unwrap(), home.path().join("fresh/athenaq/history"));
    }
}
