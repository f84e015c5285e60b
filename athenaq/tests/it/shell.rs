//! `athenaq shell` over a local copy: the line loop fed line by line (multi-line statements,
//! `\d`, `\timing`, `\format`, `\?` and the errors built from the command list, errors that do
//! not end the session, a canceled statement, a canceled cross join that must free the session
//! at once), the catalogue's named snapshots, and the binary fed from a pipe, whose exit status
//! says whether anything failed.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use athenaq::engine;
use athenaq::output::Format;
use athenaq::shell::engine::Engine;
use athenaq::shell::{Next, Session};
use athenaq::source::metadata_cache::MetadataCache;
use athenaq::source::{Caching, Purpose, Source, open};
use s3exports_testkit::sample::{SampleSpec, write_sample};

async fn session(dir: &std::path::Path) -> Session {
    let opened =
        open(&Source::Folder(dir.to_owned()), Purpose::ReadData, Caching::Off, || async { unreachable!("no AWS") })
            .await
            .unwrap();
    let tables = engine::catalog_tables(&opened.found.exports, None, None);
    let ctx = engine::session_in(opened.ctx, &tables).await.unwrap();
    Session::new(Engine::Local { ctx, tables, cache: MetadataCache::off() }, Format::Csv)
}

/// The tests that run queries in this process, one at a time: one of them measures the
/// process's CPU time.
static IN_PROCESS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// CPU time (user and system) this process has used so far, from `/proc/self/stat`.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // After the command name in parentheses: the state is field 3, utime and stime fields 14, 15,
    // in clock ticks of 1/100 s (USER_HZ). See proc_pid_stat(5).
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

