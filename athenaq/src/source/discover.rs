//! The layout RDS writes for an export, read from a local copy:
//! `<prefix>/<export-id>/<database>/<schema>.<table>/<batch>/part-*.parquet` (older exports have
//! no batch folder), `export_info_<export-id>.json` and
//! `export_tables_info_<export-id>_from_<n>_to_<m>.json`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::source::metadata_cache::{MetadataCache, Version};

pub use s3exports_rds::layout::{ExportInfo, SchemaMetadata, TableRef, TableStatus, TablesInfo, TypeMapping};
use s3exports_rds::{footer, layout as rds_layout};

#[derive(Debug, Clone)]
pub struct LocalTable {
    pub table: TableRef,
    pub status: String,
    pub dir: PathBuf,
    /// Every part file, batch folders and flat layouts alike, sorted.
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct LocalExport {
    pub info: ExportInfo,
    /// `YYYY-MM-DD`, never empty: the partition value every local query filters on.
    pub snapshot_date: String,
    /// The `<export-id>` folder.
    pub root: PathBuf,
    pub tables: Vec<LocalTable>,
    /// Every entry of the export's `export_tables_info` files (tables RDS skipped and its
    /// notes included), with the columns' original types; empty when it has none.
    pub entries: Vec<TableStatus>,
}

#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is not an RDS export info file: {source}")]
    Json { path: PathBuf, source: serde_json::Error },
    #[error(
        "{path}: no snapshot date: snapshotTime is {time:?} (expected ISO 8601 or `Nov 23, 2026 3:05:41 AM`) \
         and sourceArn names no automated snapshot; fix the file or remove the export from the folder"
    )]
    NoSnapshotDate { path: PathBuf, time: Option<String> },
    #[error("{path} is in {class} and not restored, so S3 will not serve it")]
    Archived { path: PathBuf, class: String },
    #[error("{path}: damaged part file: {why}; copy it again from S3 or remove its export from the folder")]
    BadPart { path: PathBuf, why: String },
    #[error(
        "no export found under {0}: expected export_info_<export-id>.json files beside the export \
         folders RDS writes (copy them with `aws s3 cp --recursive s3://<bucket>/<prefix>/ DIR`)"
    )]
    Empty(PathBuf),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DiscoverError + '_ {
    move |source| DiscoverError::Io { path: path.to_owned(), source }
}

/// Reads one of the export's JSON files: from the folder, or from what was fetched from S3.
pub type ReadFile<'a> = dyn Fn(&Path) -> Result<Vec<u8>, DiscoverError> + 'a;

fn read_json<T: for<'de> Deserialize<'de>>(read: &ReadFile, path: &Path) -> Result<T, DiscoverError> {
    let bytes = read(path)?;
    serde_json::from_slice(&bytes).map_err(|source| DiscoverError::Json { path: path.to_owned(), source })
}

/// `export_info_*.json` and `export_tables_info_*.json`: the files that say what an export is.
pub fn is_info_file(path: &Path) -> bool {
    let name = file_name(path);
    name.starts_with("export_") && name.ends_with(".json")
}

/// Something under the folder that discovery left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.reason)
    }
}

/// The exports found under a folder, and what was left out.
#[derive(Debug, Clone)]
pub struct Discovered {
    pub exports: Vec<LocalExport>,
    pub skipped: Vec<Skipped>,
}

/// Every file below `dir`, sorted, for a deterministic view of the copy. Symbolic links to
/// folders are not followed (a link loop would never end, and a link to a copy would count an
/// export twice); they are reported as skipped.
fn walk(dir: &Path, skipped: &mut Vec<Skipped>) -> Result<Vec<PathBuf>, DiscoverError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(io(&d))? {
            let entry = entry.map_err(io(&d))?;
            let path = entry.path();
            if entry.file_name().to_str().is_none() {
                // RDS writes none, S3 keys are UTF-8, and a query could not name it.
                let reason = "a name that is not UTF-8: not read (rename it to include it)".into();
                skipped.push(Skipped { path, reason });
                continue;
            }
            let kind = entry.file_type().map_err(io(&path))?;
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_symlink() {
                if path.is_dir() {
                    skipped.push(Skipped { path, reason: "a link to a folder: not followed".into() });
                } else {
                    out.push(path);
                }
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Checks a part file's framing before any Parquet reader sees it: a reader trusts the footer's
/// length field, and a damaged one (0 bytes, truncated, or a length past the file) must be an
/// error naming the file, not a panic deep inside the reader.
pub fn check_part_file(path: &Path) -> Result<(), DiscoverError> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path).map_err(io(path))?;
    let len = file.metadata().map_err(io(path))?.len();
    if len < PART_FILE_MIN {
        return check_part_framing(path, len, &[], &[]);
    }
    let mut head = [0u8; 4];
    file.read_exact(&mut head).map_err(io(path))?;
    let mut tail = [0u8; footer::TAIL_LEN];
    file.seek(SeekFrom::End(-(footer::TAIL_LEN as i64))).map_err(io(path))?;
    file.read_exact(&mut tail).map_err(io(path))?;
    check_part_framing(path, len, &head, &tail)
}

