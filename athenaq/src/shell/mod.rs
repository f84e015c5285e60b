//! `athenaq shell`: an interactive SQL prompt over one engine and one catalogue, discovered
//! once for the session. Statements end at `;` and may span lines; backslash commands list
//! tables (`\d`), describe one (`\d TABLE`), switch timing (`\timing`) and the output format
//! (`\format table|csv|json`). Errors are shown and the session goes on.
//!
//! The line loop ([`Session::line`]) is separate from the terminal, so tests feed it lines.

pub mod command;
pub(crate) mod complete;
pub mod engine;
pub(crate) mod statement;

use std::future::Future;
use std::io::Write;
use std::time::Instant;

use command::Command;
use engine::{Engine, RunError, TableInfo};
use statement::{Buffer, Input};

use crate::output::{Format, Rows};

/// What the loop does after a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Continue,
    Quit,
}

#[derive(Debug)]
pub struct Session {
    pub engine: Engine,
    pub format: Format,
    pub timing: bool,
    buffer: Buffer,
    /// Statements that failed, for the exit status of a session fed from a pipe.
    pub failures: usize,
}

impl Session {
    pub fn new(engine: Engine, format: Format) -> Self {
        Self { engine, format, timing: false, buffer: Buffer::default(), failures: 0 }
    }

    /// True while a statement has been started and not ended (for the continuation prompt).
    pub fn is_open(&self) -> bool {
        self.buffer.is_open()
    }

    /// Ctrl-C at the prompt: the open statement is dropped.
    pub fn clear(&mut self) {
        self.buffer.clear();
    }

    /// Handles one typed line. `cancel` makes the future that stops a running statement
    /// (Ctrl-C on a terminal).
    pub async fn line<F: Future<Output = ()>>(
        &mut self,
        line: &str,
        cancel: impl Fn() -> F,
        out: &mut impl Write,
        err: &mut impl Write,
    ) -> std::io::Result<Next> {
        match self.buffer.push(line) {
            Input::Command(command) => self.command(&command, out, err).await,
            Input::Statements(statements) => {
                for sql in statements {
                    self.statement(&sql, cancel(), out, err).await?;
                }
                Ok(Next::Continue)
            }
        }
    }

    async fn statement(
        &mut self,
        sql: &str,
        cancel: impl Future<Output = ()>,
        out: &mut impl Write,
        err: &mut impl Write,
    ) -> std::io::Result<()> {
        let started = Instant::now();
        match self.engine.run(sql, cancel).await {
            Ok(rows) => {
                if let Err(e) = rows.render(self.format, out) {
                    self.failures += 1;
                    writeln!(err, "error: {e}")?;
                } else if self.format != Format::Table {
                    // The table shows its own count; csv and json stay clean on stdout.
                    writeln!(err, "({} row{})", rows.rows.len(), if rows.rows.len() == 1 { "" } else { "s" })?;
                }
            }
            Err(RunError::Canceled(what)) => writeln!(err, "{what}")?,
            Err(RunError::Failed(why)) => {
                self.failures += 1;
                writeln!(err, "error: {why}")?;
            }
        }
        if self.timing {
            writeln!(err, "Time: {:.3} s", started.elapsed().as_secs_f64())?;
        }
        Ok(())
    }

    async fn command(&mut self, typed: &str, out: &mut impl Write, err: &mut impl Write) -> std::io::Result<Next> {
        let command = match typed.parse::<Command>() {
            Ok(command) => command,
            Err(e) => {
                self.fail(err, &e.to_string())?;
                return Ok(Next::Continue);
            }
        };
        match command {
            Command::Quit => return Ok(Next::Quit),
            Command::Help => writeln!(out, "{}", command::help())?,
            Command::Describe(None) => match self.engine.tables().await {
                Ok(tables) => table_list(&tables).render(self.format, out)?,
                Err(e) => self.fail(err, &e)?,
            },
            Command::Describe(Some(table)) => match self.engine.tables().await {
                Ok(tables) => match find(&tables, &table) {
                    Some(info) => describe(info).render(self.format, out)?,
                    None => {
                        let known: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
                        self.fail(err, &format!("no table `{table}`; the tables: {}", known.join(", ")))?;
                    }
                },
                Err(e) => self.fail(err, &e)?,
            },
            Command::Timing(on) => {
                self.timing = on.unwrap_or(!self.timing);
                writeln!(err, "Timing is {}.", if self.timing { "on" } else { "off" })?;
            }
            Command::Format(format) => {
                self.format = format;
                let name = match format {
                    Format::Table => "table",
                    Format::Csv => "csv",
                    Format::Json => "json",
                };
                writeln!(err, "Output format is {name}.")?;
            }
        }
        Ok(Next::Continue)
    }

    fn fail(&mut self, err: &mut impl Write, message: &str) -> std::io::Result<()> {
        self.failures += 1;
        writeln!(err, "error: {message}")
    }
}

/// A table by its name, qualified or not, any case.
fn find<'a>(tables: &'a [TableInfo], name: &str) -> Option<&'a TableInfo> {
    let name = name.trim_matches('"');
    tables
        .iter()
        .find(|t| t.name.eq_ignore_ascii_case(name))
        .or_else(|| tables.iter().find(|t| t.name.rsplit('.').next().is_some_and(|n| n.eq_ignore_ascii_case(name))))
}

fn table_list(tables: &[TableInfo]) -> Rows {
    let mut rows = Rows::new(&[("table", false), ("columns", true), ("snapshots", true)]);
    for t in tables {
        rows.rows.push(vec![
            Some(t.name.clone()),
            Some(t.columns.len().to_string()),
            Some(t.snapshots.len().to_string()),
        ]);
    }
    rows
}

fn describe(table: &TableInfo) -> Rows {
    let mut rows = Rows::new(&[("column", false), ("type", false)]);
    for (name, data_type) in &table.columns {
        rows.rows.push(vec![Some(name.clone()), Some(data_type.clone())]);
    }
    for snapshot in &table.snapshots {
        rows.rows.push(vec![Some("(snapshot)".into()), Some(snapshot.clone())]);
    }
    rows
}
