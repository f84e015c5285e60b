//! What discovery learns about exports, kept between runs so that a repeated query skips it:
//! the exports' JSON files (which hold the partition values, `snapshot_date` and `export_id`) and
//! each part file's Parquet footer (its schema, row groups, statistics and page index).
//!
//! One file per source in the user's cache directory (`$XDG_CACHE_HOME/athenaq/metadata`, else
//! `~/.cache/athenaq/metadata`; `ATHENAQ_CACHE_DIR` overrides). An entry is used only while its
//! file is unchanged: in a folder the same size, modification time, change time, device and
//! inode (the change time is what `touch` cannot put back), on S3 the same size and ETag.
//! Whatever changed is read again, and entries for files that are gone are dropped when the
//! cache is written back. `--no-cache` neither reads nor writes it.
//!
//! A folder is one source however it is given (relative, absolute, through a link): it is known
//! by its canonical path, and its files by their path inside it. The cache never follows a link
//! in its own folders or files (see [`crate::user_dirs`]); a cache that cannot be used is a
//! warning, never the query's failure.

use s3exports_evidence::manifest::hex;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use datafusion::datasource::physical_plan::parquet::metadata::CachedParquetMetaData;
use datafusion::execution::cache::cache_manager::CachedFileMetadataEntry;
use datafusion::prelude::SessionContext;
use object_store::ObjectMeta;
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData, ParquetMetaDataReader, ParquetMetaDataWriter};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::user_dirs::{DirError, OwnDir};

/// Bumped whenever the file's layout changes: an older cache is then ignored, not misread.
const FORMAT: u32 = 2;

/// A part file as discovery found it: its path (`/dir/...` or `s3://bucket/key`) and what the
/// object store says of it.
#[derive(Debug, Clone)]
pub struct Part {
    pub file: PathBuf,
    pub meta: ObjectMeta,
}

/// A file as it is now, which is what a cached entry must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub size: u64,
    /// The ETag on S3; in a folder the device, inode, modification and change times.
    pub stamp: String,
}

impl Version {
    /// A file in a folder: its size, device, inode, modification and change times.
    pub fn of_file(metadata: &std::fs::Metadata) -> Self {
        Self::of(&local_meta(object_store::path::Path::default(), metadata))
    }

    /// An endpoint that lists no ETag (some S3-compatible stores) gives no way to tell versions
    /// of the same size apart: such files are never taken from the cache, nor kept in it.
    pub fn is_known(&self) -> bool {
        !self.stamp.is_empty()
    }

    pub fn of(meta: &ObjectMeta) -> Self {
        let stamp = meta.e_tag.clone().unwrap_or_else(|| {
            meta.last_modified.timestamp_nanos_opt().map_or_else(|| meta.last_modified.to_rfc3339(), |n| n.to_string())
        });
        Self { size: meta.size, stamp }
    }
}

/// What the object store says of a file in a folder (at `location`, its path as the store
/// spells it): its size and modification time, and as its ETag what a rewrite changes however
/// it is hidden: a part file rewritten to the same size with its modification time put back
/// (`touch -r`) still has a new change time, which no user can set, and a file copied over it
/// has a new inode.
pub fn local_meta(location: object_store::path::Path, metadata: &std::fs::Metadata) -> ObjectMeta {
    use std::os::unix::fs::MetadataExt;
    let modified = metadata.modified().map(chrono::DateTime::<chrono::Utc>::from).unwrap_or_default();
    let e_tag = format!(
        "{:x}-{:x}-{}.{:09}-{}.{:09}",
        metadata.dev(),
        metadata.ino(),
        metadata.mtime(),
        metadata.mtime_nsec(),
        metadata.ctime(),
        metadata.ctime_nsec()
    );
    ObjectMeta { location, last_modified: modified, size: metadata.len(), e_tag: Some(e_tag), version: None }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    size: u64,
    stamp: String,
    /// A JSON file's bytes, or a footer as Parquet writes one; base64.
    bytes: String,
}