/// The smallest a Parquet file can be: `PAR1`, then the 8-byte tail.
pub const PART_FILE_MIN: u64 = footer::MIN_FILE_LEN;

/// The check of [`check_part_file`] on a file's first 4 and last 8 bytes, wherever they were read
/// ([`footer::check_framing`]).
pub fn check_part_framing(path: &Path, len: u64, head: &[u8], tail: &[u8]) -> Result<(), DiscoverError> {
    footer::check_framing(len, head, tail).map_err(|why| DiscoverError::BadPart { path: path.to_owned(), why })
}

fn file_name(path: &Path) -> &str {
    path.file_name().and_then(|n| n.to_str()).unwrap_or_default()
}

/// Finds every export under `dir`. An export id seen twice (the same export copied twice) is
/// counted once; exports RDS reports FAILED or CANCELED, links to folders and table folders that
/// are not `<schema>.<table>` are left out; each with its reason in `skipped`. A damaged part
/// file is an error naming it.
pub fn discover(dir: &Path) -> Result<Discovered, DiscoverError> {
    discover_cached(dir, &MetadataCache::off())
}

/// [`discover`], with the JSON files of `cache` used while unchanged, and the framing check left
/// out for part files whose footer `cache` holds (read whole before, unchanged since).
pub fn discover_cached(dir: &Path, cache: &MetadataCache) -> Result<Discovered, DiscoverError> {
    let mut skipped = Vec::new();
    let files = walk(dir, &mut skipped)?;
    let version = |path: &Path| std::fs::metadata(path).map(|m| Version::of_file(&m)).map_err(io(path));
    let read = |path: &Path| {
        let version = version(path)?;
        if let Some(bytes) = cache.cached_json(path, &version) {
            return Ok(bytes);
        }
        let bytes = std::fs::read(path).map_err(io(path))?;
        cache.keep_json(path, &version, &bytes);
        Ok(bytes)
    };
    let found = assemble(dir, &files, &read, skipped)?;
    for file in found.exports.iter().flat_map(|e| &e.tables).flat_map(|t| &t.files) {
        if !(cache.is_on() && cache.has_footer(file, &version(file)?)) {
            check_part_file(file)?;
        }
    }
    if found.exports.is_empty() {
        return Err(DiscoverError::Empty(dir.to_owned()));
    }
    Ok(found)
}

