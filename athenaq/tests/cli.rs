//! athenaq's output as a user sees it, for table, csv and json, over the generated export.

use std::process::Command;

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