impl Entry {
    fn matches(&self, version: &Version) -> bool {
        version.is_known() && self.size == version.size && self.stamp == version.stamp
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Stored {
    format: u32,
    /// What the cache is of (a folder, or an endpoint, bucket and prefix), for whoever looks.
    source: String,
    /// By file path (or S3 key).
    json: BTreeMap<String, Entry>,
    footers: BTreeMap<String, Entry>,
}

#[derive(Debug, Default)]
struct State {
    loaded: Stored,
    /// The entries this run used or learned: what is written back.
    kept: Stored,
    changed: bool,
}

/// The cache of one source for one run.
#[derive(Debug, Clone)]
pub struct MetadataCache {
    /// The folder the cache files are in, and this source's file there.
    dir: Option<OwnDir>,
    file: Option<PathBuf>,
    /// A folder's path as given: its files are kept by their path inside it.
    root: Option<PathBuf>,
    state: Arc<Mutex<State>>,
    /// Part files whose footer this run took from the cache.
    footer_hits: Arc<std::sync::atomic::AtomicUsize>,
}

/// Where the caches live: `ATHENAQ_CACHE_DIR`, `$XDG_CACHE_HOME/athenaq/metadata` or
/// `~/.cache/athenaq/metadata`; `None` when none of them is set.
pub fn cache_dir() -> Option<OwnDir> {
    if let Some(dir) = std::env::var_os("ATHENAQ_CACHE_DIR").filter(|d| !d.is_empty()) {
        return Some(OwnDir::given(Path::new(&dir)));
    }
    Some(crate::user_dirs::user_dir("XDG_CACHE_HOME", ".cache")?.join("metadata"))
}

/// What to do about a cache that cannot be used.
const WHAT_TO_DO: &str = "set ATHENAQ_CACHE_DIR (or XDG_CACHE_HOME) to a folder you can write, or pass --no-cache";

impl MetadataCache {
    /// A cache that remembers nothing: `--no-cache`.
    pub fn off() -> Self {
        Self { dir: None, file: None, root: None, state: Arc::default(), footer_hits: Arc::default() }
    }

    /// The cache of the folder `dir`: one source however `dir` is spelled (relative, absolute,
    /// through a link), its files kept by their path inside it.
    pub fn of_folder(dir: &Path) -> Self {
        let canonical = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
        let mut cache = Self::of_source(&format!("folder {}", canonical.display()));
        cache.root = Some(dir.to_owned());
        cache
    }

    /// The cache of `source` (endpoint + bucket + prefix on S3), loaded from the cache
    /// directory. A cache that cannot be read is started afresh, with a warning; one in a linked
    /// folder, or a link itself, is not used at all this run.
    pub fn of_source(source: &str) -> Self {
        let Some(dir) = cache_dir() else { return Self::off() };
        let folder = match dir.check() {
            Ok(folder) => folder,
            Err(e) => {
                eprintln!("warning: the metadata cache is not used this run: {e} (or {WHAT_TO_DO})");
                return Self::off();
            }
        };
        let file = folder.join(format!("{}.json", hex(&Sha256::digest(source.as_bytes()))));
        let mut loaded = match crate::user_dirs::open_own_file(&file) {
            Ok(None) => Stored::default(),
            Ok(Some(mut handle)) => {
                let mut bytes = Vec::new();
                match std::io::Read::read_to_end(&mut handle, &mut bytes) {
                    Ok(_) => serde_json::from_slice::<Stored>(&bytes).unwrap_or_else(|e| {
                        eprintln!("warning: ignoring the metadata cache {}: {e}; it is rebuilt", file.display());
                        Stored::default()
                    }),
                    Err(e) => {
                        eprintln!(
                            "warning: cannot read the metadata cache {}: {e}; reading everything",
                            file.display()
                        );
                        Stored::default()
                    }
                }
            }
            Err(e @ DirError::Link(_)) => {
                eprintln!("warning: the metadata cache is not used this run: {e} (or {WHAT_TO_DO})");
                return Self::off();
            }
            Err(e) => {
                eprintln!("warning: {e}; the metadata cache is not read, everything is read afresh");
                Stored::default()
            }
        };
        if loaded.format != FORMAT {
            loaded = Stored::default();
        }
        let kept = Stored { format: FORMAT, source: source.to_owned(), ..Stored::default() };
        Self {
            dir: Some(dir),
            file: Some(file),
            root: None,
            state: Arc::new(Mutex::new(State { loaded, kept, changed: false })),
            footer_hits: Arc::default(),
        }
    }

    /// The key of a file: its path inside the folder (so that `exports` and `/abs/exports` are
    /// one source), or its `s3://` path. A path that is not UTF-8 is not cached, since a lossy
    /// spelling could give two files one key; nor is a file outside the folder.
    fn key(&self, file: &Path) -> Option<String> {
        match &self.root {
            Some(root) => file.strip_prefix(root).ok()?.to_str().map(str::to_owned),
            None => file.to_str().map(str::to_owned),
        }
    }

    /// Drops what the cache holds of `file` (its footer was found not to be the file's).
    pub fn forget(&self, file: &Path) {
        let Some(key) = self.key(file).filter(|_| self.is_on()) else { return };
        let mut state = lock(&self.state);
        state.loaded.footers.remove(&key);
        if state.kept.footers.remove(&key).is_some() {
            state.changed = true;
        }
    }

    pub fn is_on(&self) -> bool {
        self.file.is_some()
    }

    /// Part files whose footer this run took from the cache.
    pub fn footer_hits(&self) -> usize {
        self.footer_hits.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// An export's JSON file from the cache, when `version` matches the one kept.
    pub fn cached_json(&self, file: &Path, version: &Version) -> Option<Vec<u8>> {
        if !self.is_on() {
            return None;
        }
        let key = self.key(file)?;
        let mut state = lock(&self.state);
        let entry = state.loaded.json.get(&key).filter(|e| e.matches(version)).cloned()?;
        let bytes = BASE64.decode(&entry.bytes).ok()?;
        state.kept.json.insert(key, entry);
        Some(bytes)
    }

    /// Keeps a JSON file just read.
    pub fn keep_json(&self, file: &Path, version: &Version, bytes: &[u8]) {
        let Some(key) = self.key(file).filter(|_| self.is_on() && version.is_known()) else { return };
        let entry = Entry { size: version.size, stamp: version.stamp.clone(), bytes: BASE64.encode(bytes) };
        let mut state = lock(&self.state);
        state.kept.json.insert(key, entry);
        state.changed = true;
    }

    /// Whether the cache holds this part file's footer, as the file is now: such a file was
    /// read whole before and has not changed since, so its framing needs no check.
    pub fn has_footer(&self, file: &Path, version: &Version) -> bool {
        let state = lock(&self.state);
        self.key(file).and_then(|k| state.loaded.footers.get(&k)).is_some_and(|e| e.matches(version))
    }

    /// Hands the cached footers of `parts` (as they are now) to the session's own metadata
    /// cache, so DataFusion plans and reads without fetching them. A footer that does not decode
    /// is left to be read from the file.
    pub fn prime(&self, ctx: &SessionContext, parts: &[Part]) {
        if !self.is_on() {
            return;
        }
        let session_cache = ctx.runtime_env().cache_manager.get_file_metadata_cache();
        let mut state = lock(&self.state);
        let mut used = 0;
        for Part { file, meta } in parts {
            let Some(key) = self.key(file) else { continue };
            let Some(entry) = state.loaded.footers.get(&key).filter(|e| e.matches(&Version::of(meta))).cloned() else {
                continue;
            };
            let Some(metadata) = decode_footer(&entry.bytes) else { continue };
            session_cache.put(
                &meta.location,
                CachedFileMetadataEntry::new(meta.clone(), Arc::new(CachedParquetMetaData::new(Arc::new(metadata)))),
            );
            state.kept.footers.insert(key, entry);
            used += 1;
        }
        self.footer_hits.fetch_add(used, std::sync::atomic::Ordering::Relaxed);
    }

    /// Takes the footers DataFusion read for `parts` during this run into the cache.
    pub fn learn(&self, ctx: &SessionContext, parts: &[Part]) {
        if !self.is_on() {
            return;
        }
        let session_cache = ctx.runtime_env().cache_manager.get_file_metadata_cache();
        let mut state = lock(&self.state);
        for Part { file, meta } in parts {
            let Some(key) = self.key(file) else { continue };
            let version = Version::of(meta);
            if !version.is_known() || state.kept.footers.get(&key).is_some_and(|e| e.matches(&version)) {
                continue;
            }
            let Some(cached) = session_cache.get(&meta.location).filter(|c| c.is_valid_for(meta)) else { continue };
            let Some(parquet) = cached.file_metadata.as_any().downcast_ref::<CachedParquetMetaData>() else {
                continue;
            };
            let Some(bytes) = encode_footer(parquet.parquet_metadata()) else { continue };
            state.kept.footers.insert(key, Entry { size: version.size, stamp: version.stamp, bytes });
            state.changed = true;
        }
    }

    /// Writes the cache back when this run learned or dropped anything: atomically (a reader never
    /// sees half a file), into folders made without following a link; a failure is a warning,
    /// never the query's failure.
    pub fn save(&self) {
        let (Some(dir), Some(file)) = (&self.dir, &self.file) else { return };
        let state = lock(&self.state);
        let dropped =
            state.loaded.json.len() > state.kept.json.len() || state.loaded.footers.len() > state.kept.footers.len();
        if !state.changed && !dropped {
            mark_used(file);
            return;
        }
        let folder = match dir.create() {
            Ok(folder) => folder,
            Err(e) => {
                eprintln!("warning: the metadata cache was not saved: {e}; {WHAT_TO_DO}");
                return;
            }
        };
        if let Err(e) = write_atomically(&folder, file, &state.kept) {
            eprintln!("warning: the metadata cache was not saved to {}: {e}; {WHAT_TO_DO}", file.display());
        }
        forget_unused(&folder, file);
    }
}

/// Caches not written for this long are of folders or prefixes no longer queried (a deleted
/// copy, a test's temporary folder): they are removed, so the directory does not grow forever.
const UNUSED_FOR: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);

/// An unchanged cache still in use is dated anew (at most daily), so it is not taken for unused.
fn mark_used(file: &Path) {
    let Ok(Some(handle)) = crate::user_dirs::open_own_file(file) else { return };
    let old = handle
        .metadata()
        .and_then(|m| m.modified())
        .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > std::time::Duration::from_secs(24 * 3600)));
    if old {
        let _ = handle.set_modified(std::time::SystemTime::now());
    }
}

