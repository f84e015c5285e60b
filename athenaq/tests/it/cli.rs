//! athenaq's output as a user sees it, for table, csv and json, over the generated export.

use std::process::Command;

use athenaq::engine::{MAX_EXPRESSION_DEPTH, MAX_SQL_BYTES};

use s3exports_testkit::sample::{SampleSpec, write_sample};

fn athenaq(args: &[&str]) -> (String, String, bool) {
    let out = Command::new(env!("CARGO_BIN_EXE_athenaq")).args(args).env("RUST_BACKTRACE", "0").output().unwrap();
    (String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap(), out.status.success())
}

fn sample() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_sample(dir.path(), SampleSpec { orders: 40, customers: 5 }).unwrap();
    dir
}

#[test]
fn output_formats() {
    let dir = sample();
    let local = dir.path().to_str().unwrap();
    let query = "SELECT snapshot_date, id, status, total, note, channel FROM pams_stack_prod.pams_public_orders \
                 WHERE id <= 3 ORDER BY snapshot_date, id";
    for format in ["table", "csv", "json"] {
        let (out, err, ok) = athenaq(&["list-exports", "--local", local, "--as-of", "2026-11-28", "--format", format]);
        assert!(ok, "{err}");
        insta::assert_snapshot!(format!("list_exports_{format}"), out);

        let (out, err, ok) = athenaq(&["tables", "--local", local, "--format", format]);
        assert!(ok, "{err}");
        insta::assert_snapshot!(format!("tables_{format}"), out);

        let (out, err, ok) = athenaq(&["query", "--local", local, "--format", format, query]);
        assert!(ok, "{err}");
        insta::assert_snapshot!(format!("query_{format}"), out);
        assert!(err.contains("row(s) in"), "{err}");
    }
}

#[test]
fn filters_and_errors() {
    let dir = sample();
    let local = dir.path().to_str().unwrap();
    let (out, _, ok) = athenaq(&["list-exports", "--local", local, "--status", "failed", "--format", "csv"]);
    assert!(ok);
    assert_eq!(out.lines().count(), 1, "header only: {out}");
    let (out, _, ok) = athenaq(&["list-exports", "--local", local, "--db", "pams-stack-prod", "--format", "json"]);
    assert!(ok);
    assert_eq!(out.lines().count(), 2);

    let (_, err, ok) = athenaq(&["query", "--local", local, "SELECT nope FROM pams_public_orders"]);
    assert!(!ok);
    assert!(err.contains("nope"), "{err}");
    let empty = tempfile::tempdir().unwrap();
    let (_, err, ok) = athenaq(&["tables", "--local", empty.path().to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("no export found under"), "{err}");
    let (_, err, ok) = athenaq(&["list-exports", "--db", "unknown-db"]);
    assert!(!ok);
    assert!(err.contains("database `unknown-db` is not configured in prod"), "{err}");
}

#[test]
fn values_past_the_calendar_are_errors_not_panics() {
    let dir = sample();
    let local = dir.path().to_str().unwrap();
    let (_, err, ok) = athenaq(&["list-exports", "--local", local, "--since", "1000000y"]);
    assert!(!ok, "{err}");
    assert!(err.contains("--since") && err.contains("too long ago") && !err.contains("panicked"), "{err}");
}

#[test]
fn a_reader_that_stops_early_is_not_a_failure() {
    // `athenaq query ... | head`: the pipe closes while athenaq still writes.
    let dir = sample();
    let local = dir.path().to_str().unwrap();
    let sql = "SELECT a.*, b.* FROM pams_public_orders a CROSS JOIN pams_public_orders b";
    let child = Command::new(env!("CARGO_BIN_EXE_athenaq"))
        .args(["query", "--local", local, "--format", "csv", sql])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = child;
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("Broken pipe") && !err.contains("Error"), "{err}");
}

