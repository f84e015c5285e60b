//! `pull`: an export (or one table) downloaded into the layout `query --local` reads, eight files
//! at a time, streamed to disk (memory stays bounded whatever the file size), resumable.
//!
//! Safe in a folder someone else can write to: every file is created new (never opened through
//! an existing name), no link inside the folder is followed (a linked export folder or a link
//! planted at a file's or a `.partial`'s path is refused or removed, never written through), and
//! a key that would land outside the folder (a `..` segment) is not pulled: it is skipped and
//! named in [`Pulled::refused`], the rest is pulled, and the command says the copy is incomplete.
//!
//! Resuming trusts a file only if the pull record (`DIR/.athenaq-pull/<export id>.json`) says it
//! was downloaded whole from the object S3 still has (same ETag and size) and the file's SHA-256
//! is still the one recorded, so a damaged or replaced file of the same size is downloaded again.
//! Archived objects are refused with a pointer to `restore`; S3's folder markers are not files.

use s3exports_evidence::manifest::hex;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use futures::{StreamExt, stream};
use s3exports_rds::AwsError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::aws::s3::{Object, is_folder_marker};
use crate::progress;

/// Files downloaded at once. Each streams through a buffer of the chunks the connection
/// delivers, so memory stays in megabytes: see the README.
pub const CONCURRENCY: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error(
        "{count} of the objects are archived and not restored (e.g. {example}): run `athenaq restore {export_id}` first"
    )]
    Archived { count: usize, example: String, export_id: String },
    #[error("object key `{0}` would be written outside the folder; refusing it")]
    UnsafeKey(String),
    #[error(
        "{0} is a symbolic link: athenaq never writes through links inside the folder it pulls into; remove the link \
         or pull into another folder"
    )]
    Link(PathBuf),
    #[error("{path}: {message}")]
    Local { path: PathBuf, message: String },
    #[error("s3://{bucket}/{key}: {error}")]
    S3 { bucket: String, key: String, error: AwsError },
    #[error("s3://{bucket}/{key} changed during the pull ({why}); run the pull again")]
    Changed { bucket: String, key: String, why: String },
}

/// Where an object goes: `dir/<key after the export's prefix>`, i.e. `dir/<export id>/...`.
pub fn local_path(dir: &Path, prefix: &str, key: &str) -> Result<PathBuf, PullError> {
    let relative = key.strip_prefix(prefix.trim_start_matches('/')).unwrap_or(key).trim_start_matches('/');
    let relative = Path::new(relative);
    if relative.as_os_str().is_empty() || !relative.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(PullError::UnsafeKey(key.to_owned()));
    }
    Ok(dir.join(relative))
}

/// What a pull did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pulled {
    pub downloaded: usize,
    pub bytes: u64,
    /// Already there, whole and unchanged.
    pub skipped: usize,
    /// Keys that would land outside the folder (a `..` or empty segment), not pulled: the copy
    /// lacks them.
    pub refused: Vec<String>,
}

/// One file the pull record vouches for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PulledFile {
    pub etag: String,
    pub size: u64,
    pub sha256: String,
}

/// The pull record of one export: key -> what was downloaded.
pub type Record = BTreeMap<String, PulledFile>;

fn record_path(dir: &Path, export_id: &str) -> PathBuf {
    dir.join(".athenaq-pull").join(format!("{export_id}.json"))
}

fn local(path: &Path) -> impl FnOnce(std::io::Error) -> PullError + '_ {
    move |e| PullError::Local { path: path.to_owned(), message: e.to_string() }
}

/// The record, or an empty one when there is none (or it does not parse: then everything is
/// checked again, which is safe).
fn read_record(path: &Path) -> Record {
    std::fs::read(path).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok()).unwrap_or_default()
}

fn write_record(dir: &Path, path: &Path, record: &Record) -> Result<(), PullError> {
    let parent = path.parent().unwrap_or(dir);
    ensure_dirs(dir, parent)?;
    let temp = parent.join(format!(".{}.partial", std::process::id()));
    write_new(&temp, &serde_json::to_vec_pretty(record).unwrap_or_default())?;
    std::fs::rename(&temp, path).map_err(local(path))
}

