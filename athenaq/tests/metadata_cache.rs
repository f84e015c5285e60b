//! The metadata cache through the binary: a repeated query takes the exports' metadata from the
//! cache and answers the same; any change to a JSON or part file is seen; `--no-cache` neither
//! reads nor writes it.

use std::path::{Path, PathBuf};
use std::process::Command;

use datafusion::arrow::array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use s3exports_testkit::sample::{SampleSpec, write_sample};

const SQL: &str = "SELECT snapshot_date, count(*) AS orders, sum(CAST(total AS DECIMAL(14,2))) AS revenue \
                   FROM pams_stack_prod.pams_public_orders GROUP BY 1 ORDER BY 1";

/// stdout and stderr of `athenaq query --local exports SQL` with the cache in `cache`.
fn query(exports: &Path, cache: &Path, extra: &[&str]) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_athenaq"))
        .args(extra)
        .args(["query", "--format", "csv", "--local"])
        .arg(exports)
        .arg(SQL)
        .env("ATHENAQ_CACHE_DIR", cache)
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap());
    assert!(out.status.success(), "{stderr}");
    (stdout, stderr)
}

fn cache_files(cache: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(cache) else { return Vec::new() };
    let mut files: Vec<_> =
        entries.map(|e| e.unwrap().path()).map(|p| (p.clone(), std::fs::read(p).unwrap())).collect();
    files.sort();
    files
}

fn parquet_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            parquet_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "parquet") {
            out.push(path);
        }
    }
}

/// Rewrites a part file with only its first `keep` rows (a new size, a new modification time).
fn truncate_part(path: &Path, keep: usize) -> usize {
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap()).unwrap().build().unwrap();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    let all: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let schema = batches[0].schema();
    let mut writer = ArrowWriter::try_new(std::fs::File::create(path).unwrap(), schema, None).unwrap();
    writer.write(&batches[0].slice(0, keep)).unwrap();
    writer.close().unwrap();
    all - keep
}

#[test]
fn a_repeated_query_uses_the_cache_and_sees_every_change() {
    let exports = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    write_sample(exports.path(), SampleSpec { orders: 3_000, customers: 80 }).unwrap();

    let (first, err) = query(exports.path(), cache.path(), &[]);
    assert!(!err.contains("from the cache"), "{err}");
    let written = cache_files(cache.path());
    assert_eq!(written.len(), 1, "one cache file per folder");

    let (second, err) = query(exports.path(), cache.path(), &[]);
    assert_eq!(second, first);
    assert!(err.contains("part file(s)' metadata from the cache"), "{err}");
    assert_eq!(cache_files(cache.path()), written, "nothing changed, nothing rewritten");

    // --no-cache: the same answer, the cache neither used nor touched.
    let (bypassed, err) = query(exports.path(), cache.path(), &["--no-cache"]);
    assert_eq!(bypassed, first);
    assert!(!err.contains("from the cache"), "{err}");
    assert_eq!(cache_files(cache.path()), written);

    // A part file rewritten with fewer rows: its cached footer (row counts, statistics) must not
    // answer for it.
    let mut parts = Vec::new();
    parquet_files(exports.path(), &mut parts);
    let orders_part = parts.iter().find(|p| p.to_string_lossy().contains("public.orders")).unwrap();
    let removed = truncate_part(orders_part, 7);
    assert!(removed > 0);
    let (after, _) = query(exports.path(), cache.path(), &[]);
    let (fresh, _) = query(exports.path(), cache.path(), &["--no-cache"]);
    assert_eq!(after, fresh, "the cache answers as a fresh read does");
    assert_ne!(after, first);
    let count =
        |csv: &str| -> u64 { csv.lines().skip(1).map(|l| l.split(',').nth(1).unwrap().parse::<u64>().unwrap()).sum() };
    assert_eq!(count(&after) + removed as u64, count(&first));

    // An export's info file changed (another snapshot time): the partition value follows.
    let info = std::fs::read_dir(exports.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .flat_map(|d| std::fs::read_dir(d).into_iter().flatten().map(|e| e.unwrap().path()))
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("export_info_"))
        .or_else(|| {
            std::fs::read_dir(exports.path())
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("export_info_"))
        })
        .expect("an export_info file");
    let mut json: serde_json::Value = serde_json::from_slice(&std::fs::read(&info).unwrap()).unwrap();
    json["snapshotTime"] = serde_json::Value::String("2025-01-02T03:04:05Z".into());
    std::fs::write(&info, serde_json::to_vec(&json).unwrap()).unwrap();
    let (moved, _) = query(exports.path(), cache.path(), &[]);
    assert!(moved.contains("2025-01-02"), "{moved}");
    assert_eq!(moved, query(exports.path(), cache.path(), &["--no-cache"]).0);
}

#[test]
fn a_damaged_cache_is_rebuilt_with_a_warning() {
    let exports = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    write_sample(exports.path(), SampleSpec { orders: 500, customers: 20 }).unwrap();
    let (first, _) = query(exports.path(), cache.path(), &[]);
    let (file, _) = cache_files(cache.path()).remove(0);
    std::fs::write(&file, b"{not json").unwrap();
    let (again, err) = query(exports.path(), cache.path(), &[]);
    assert_eq!(again, first);
    assert!(err.contains("ignoring the metadata cache") && err.contains(&*file.to_string_lossy()), "{err}");
    let (_, err) = query(exports.path(), cache.path(), &[]);
    assert!(err.contains("from the cache") && !err.contains("warning"), "{err}");
}