/// The exports among `files` (every file below `dir`, sorted), their JSON files read with
/// `read`; the part files are listed, not read. Empty when there are none.
pub fn assemble(
    dir: &Path,
    files: &[PathBuf],
    read: &ReadFile,
    mut skipped: Vec<Skipped>,
) -> Result<Discovered, DiscoverError> {
    let mut exports: Vec<LocalExport> = Vec::new();
    for info_path in files.iter().filter(|p| file_name(p).starts_with("export_info_") && is_info_file(p)) {
        let id_from_name = file_name(info_path).trim_start_matches("export_info_").trim_end_matches(".json").to_owned();
        // An archived JSON file leaves its export out (with the restore to run), not the others.
        let archived = |e: DiscoverError, skipped: &mut Vec<Skipped>| match e {
            DiscoverError::Archived { path, class } => {
                let reason = format!(
                    "export {id_from_name}'s JSON file is in {class} and not restored: `athenaq restore {id_from_name}`, \
                     then try again"
                );
                skipped.push(Skipped { path, reason });
                Ok(())
            }
            other => Err(other),
        };
        let info = read(info_path).and_then(|bytes| {
            ExportInfo::from_json(&bytes, &id_from_name)
                .map_err(|source| DiscoverError::Json { path: info_path.clone(), source })
        });
        let info = match info {
            Ok(info) => info,
            Err(e) => {
                archived(e, &mut skipped)?;
                continue;
            }
        };
        if let Some(first) = exports.iter().find(|e| e.info.export_task_identifier == info.export_task_identifier) {
            let reason =
                format!("export {} again (counted once, from {})", info.export_task_identifier, first.root.display());
            skipped.push(Skipped { path: info_path.clone(), reason });
            continue;
        }
        let status = info.status.to_ascii_uppercase();
        if matches!(status.as_str(), "FAILED" | "CANCELED" | "CANCELING") {
            let reason =
                format!("export {} is {status}: its files are not a whole snapshot", info.export_task_identifier);
            skipped.push(Skipped { path: info_path.clone(), reason });
            continue;
        }
        let parent = info_path.parent().unwrap_or(dir);
        // The info files sit in the export folder, or beside it.
        let root = rds_layout::export_folder_of_info(parent, &id_from_name);
        let tables_info = rds_layout::tables_info_name_prefix(&id_from_name);

        let mut statuses: Vec<TableStatus> = Vec::new();
        let mut readable = true;
        for p in files.iter().filter(|p| p.parent() == Some(parent) && file_name(p).starts_with(&tables_info)) {
            match read_json::<TablesInfo>(read, p) {
                Ok(info) => statuses.extend(info.per_table_status),
                Err(e) => {
                    archived(e, &mut skipped)?;
                    readable = false;
                    break;
                }
            }
        }
        if !readable {
            continue;
        }
        let tables = tables_of(&root, files, &statuses, &mut skipped);
        // As the cataloguer dates the export: its `snapshotTime`, else its automated snapshot's id.
        let Some(snapshot_date) = info.partition_date() else {
            return Err(DiscoverError::NoSnapshotDate { path: info_path.clone(), time: info.snapshot_time.clone() });
        };
        exports.push(LocalExport { info, snapshot_date, root, tables, entries: statuses });
    }
    exports.sort_by(|a, b| {
        (&a.snapshot_date, &a.info.export_task_identifier).cmp(&(&b.snapshot_date, &b.info.export_task_identifier))
    });
    Ok(Discovered { exports, skipped })
}

fn tables_of(root: &Path, files: &[PathBuf], statuses: &[TableStatus], skipped: &mut Vec<Skipped>) -> Vec<LocalTable> {
    let parquet: Vec<&PathBuf> =
        files.iter().filter(|p| p.starts_with(root) && file_name(p).ends_with(".parquet")).collect();
    // Table folders are the second level below the export folder.
    let mut dirs: Vec<PathBuf> = parquet
        .iter()
        .filter_map(|p| {
            let rel = p.strip_prefix(root).ok()?;
            let mut parts = rel.components();
            let db = parts.next()?;
            let table = parts.next()?;
            Some(root.join(db).join(table))
        })
        .collect();
    dirs.dedup();
    let mut tables: Vec<LocalTable> = dirs
        .into_iter()
        .filter_map(|dir| {
            let database = file_name(dir.parent()?).to_owned();
            let leaf = file_name(&dir).to_owned();
            let status = statuses
                .iter()
                .find(|s| TableRef::from_target(&s.target).is_some_and(|t| root.join(t.folder()) == dir));
            let table = match status.and_then(|s| TableRef::from_target(&s.target)) {
                Some(t) => t,
                None => {
                    let Some((first, rest)) = leaf.split_once('.').filter(|(a, b)| !a.is_empty() && !b.is_empty())
                    else {
                        let reason = "a table folder is named `<schema>.<table>` (or `<database>.<table>`), and no \
                                      export_tables_info entry names it"
                            .to_owned();
                        skipped.push(Skipped { path: dir.clone(), reason });
                        return None;
                    };
                    let schema = (first != database).then(|| first.to_owned());
                    TableRef { database, schema, table: rest.to_owned() }
                }
            };
            let files = parquet.iter().filter(|p| p.starts_with(&dir)).map(|p| (*p).clone()).collect();
            Some(LocalTable {
                table,
                status: status.map_or_else(|| "COMPLETE".to_owned(), |s| s.status.clone()),
                dir,
                files,
            })
        })
        .collect();
    tables.sort_by_key(|t| t.table.glue_table());
    tables
}