fn forget_unused(dir: &Path, current: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let stale =
            entry.metadata().and_then(|m| m.modified()).is_ok_and(|t| t.elapsed().is_ok_and(|age| age > UNUSED_FOR));
        if stale && path != current && is_cache_file(&path) {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A new file in `dir` (created, never opened through an existing name), renamed over `file`:
/// a rename replaces a link at `file` itself, never writes through it.
fn write_atomically(dir: &Path, file: &Path, stored: &Stored) -> std::io::Result<()> {
    let mut temp = tempfile::NamedTempFile::new_in(dir)?;
    serde_json::to_writer(&mut temp, stored)?;
    temp.persist(file).map_err(|e| e.error)?;
    Ok(())
}

/// Only athenaq's own files (a SHA-256 in hex, `.json`) are ever removed: `ATHENAQ_CACHE_DIR`
/// may name a folder that holds other things.
fn is_cache_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    name.strip_suffix(".json").is_some_and(|stem| stem.len() == 64 && stem.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A footer (with its page index, when read) as Parquet lays one out, base64.
fn encode_footer(metadata: &ParquetMetaData) -> Option<String> {
    let mut buffer = Vec::new();
    ParquetMetaDataWriter::new(&mut buffer, metadata).finish().ok()?;
    Some(BASE64.encode(buffer))
}

fn decode_footer(text: &str) -> Option<ParquetMetaData> {
    let bytes = Bytes::from(BASE64.decode(text).ok()?);
    ParquetMetaDataReader::new().with_page_index_policy(PageIndexPolicy::Optional).parse_and_finish(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_its_own_files_are_ever_removed() {
        let ours = format!("{}.json", hex(&Sha256::digest(b"folder /exports")));
        assert!(is_cache_file(Path::new(&ours)));
        for other in ["notes.json", "settings.json", "0123.json", &ours.replace(".json", ".txt")] {
            assert!(!is_cache_file(Path::new(other)), "{other}");
        }
    }

    #[test]
    fn a_footer_survives_the_round_trip_with_its_page_index() {
        use datafusion::arrow::array::{Int64Array, RecordBatch, StringArray};
        use datafusion::arrow::datatypes::{DataType, Field, Schema};
        use parquet::arrow::ArrowWriter;

        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from_iter_values(0..5000)),
                Arc::new(StringArray::from_iter((0..5000).map(|i| (i % 7 != 0).then(|| format!("n{i}"))))),
            ],
        )
        .unwrap();
        let mut file = Vec::new();
        let mut writer = ArrowWriter::try_new(&mut file, schema, None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        let original = ParquetMetaDataReader::new()
            .with_page_index_policy(PageIndexPolicy::Required)
            .parse_and_finish(&Bytes::from(file))
            .unwrap();
        let decoded = decode_footer(&encode_footer(&original).unwrap()).unwrap();
        assert_eq!(decoded.file_metadata().num_rows(), 5000);
        // Where the data is, and what it holds, are kept; the page index's own offsets now point
        // into the cached bytes, which is where it is read from.
        let chunks = |m: &ParquetMetaData| -> Vec<_> {
            m.row_groups()
                .iter()
                .flat_map(|g| g.columns())
                .map(|c| {
                    (
                        c.data_page_offset(),
                        c.dictionary_page_offset(),
                        c.compressed_size(),
                        c.num_values(),
                        c.statistics().cloned(),
                    )
                })
                .collect()
        };
        assert_eq!(chunks(&decoded), chunks(&original));
        assert!(decoded.column_index().is_some() && decoded.offset_index().is_some());
        assert_eq!(decoded.offset_index(), original.offset_index());
    }
}