/// Creates `path` (under `dir`) and every folder between, refusing any that is a link.
fn ensure_dirs(dir: &Path, path: &Path) -> Result<(), PullError> {
    let relative = path.strip_prefix(dir).map_err(|_| PullError::UnsafeKey(path.display().to_string()))?;
    let mut at = dir.to_owned();
    for part in relative.components() {
        at.push(part);
        match std::fs::symlink_metadata(&at) {
            Ok(meta) if meta.file_type().is_symlink() => return Err(PullError::Link(at)),
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(PullError::Local { path: at, message: "is a file where a folder belongs".into() });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => match std::fs::create_dir(&at) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(local(&at)(e)),
            },
            Err(e) => return Err(local(&at)(e)),
        }
    }
    Ok(())
}

/// A file created anew (never through an existing name or link) holding `bytes`.
fn write_new(path: &Path, bytes: &[u8]) -> Result<(), PullError> {
    remove_stale(path)?;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(path).map_err(local(path))?;
    file.write_all(bytes).map_err(local(path))
}

/// Removes whatever is at `path` if it is a file or a link (a link itself, never its target).
fn remove_stale(path: &Path) -> Result<(), PullError> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => {
            Err(PullError::Local { path: path.to_owned(), message: "is a folder where a file belongs".into() })
        }
        Ok(_) => std::fs::remove_file(path).map_err(local(path)),
        Err(_) => Ok(()),
    }
}

/// Whether the file at `path` is the one the record vouches for: a regular file (not a link) of
/// the recorded size and SHA-256, downloaded from the object version S3 still has.
fn still_whole(path: &Path, object: &Object, recorded: Option<&PulledFile>) -> bool {
    let Some(recorded) = recorded else { return false };
    let Ok(meta) = std::fs::symlink_metadata(path) else { return false };
    meta.is_file()
        && recorded.etag == object.etag
        && u64::try_from(object.size).ok() == Some(recorded.size)
        && meta.len() == recorded.size
        && sha256_file(path).is_ok_and(|h| h == recorded.sha256)
}

fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hex(&hasher.finalize()))
}

