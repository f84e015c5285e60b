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

/// The orders part file of the second export (the one with a batch folder), for tests that
/// change one file.
fn an_orders_part(exports: &Path) -> PathBuf {
    let mut parts = Vec::new();
    parquet_files(exports, &mut parts);
    parts.sort();
    parts.into_iter().find(|p| p.to_string_lossy().contains("public.orders")).unwrap()
}

/// Rewrites a Parquet file with only its first `keep` rows, padded (in its key-value metadata)
/// to exactly `size` bytes.
fn rewrite_to_size(path: &Path, keep: usize, size: u64) {
    use parquet::file::metadata::KeyValue;
    use parquet::file::properties::WriterProperties;
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap()).unwrap().build().unwrap();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    let write = |pad: usize| {
        let props = WriterProperties::builder()
            .set_key_value_metadata(Some(vec![KeyValue::new("pad".into(), "x".repeat(pad))]));
        let mut bytes = Vec::new();
        let mut writer = ArrowWriter::try_new(&mut bytes, batches[0].schema(), Some(props.build())).unwrap();
        writer.write(&batches[0].slice(0, keep)).unwrap();
        writer.close().unwrap();
        bytes
    };
    let mut pad = 0;
    for _ in 0..8 {
        let bytes = write(pad);
        match (bytes.len() as u64).cmp(&size) {
            std::cmp::Ordering::Equal => {
                std::fs::write(path, bytes).unwrap();
                return;
            }
            std::cmp::Ordering::Less => pad += (size - bytes.len() as u64) as usize,
            std::cmp::Ordering::Greater => pad -= (bytes.len() as u64 - size) as usize,
        }
    }
    panic!("could not pad {} to {size} bytes", path.display());
}

/// The sum of the `orders` column of [`SQL`]'s answer.
fn orders(csv: &str) -> u64 {
    csv.lines().skip(1).map(|l| l.split(',').nth(1).unwrap().parse::<u64>().unwrap()).sum()
}

#[test]
fn a_part_rewritten_to_its_size_with_its_mtime_put_back_is_read_again() {
    let exports = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    write_sample(exports.path(), SampleSpec { orders: 3_000, customers: 80 }).unwrap();
    let (first, _) = query(exports.path(), cache.path(), &[]);

    // As `touch -r`: the same size, the modification time put back. Only the change time (which
    // no user can set) tells the new file from the old.
    let part = an_orders_part(exports.path());
    let before = std::fs::metadata(&part).unwrap();
    rewrite_to_size(&part, 7, before.len());
    std::fs::File::options().write(true).open(&part).unwrap().set_modified(before.modified().unwrap()).unwrap();
    let after = std::fs::metadata(&part).unwrap();
    assert_eq!((after.len(), after.modified().unwrap()), (before.len(), before.modified().unwrap()));

    let (cached, err) = query(exports.path(), cache.path(), &[]);
    let (fresh, _) = query(exports.path(), cache.path(), &["--no-cache"]);
    assert_eq!(cached, fresh, "the cache answers as a fresh read does: {err}");
    assert!(orders(&cached) < orders(&first), "{cached}");
}

/// A cache entry that still matches a changed file (here planted; a clock set back, a copy that
/// keeps times and inode): a query that reads data fails naming the part file and the way out,
/// and the entry is dropped, so the next run is right.
#[test]
fn a_stale_footer_the_cache_cannot_see_is_named_and_dropped() {
    let exports = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    write_sample(exports.path(), SampleSpec { orders: 3_000, customers: 80 }).unwrap();
    query(exports.path(), cache.path(), &[]);

    let part = an_orders_part(exports.path());
    truncate_part(&part, 7);
    let now = athenaq::source::metadata_cache::Version::of_file(&std::fs::metadata(&part).unwrap());
    let (file, bytes) = cache_files(cache.path()).remove(0);
    let mut stored: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let inside = part.strip_prefix(exports.path()).unwrap().to_str().unwrap().to_owned();
    let entry = stored["footers"]
        .as_object_mut()
        .unwrap()
        .iter_mut()
        .find_map(|(key, entry)| key.ends_with(&inside).then_some(entry))
        .expect("the part's footer is kept");
    entry["size"] = now.size.into();
    entry["stamp"] = now.stamp.clone().into();
    std::fs::write(&file, serde_json::to_vec(&stored).unwrap()).unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_athenaq"))
        .args(["query", "--format", "csv", "--local"])
        .arg(exports.path())
        .arg(SQL)
        .env("ATHENAQ_CACHE_DIR", cache.path())
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(!out.status.success());
    assert!(err.contains(&*part.to_string_lossy()) && err.contains("--no-cache"), "{err}");

    let (again, _) = query(exports.path(), cache.path(), &[]);
    assert_eq!(again, query(exports.path(), cache.path(), &["--no-cache"]).0);
}

