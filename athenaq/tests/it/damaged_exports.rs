//! Local copies of exports as they really arrive: damaged, duplicated, linked in loops, from
//! failed exports, with Java-form dates; and SQL that tries to leave the exports. Every case
//! ends in a clear error naming the file, or a skip with its reason, never a panic or a hang.

use std::path::{Path, PathBuf};

use athenaq::engine::{self, EngineError, catalog_tables};
use athenaq::source::discover::{self, DiscoverError};
use s3exports_testkit::sample::{SampleSpec, SnapshotFacts, write_sample};

fn sample() -> (tempfile::TempDir, Vec<SnapshotFacts>) {
    let dir = tempfile::tempdir().unwrap();
    let facts = write_sample(dir.path(), SampleSpec { orders: 200, customers: 20 }).unwrap();
    (dir, facts)
}

fn files_below(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().ends_with(suffix) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn info_file(dir: &Path, export_id: &str) -> PathBuf {
    files_below(dir, &format!("export_info_{export_id}.json")).remove(0)
}

fn edit_info(path: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut info: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    edit(&mut info);
    std::fs::write(path, info.to_string()).unwrap();
}

#[test]
fn a_folder_link_loop_neither_hangs_nor_multiplies_rows() {
    let (dir, facts) = sample();
    std::os::unix::fs::symlink(dir.path(), dir.path().join(&facts[0].export_id).join("loop")).unwrap();
    let found = discover::discover(dir.path()).unwrap();
    assert_eq!(found.exports.len(), 2);
    assert!(
        found.skipped.iter().any(|s| s.path.ends_with("loop") && s.reason.contains("not followed")),
        "{:?}",
        found.skipped
    );
}

#[test]
fn the_same_export_copied_twice_counts_once() {
    let (dir, facts) = sample();
    let copy = dir.path().join("copy");
    std::fs::create_dir(&copy).unwrap();
    let original = dir.path().join(&facts[1].export_id);
    for file in files_below(&original, "") {
        let target = copy.join(&facts[1].export_id).join(file.strip_prefix(&original).unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&file, &target).unwrap();
    }
    let found = discover::discover(dir.path()).unwrap();
    assert_eq!(found.exports.len(), 2);
    assert!(found.skipped.iter().any(|s| s.reason.contains("again (counted once")), "{:?}", found.skipped);
}

/// Damages a part file in place.
type Damage = fn(&Path);

#[test]
fn empty_truncated_and_lying_part_files_are_errors_naming_the_file() {
    let cases: [(&str, Damage); 3] = [
        ("0 bytes", |p| std::fs::write(p, b"").unwrap()),
        ("no PAR1 magic", |p| {
            let bytes = std::fs::read(p).unwrap();
            std::fs::write(p, &bytes[..bytes.len() / 2]).unwrap();
        }),
        // A footer length of 0x7fffffff made the parquet crate panic.
        ("footer claims", |p| {
            let mut bytes = std::fs::read(p).unwrap();
            let n = bytes.len();
            bytes[n - 8..n - 4].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
            std::fs::write(p, bytes).unwrap();
        }),
    ];
    for (expected, damage) in cases {
        let (dir, _) = sample();
        let part = files_below(dir.path(), ".parquet").remove(0);
        damage(&part);
        let err = discover::discover(dir.path()).unwrap_err();
        assert!(matches!(err, DiscoverError::BadPart { .. }), "{expected}: {err}");
        let text = err.to_string();
        assert!(text.contains(&part.display().to_string()) && text.contains(expected), "{text}");
    }
}

#[test]
fn failed_exports_and_odd_table_folders_are_left_out_with_the_reason() {
    let (dir, facts) = sample();
    edit_info(&info_file(dir.path(), &facts[0].export_id), |info| info["status"] = "FAILED".into());
    let odd = dir.path().join(&facts[1].export_id).join("pams").join("no-dot-here");
    std::fs::create_dir_all(&odd).unwrap();
    std::fs::copy(files_below(dir.path(), ".parquet").remove(0), odd.join("part-00000.parquet")).unwrap();
    let found = discover::discover(dir.path()).unwrap();
    assert_eq!(found.exports.len(), 1);
    assert!(found.skipped.iter().any(|s| s.reason.contains("is FAILED")), "{:?}", found.skipped);
    assert!(
        found.skipped.iter().any(|s| s.path == odd && s.reason.contains("<schema>.<table>")),
        "{:?}",
        found.skipped
    );
}

#[tokio::test]
async fn java_form_dates_still_give_every_row_its_snapshot_date() {
    let (dir, facts) = sample();
    edit_info(&info_file(dir.path(), &facts[0].export_id), |info| {
        info["snapshotTime"] = "Nov 23, 2026 3:05:41 AM".into();
    });
    let exports = discover::discover(dir.path()).unwrap().exports;
    let ctx = engine::session(&catalog_tables(&exports, None, None)).await.unwrap();
    let rows = engine::query(&ctx, "SELECT count(*) FROM pams_public_orders WHERE snapshot_date = '2026-11-23'")
        .await
        .unwrap();
    assert_eq!(rows.rows[0][0].as_deref(), Some(facts[0].rows["orders"].to_string().as_str()));
}

#[test]
fn an_undatable_export_is_an_error_naming_its_file() {
    let (dir, facts) = sample();
    let path = info_file(dir.path(), &facts[0].export_id);
    edit_info(&path, |info| {
        info["snapshotTime"] = "sometime".into();
        info["sourceArn"] = "arn:aws:rds:us-east-1:1:snapshot:before-migration".into();
    });
    let err = discover::discover(dir.path()).unwrap_err().to_string();
    assert!(err.contains(&path.display().to_string()) && err.contains("no snapshot date"), "{err}");
}

#[tokio::test]
async fn local_sql_reads_exports_and_nothing_else() {
    let (dir, _) = sample();
    let exports = discover::discover(dir.path()).unwrap().exports;
    let ctx = engine::session(&catalog_tables(&exports, None, None)).await.unwrap();
    let out = dir.path().join("written.csv");
    for sql in [
        format!("COPY (SELECT 1) TO '{}'", out.display()),
        "CREATE EXTERNAL TABLE secrets (line VARCHAR) STORED AS CSV LOCATION '/etc/passwd'".to_owned(),
        "INSERT INTO pams_public_orders SELECT * FROM pams_public_orders".to_owned(),
        "SET datafusion.execution.batch_size = 1".to_owned(),
    ] {
        let err = engine::query(&ctx, &sql).await.unwrap_err();
        assert!(matches!(err, EngineError::NotReadOnly(_)), "{sql}: {err}");
    }
    assert!(!out.exists(), "COPY wrote a file");
    assert!(engine::query(&ctx, "EXPLAIN SELECT count(*) FROM pams_public_orders").await.is_ok());
}

#[tokio::test]
async fn a_missing_table_lists_the_tables_there_are() {
    let (dir, _) = sample();
    let exports = discover::discover(dir.path()).unwrap().exports;
    let ctx = engine::session(&catalog_tables(&exports, None, None)).await.unwrap();
    let err = engine::query(&ctx, "SELECT * FROM pams_public_ordrs").await.unwrap_err().to_string();
    assert!(err.contains("pams_public_ordrs") && err.contains("pams_public_orders"), "{err}");
}

#[tokio::test]
async fn a_400_term_or_chain_is_answered_not_a_stack_overflow() {
    let (dir, _) = sample();
    let exports = discover::discover(dir.path()).unwrap().exports;
    let ctx = engine::session(&catalog_tables(&exports, None, None)).await.unwrap();
    let terms: Vec<String> = (0..400).map(|i| format!("id = {i}")).collect();
    let sql = format!("SELECT count(*) FROM pams_public_orders WHERE {}", terms.join(" OR "));
    let rows = engine::query(&ctx, &sql).await.unwrap();
    assert_eq!(rows.rows.len(), 1);
}

#[tokio::test]
async fn engine_errors_are_said_once() {
    let (dir, _) = sample();
    let exports = discover::discover(dir.path()).unwrap().exports;
    let ctx = engine::session(&catalog_tables(&exports, None, None)).await.unwrap();
    let err = engine::query(&ctx, "SELECT nosuchcol FROM pams_public_orders").await.unwrap_err();
    let text = format!("{:#}", anyhow::Error::from(err));
    assert_eq!(text.matches("No field named").count(), 1, "{text}");
}

#[tokio::test]
async fn a_damaged_data_page_names_its_table_and_file() {
    let (dir, _) = sample();
    let exports = discover::discover(dir.path()).unwrap().exports;
    let tables = catalog_tables(&exports, None, None);
    // Footer intact, data pages garbled: discovery passes, reading fails.
    let part =
        files_below(dir.path(), ".parquet").into_iter().find(|p| p.to_string_lossy().contains("orders/")).unwrap();
    let mut bytes = std::fs::read(&part).unwrap();
    let end = bytes.len().saturating_sub(4096).max(64);
    for b in &mut bytes[8..end.min(4096)] {
        *b ^= 0xFF;
    }
    std::fs::write(&part, bytes).unwrap();
    let ctx = engine::session(&tables).await.unwrap();
    let sql = "SELECT sum(CAST(total AS DOUBLE)) FROM pams_public_orders";
    assert!(matches!(engine::query(&ctx, sql).await, Err(EngineError::DataFusion(_))));
    let damaged = engine::find_damaged_part(&ctx, &tables, sql).await.expect("the damaged file is found");
    let text = damaged.to_string();
    assert!(text.contains("pams_public_orders") && text.matches(&*part.display().to_string()).count() == 1, "{text}");
}

#[test]
fn a_file_whose_name_is_not_utf8_is_said_not_dropped_silently() {
    use std::os::unix::ffi::OsStrExt;
    let (dir, _) = sample();
    let part = files_below(dir.path(), ".parquet")
        .into_iter()
        .find(|p| p.to_string_lossy().contains("public.orders"))
        .unwrap();
    let renamed = part.with_file_name(std::ffi::OsStr::from_bytes(b"part-\xff.parquet"));
    std::fs::rename(&part, &renamed).unwrap();
    let found = discover::discover(dir.path()).unwrap();
    assert!(found.skipped.iter().any(|s| s.path == renamed && s.reason.contains("not UTF-8")), "{:?}", found.skipped);
}