pub async fn pull(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    export_id: &str,
    objects: &[Object],
    dir: &Path,
) -> Result<Pulled, PullError> {
    let objects: Vec<&Object> = objects.iter().filter(|o| !is_folder_marker(&o.key, o.size)).collect();
    let archived: Vec<&&Object> = objects.iter().filter(|o| o.unreadable()).collect();
    if let Some(first) = archived.first() {
        return Err(PullError::Archived {
            count: archived.len(),
            example: first.key.clone(),
            export_id: export_id.to_owned(),
        });
    }
    std::fs::create_dir_all(dir).map_err(local(dir))?;
    let export_dir = dir.join(export_id);
    if std::fs::symlink_metadata(&export_dir).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(PullError::Link(export_dir));
    }
    let record_at = record_path(dir, export_id);
    let mut record = read_record(&record_at);
    let mut todo = Vec::new();
    let mut out = Pulled::default();
    for o in objects {
        let path = match local_path(dir, prefix, &o.key) {
            Ok(path) => path,
            Err(PullError::UnsafeKey(key)) => {
                out.refused.push(key);
                continue;
            }
            Err(e) => return Err(e),
        };
        ensure_dirs(dir, path.parent().unwrap_or(dir))?;
        if still_whole(&path, o, record.get(&o.key)) {
            out.skipped += 1;
        } else {
            record.remove(&o.key);
            todo.push((o, path));
        }
    }
    let total: u64 = todo.iter().map(|(o, _)| u64::try_from(o.size).unwrap_or(0)).sum();
    let bar = progress::bytes_bar(total, "pull");
    let mut downloads = stream::iter(todo.iter().map(|(o, path)| {
        let bar = bar.clone();
        async move { download(s3, bucket, o, path, &bar).await.map(|done| (o.key.clone(), done)) }
    }))
    .buffer_unordered(CONCURRENCY);
    let mut saved = Instant::now();
    let mut first_error = None;
    while let Some(result) = downloads.next().await {
        match result {
            Ok((key, done)) => {
                out.bytes += done.size;
                out.downloaded += 1;
                record.insert(key, done);
                // Saved as it goes, so an interrupted pull resumes where it stopped.
                if saved.elapsed() > Duration::from_secs(1) {
                    write_record(dir, &record_at, &record)?;
                    saved = Instant::now();
                }
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    bar.finish_and_clear();
    write_record(dir, &record_at, &record)?;
    match first_error {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// Streams one object to `<path>.partial` (created new), then renames it into place.
async fn download(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    object: &Object,
    path: &Path,
    bar: &indicatif::ProgressBar,
) -> Result<PulledFile, PullError> {
    let failed = |error| PullError::S3 { bucket: bucket.to_owned(), key: object.key.clone(), error };
    let changed = |why: String| PullError::Changed { bucket: bucket.to_owned(), key: object.key.clone(), why };
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(&object.key)
        .send()
        .await
        .map_err(|e| failed(s3exports_rds::classify(&e)))?;
    let etag = out.e_tag().unwrap_or_default().trim_matches('"').to_owned();
    if !object.etag.is_empty() && etag != object.etag {
        return Err(changed(format!("ETag {etag}, listed as {}", object.etag)));
    }
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".partial");
    let partial = path.with_file_name(name);
    remove_stale(&partial)?;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(&partial).map_err(local(&partial))?;
    let (mut hasher, mut size) = (Sha256::new(), 0u64);
    let mut body = out.body;
    while let Some(chunk) = body.next().await {
        let chunk = chunk
            .map_err(|e| failed(AwsError::Transient(format!("reading the body: {}", s3exports_cli::error_text(e)))))?;
        file.write_all(&chunk).map_err(local(&partial))?;
        hasher.update(&chunk);
        size += chunk.len() as u64;
        bar.inc(chunk.len() as u64);
    }
    file.sync_all().map_err(local(&partial))?;
    drop(file);
    if u64::try_from(object.size).ok() != Some(size) {
        let _ = std::fs::remove_file(&partial);
        return Err(changed(format!("{size} bytes read, listed as {}", object.size)));
    }
    // rename replaces a file or link at `path` itself; it never writes through a link.
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        return Err(PullError::Local { path: path.to_owned(), message: "is a folder where a file belongs".into() });
    }
    std::fs::rename(&partial, path).map_err(local(path))?;
    Ok(PulledFile { etag, size, sha256: hex(&hasher.finalize()) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_land_under_the_folder_or_are_refused() {
        let dir = Path::new("/tmp/copy");
        assert_eq!(
            local_path(dir, "exports", "exports/e1/pams/public.orders/1/part-0.parquet").unwrap(),
            dir.join("e1/pams/public.orders/1/part-0.parquet")
        );
        assert_eq!(local_path(dir, "", "e1/export_info_e1.json").unwrap(), dir.join("e1/export_info_e1.json"));
        for hostile in ["exports/../../etc/passwd", "exports/e1/../../../x", "exports/", ".."] {
            assert!(local_path(dir, "exports", hostile).is_err(), "{hostile}");
        }
        // A leading `/` never makes a path absolute here: it lands under the folder too.
        assert_eq!(local_path(dir, "exports", "/etc/passwd").unwrap(), dir.join("etc/passwd"));
    }

    #[test]
    fn folders_are_made_one_by_one_and_a_link_among_them_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        ensure_dirs(root.path(), &root.path().join("e1/pams/public.orders")).unwrap();
        assert!(root.path().join("e1/pams/public.orders").is_dir());
        std::os::unix::fs::symlink(outside.path(), root.path().join("e1/linked")).unwrap();
        let err = ensure_dirs(root.path(), &root.path().join("e1/linked/public.orders")).unwrap_err();
        assert!(matches!(err, PullError::Link(_)), "{err}");
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0, "nothing made through the link");
    }

    #[test]
    fn a_planted_link_is_replaced_never_written_through() {
        let root = tempfile::tempdir().unwrap();
        let victim = root.path().join("victim");
        std::fs::write(&victim, b"keep me").unwrap();
        let planted = root.path().join("part-0.parquet.partial");
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        write_new(&planted, b"downloaded").unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep me");
        assert_eq!(std::fs::read(&planted).unwrap(), b"downloaded");
        assert!(!std::fs::symlink_metadata(&planted).unwrap().file_type().is_symlink());
    }

    #[test]
    fn a_file_is_trusted_only_as_recorded() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("part-0.parquet");
        std::fs::write(&path, b"PAR1 data PAR1").unwrap();
        let object = Object {
            key: "e1/part-0.parquet".into(),
            size: 14,
            etag: "abc".into(),
            storage_class: "STANDARD".into(),
            restore: None,
        };
        let recorded = PulledFile { etag: "abc".into(), size: 14, sha256: sha256_file(&path).unwrap() };
        assert!(still_whole(&path, &object, Some(&recorded)));
        assert!(!still_whole(&path, &object, None), "no record: download again");
        let replaced = Object { etag: "def".into(), ..object.clone() };
        assert!(!still_whole(&path, &replaced, Some(&recorded)), "S3 has another object now");
        std::fs::write(&path, b"PAR1 dama PAR1").unwrap();
        assert!(!still_whole(&path, &object, Some(&recorded)), "same size, other bytes");
    }
}