#[test]
fn a_folder_is_one_source_however_it_is_named() {
    let root = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let exports = root.path().join("exports");
    write_sample(&exports, SampleSpec { orders: 300, customers: 20 }).unwrap();
    std::os::unix::fs::symlink(&exports, root.path().join("linked")).unwrap();
    let run = |folder: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_athenaq"))
            .args(["query", "--format", "csv", "--local", folder, SQL])
            .current_dir(root.path())
            .env("ATHENAQ_CACHE_DIR", cache.path())
            .output()
            .unwrap();
        assert!(out.status.success());
        (String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
    };
    let (first, _) = run("exports");
    // "(N of M part file(s)' metadata from the cache)"
    let hits = |err: &str| -> Option<(usize, usize)> {
        let (_, rest) = err.rsplit_once(" row(s) in ")?;
        let (counts, _) = rest.split_once(" part file(s)' metadata from the cache")?;
        let (n, m) = counts.rsplit_once('(')?.1.split_once(" of ")?;
        Some((n.parse().ok()?, m.parse().ok()?))
    };
    for folder in [exports.to_str().unwrap(), "./exports", "linked", "exports/"] {
        let (again, err) = run(folder);
        assert_eq!(again, first, "{folder}");
        assert!(hits(&err).is_some_and(|(n, m)| n == m && n > 0), "{folder}: every footer from the cache: {err}");
    }
    assert_eq!(cache_files(cache.path()).len(), 1, "one cache file for the one folder");
}

/// A cache folder or file that is a link (`~/.cache/athenaq -> /etc` made athenaq write
/// `/etc/metadata/<hash>.json`): never followed, said in a warning, and the query runs without
/// the cache. A temporary folder stands for /etc.
#[test]
fn a_linked_cache_folder_or_file_is_never_followed() {
    let exports = tempfile::tempdir().unwrap();
    write_sample(exports.path(), SampleSpec { orders: 300, customers: 20 }).unwrap();
    let (expected, _) = query(exports.path(), tempfile::tempdir().unwrap().path(), &["--no-cache"]);
    let run = |env: &[(&str, &Path)]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_athenaq"));
        command.args(["query", "--format", "csv", "--local"]).arg(exports.path()).arg(SQL);
        command.env_remove("ATHENAQ_CACHE_DIR").env_remove("XDG_CACHE_HOME");
        for (name, value) in env {
            command.env(name, value);
        }
        let out = command.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        (String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
    };

    // $XDG_CACHE_HOME/athenaq, athenaq's own folder, is a link.
    let home = tempfile::tempdir().unwrap();
    let victim = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(victim.path(), home.path().join("athenaq")).unwrap();
    for _ in 0..2 {
        let (out, err) = run(&[("XDG_CACHE_HOME", home.path())]);
        assert_eq!(out, expected);
        assert!(
            err.contains("symbolic link") && err.contains(&*home.path().join("athenaq").to_string_lossy()),
            "{err}"
        );
        assert_eq!(std::fs::read_dir(victim.path()).unwrap().count(), 0, "nothing written through the link");
    }

    // ATHENAQ_CACHE_DIR is a link.
    let linked = home.path().join("linked-cache");
    std::os::unix::fs::symlink(victim.path(), &linked).unwrap();
    let (out, err) = run(&[("ATHENAQ_CACHE_DIR", &linked)]);
    assert_eq!(out, expected);
    assert!(err.contains("symbolic link"), "{err}");
    assert_eq!(std::fs::read_dir(victim.path()).unwrap().count(), 0);

    // The cache file is a link: neither read nor written through.
    let cache = tempfile::tempdir().unwrap();
    run(&[("ATHENAQ_CACHE_DIR", cache.path())]);
    let (file, _) = cache_files(cache.path()).remove(0);
    let target = victim.path().join("target.json");
    std::fs::write(&target, b"precious").unwrap();
    std::fs::remove_file(&file).unwrap();
    std::os::unix::fs::symlink(&target, &file).unwrap();
    let (out, err) = run(&[("ATHENAQ_CACHE_DIR", cache.path())]);
    assert_eq!(out, expected);
    assert!(err.contains("symbolic link") && err.contains(&*file.to_string_lossy()), "{err}");
    assert_eq!(std::fs::read(&target).unwrap(), b"precious");
}

/// A cache folder that cannot be made (a read-only home): the real reason with the folder and
/// what to do, and the query's answer all the same.
#[test]
fn a_cache_that_cannot_be_written_says_why_and_the_query_runs() {
    let exports = tempfile::tempdir().unwrap();
    write_sample(exports.path(), SampleSpec { orders: 300, customers: 20 }).unwrap();
    let home = tempfile::tempdir().unwrap();
    // A file on the way: no folder can be made there, as root too (whom permissions do not stop).
    std::fs::write(home.path().join("cache"), b"").unwrap();
    let blocked = home.path().join("cache/deeper/athenaq");
    let (out, err) = query(exports.path(), &blocked, &[]);
    assert_eq!(out, query(exports.path(), home.path(), &["--no-cache"]).0);
    assert!(err.contains(&format!("cannot create the folder {}", home.path().join("cache/deeper").display())), "{err}");
    assert!(err.contains("Not a directory") && !err.contains("No such file"), "{err}");
    assert!(err.contains("ATHENAQ_CACHE_DIR") && err.contains("--no-cache"), "{err}");
}