/// `athenaq ... 2>&1 | head` closed stderr too: the first warning ended the command with exit
/// status 101 ("failed printing to stderr: Broken pipe"). A warning that cannot be shown is
/// lost, and the command goes on and answers.
#[test]
fn a_closed_stderr_loses_the_warnings_never_the_answer() {
    let dir = sample();
    let home = tempfile::tempdir().unwrap();
    // A metadata cache that cannot be kept: a warning on stderr, as is the closing count line.
    std::fs::write(home.path().join("file"), b"").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_athenaq"))
        .args(["query", "--format", "csv", "--local"])
        .arg(dir.path())
        .arg("SELECT count(*) AS n FROM pams_public_orders")
        .env("ATHENAQ_CACHE_DIR", home.path().join("file/cache"))
        .env("RUST_BACKTRACE", "0")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The reader of stderr is gone before athenaq writes to it.
    drop(child.stderr.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "not 101, a panic");
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "n\n76\n");
}

#[test]
fn an_answer_that_cannot_be_written_is_a_failure_not_a_success() {
    // A full disk under `> file` loses the answer: that must not exit 0 as a closed pipe does.
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else { return };
    let dir = sample();
    let out = Command::new(env!("CARGO_BIN_EXE_athenaq"))
        .args(["--no-cache", "query", "--format", "csv", "--local"])
        .arg(dir.path())
        .arg("SELECT count(*) AS n FROM pams_public_orders")
        .env("RUST_BACKTRACE", "0")
        .stdout(full)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn deep_sql_is_answered_or_refused_never_a_stack_overflow() {
    // The whole binary (the debug build in the tests), as an analyst runs it.
    let dir = sample();
    let local = dir.path().to_str().unwrap();
    let chain = |terms: usize| {
        let expr: Vec<String> = (0..terms).map(|i| format!("id = {i}")).collect();
        format!("SELECT count(*) AS n FROM pams_public_orders WHERE {}", expr.join(" OR "))
    };
    // The deepest accepted is answered.
    let (out, err, ok) = athenaq(&["query", "--local", local, "--format", "csv", &chain(MAX_EXPRESSION_DEPTH - 2)]);
    assert!(ok, "{err}");
    assert_eq!(out.lines().nth(1), Some("76"), "every order of both snapshots: {out}");
    // 2,000 terms (which overflowed the stack): a clean refusal naming the limit and the way out.
    let (_, err, ok) = athenaq(&["query", "--local", local, &chain(2_000)]);
    assert!(!ok);
    assert!(err.contains("nested 2001 deep, more than the 500") && err.contains("IN (1, 2, ...)"), "{err}");
    assert!(!err.contains("overflow") && !err.contains("panicked"), "{err}");
    // A long IN list is one level deep.
    let values: Vec<String> = (0..5_000).map(|i| i.to_string()).collect();
    let sql = format!("SELECT count(*) AS n FROM pams_public_orders WHERE id IN ({})", values.join(", "));
    let (out, err, ok) = athenaq(&["query", "--local", local, "--format", "csv", &sql]);
    assert!(ok, "{err}");
    assert_eq!(out.lines().nth(1), Some("76"), "{out}");
    // Past Athena's length limit: refused at once.
    let long = dir.path().join("long.sql");
    std::fs::write(&long, format!("SELECT 1 -- {}", "x".repeat(MAX_SQL_BYTES))).unwrap();
    let (_, err, ok) = athenaq(&["query", "--local", local, "--file", long.to_str().unwrap()]);
    assert!(!ok && err.contains("athenaq (and Athena) accepts"), "{err}");
}

#[test]
fn unknown_statuses_and_negative_durations_are_refused_with_the_reason() {
    let dir = sample();
    let local = dir.path().to_str().unwrap();
    let (_, err, ok) = athenaq(&["list-exports", "--local", local, "--status", "bogus"]);
    assert!(!ok);
    assert!(err.contains("bogus") && err.contains("complete") && err.contains("in_progress"), "{err}");
    let (_, _, ok) = athenaq(&["list-exports", "--local", local, "--status", "COMPLETE"]);
    assert!(ok, "statuses are matched whatever their case");
    let (_, err, ok) = athenaq(&["list-exports", "--local", local, "--since", "-1d"]);
    assert!(!ok);
    assert!(err.contains("how far back to look, a positive duration"), "{err}");
}
