//! Writing to stdout and stderr without std's panic on a closed stream.
//!
//! `println!` and `eprintln!` panic when the stream is closed (`athenaq ... 2>&1 | head`, a
//! closed terminal), which ended a command at its first warning with exit status 101. Each
//! binary defines its own `println!`/`eprintln!` over these two functions (macros cannot
//! shadow std's across crates), so the rule lives here once.

use std::io::Write;

/// Writes data to stdout. A reader that went away (a broken pipe) wanted no more: exit 0. Any
/// other failure (a full disk under `> file`) must not pass for success: it is said on stderr
/// and the process exits 1, since data owed to the reader was lost.
pub fn write_stdout(text: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout();
    if let Err(e) = out.write_fmt(text).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        write_stderr(format_args!("error: cannot write the output: {e}\n"));
        std::process::exit(1);
    }
}

/// Writes a diagnostic to stderr; an error (a closed pipe) loses the line and the command goes
/// on: a lost warning must not stop it.
pub fn write_stderr(text: std::fmt::Arguments<'_>) {
    let mut err = std::io::stderr();
    let _ = err.write_fmt(text).and_then(|()| err.flush());
}