/// Feeds `lines`; stdout and stderr as text.
async fn feed(session: &mut Session, lines: &[&str]) -> (String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    for line in lines {
        let next = session.line(line, std::future::pending::<()>, &mut out, &mut err).await.unwrap();
        if next == Next::Quit {
            break;
        }
    }
    (String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_line_loop_keeps_one_catalogue_and_goes_on_after_errors() {
    let _alone = IN_PROCESS.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let facts = write_sample(dir.path(), SampleSpec::default()).unwrap();
    let mut s = session(dir.path()).await;

    // A statement over three lines, ended by `;`.
    let (out, _) =
        feed(&mut s, &["SELECT snapshot_date, count(*) AS n", "FROM pams_public_orders", "GROUP BY 1 ORDER BY 1;"])
            .await;
    assert_eq!(
        out,
        format!(
            "snapshot_date,n\n{},{}\n{},{}\n",
            facts[0].snapshot_date, facts[0].rows["orders"], facts[1].snapshot_date, facts[1].rows["orders"]
        )
    );

    // \d lists the tables; \d TABLE its columns and snapshots.
    let (out, _) = feed(&mut s, &["\\d"]).await;
    assert!(out.starts_with("table,columns,snapshots\n"), "{out}");
    assert!(out.contains("pams_public_orders,9,2"), "{out}");
    let (out, _) = feed(&mut s, &["\\d pams_public_events"]).await;
    assert!(out.contains("raw,Binary") && out.contains("snapshot_date,Utf8"), "{out}");
    assert!(out.contains(&format!("(snapshot),{} ({})", facts[1].snapshot_date, facts[1].export_id)), "{out}");

    // An error is shown and the session goes on; \timing and \format switch.
    let (out, err) =
        feed(&mut s, &["SELECT nope FROM pams_public_orders;", "\\timing", "\\format json", "SELECT 1 AS one;"]).await;
    assert!(err.contains("error:") && err.contains("nope"), "{err}");
    assert!(err.contains("Timing is on.") && err.contains("Time: "), "{err}");
    assert_eq!(out, "{\"one\":1}\n");
    let (_, err) = feed(&mut s, &["\\d no_such_table", "\\format xml", "\\bogus"]).await;
    assert!(err.contains("no table `no_such_table`") && err.contains("pams_public_orders"), "{err}");
    assert!(err.contains("table, csv or json") && err.contains("unknown command \\bogus"), "{err}");
    assert_eq!(s.failures, 4);

    // Cancel (Ctrl-C) stops the running statement and keeps the session.
    let (mut out, mut err) = (Vec::new(), Vec::new());
    s.line(
        "SELECT count(*) FROM pams_public_order_items a, pams_public_order_items b;",
        || async {},
        &mut out,
        &mut err,
    )
    .await
    .unwrap();
    assert!(String::from_utf8(err).unwrap().contains("canceled"));
    let (out, _) = feed(&mut s, &["SELECT 2 AS two;", "\\q", "SELECT 3;"]).await;
    assert_eq!(out, "{\"two\":2}\n");
    assert!(!s.is_open());
}

/// `\?` prints the help generated from the command list, the other spellings answer, and an
/// unknown command lists the real ones.
#[tokio::test(flavor = "multi_thread")]
async fn help_and_errors_come_from_the_command_list() {
    let _alone = IN_PROCESS.lock().await;
    let dir = tempfile::tempdir().unwrap();
    write_sample(dir.path(), SampleSpec::default()).unwrap();
    let mut s = session(dir.path()).await;
    let (out, err) = feed(&mut s, &["\\?", "\\help", "\\bogus"]).await;
    let help = athenaq::shell::command::help();
    assert!(help.starts_with("\\d                 list tables\n"), "{help}");
    assert_eq!(out, format!("{help}\n{help}\n"));
    assert!(err.contains("unknown command \\bogus; the commands: \\d, \\timing, \\format, \\q, \\?"), "{err}");
    assert_eq!(s.failures, 1);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    assert_eq!(s.line("\\quit", std::future::pending::<()>, &mut out, &mut err).await.unwrap(), Next::Quit);
}

/// The catalogue's tables name each export's copy: its snapshot date, export and part files.
#[tokio::test(flavor = "multi_thread")]
async fn each_table_names_its_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let facts = write_sample(dir.path(), SampleSpec::default()).unwrap();
    let opened = open(&Source::Folder(dir.path().to_owned()), Purpose::ReadData, Caching::Off, || async {
        unreachable!("no AWS")
    })
    .await
    .unwrap();
    let tables = engine::catalog_tables(&opened.found.exports, None, None);
    let orders = tables.iter().find(|t| t.name == "pams_public_orders").expect("the orders table");
    let mut seen: Vec<(&str, &str)> =
        orders.parts.iter().map(|p| (p.snapshot_date.as_str(), p.export_id.as_str())).collect();
    seen.sort();
    let mut expected: Vec<(&str, &str)> =
        facts.iter().map(|f| (f.snapshot_date.as_str(), f.export_id.as_str())).collect();
    expected.sort();
    assert_eq!(seen, expected);
    for part in &orders.parts {
        assert!(!part.files.is_empty(), "{part:?}");
        assert!(part.files.iter().all(|f| f.starts_with(&part.dir)), "{part:?}");
    }
}

/// Ctrl-C during a cross join: it said "canceled", but the plan went on for minutes on both
/// cores (it never yielded, so aborting its task took no effect) and the next statement waited
/// for it. Now the work stops with the cancel and the next statement is answered at once. The
/// bounds are a hang detector, not a speed target.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canceled_cross_join_frees_the_session_at_once() {
    let _alone = IN_PROCESS.lock().await;
    let dir = tempfile::tempdir().unwrap();
    write_sample(dir.path(), SampleSpec::default()).unwrap();
    let mut s = session(dir.path()).await;
    // Billions of rows (minutes of work); no statistic answers it.
    let cross_join = "SELECT count(*) FROM pams_public_order_items a, pams_public_order_items b, \
                      pams_public_customers c WHERE a.quantity + c.id <> b.quantity;";
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let started = Instant::now();
    s.line(cross_join, || tokio::time::sleep(Duration::from_secs(2)), &mut out, &mut err).await.unwrap();
    let err = String::from_utf8(err).unwrap();
    assert!(err.contains("canceled") && out.is_empty(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10), "the cancel took {:?}", started.elapsed());

    // The work has stopped: over the next second the process hardly uses a core.
    let before = cpu_time();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let used = cpu_time() - before;
    assert!(used < Duration::from_millis(500), "{used:?} of CPU in the second after the cancel");

    // The next statement is answered at once (a timer on this thread, which no busy worker holds).
    let answered = tokio::time::timeout(Duration::from_secs(10), feed(&mut s, &["SELECT 2 AS two;"])).await;
    assert_eq!(answered.expect("the next statement was not answered within 10 s").0, "two\n2\n");
}

#[test]
fn piped_input_runs_every_statement_and_fails_when_one_did() {
    let dir = tempfile::tempdir().unwrap();
    write_sample(dir.path(), SampleSpec::default()).unwrap();
    let run = |input: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_athenaq"))
            .args(["--format", "csv", "shell", "--local"])
            .arg(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        (String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap(), out.status.code())
    };
    let (out, err, code) = run("SELECT count(*) AS n\nFROM pams_public_customers;\n\\d pams_public_customers\n");
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("n\n100\n"), "{out}");
    assert!(out.contains("vip,Boolean"), "{out}");
    let (out, err, code) = run("SELECT broken FROM nowhere;\nSELECT 1 AS one;\n");
    assert_eq!(code, Some(1));
    assert!(err.contains("nowhere") && out.contains("one\n1\n"), "{out}{err}");
    let (_, err, code) = run("SELECT 1\n");
    assert_eq!(code, Some(1));
    assert!(err.contains("no closing `;`"), "{err}");
}
