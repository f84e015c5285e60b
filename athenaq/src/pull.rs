//! `pull`: an export (or one table) downloaded into the layout `query --local` reads, eight files
//! at a time, resumable: a file already there at its full size is skipped, and each download
//! goes to a `.partial` file first, so an interrupted run never leaves a short file looking
//! whole. Archived objects are refused with a pointer to `restore`.

use std::path::{Component, Path, PathBuf};

use futures::{StreamExt, stream};
use s3exports_rds::AwsError;

use crate::objects::{self, Object};
use crate::progress;

const CONCURRENCY: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error(
        "{count} of the objects are archived and not restored (e.g. {example}): run `athenaq restore {export_id}` first"
    )]
    Archived { count: usize, example: String, export_id: String },
    #[error("object key `{0}` would be written outside the folder; refusing it")]
    UnsafeKey(String),
    #[error("{path}: {message}")]
    Local { path: PathBuf, message: String },
    #[error("s3://{bucket}/{key}: {error}")]
    S3 { bucket: String, key: String, error: AwsError },
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
    /// Already there at full size.
    pub skipped: usize,
}

pub async fn pull(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    export_id: &str,
    objects: &[Object],
    dir: &Path,
) -> Result<Pulled, PullError> {
    let archived: Vec<&Object> = objects.iter().filter(|o| o.unreadable()).collect();
    if let Some(first) = archived.first() {
        return Err(PullError::Archived {
            count: archived.len(),
            example: first.key.clone(),
            export_id: export_id.to_owned(),
        });
    }
    let mut todo = Vec::new();
    let mut out = Pulled::default();
    for o in objects {
        let path = local_path(dir, prefix, &o.key)?;
        let have = std::fs::metadata(&path).map(|m| m.len()).ok();
        if have == u64::try_from(o.size).ok() {
            out.skipped += 1;
        } else {
            todo.push((o, path));
        }
    }
    let total: u64 = todo.iter().map(|(o, _)| u64::try_from(o.size).unwrap_or(0)).sum();
    let bar = progress::bytes_bar(total, "pull");
    let results: Vec<Result<u64, PullError>> = stream::iter(todo.iter().map(|(o, path)| {
        let bar = bar.clone();
        async move {
            let bytes = download(s3, bucket, &o.key, path).await?;
            bar.inc(bytes);
            Ok(bytes)
        }
    }))
    .buffer_unordered(CONCURRENCY)
    .collect()
    .await;
    bar.finish_and_clear();
    for r in results {
        out.bytes += r?;
        out.downloaded += 1;
    }
    Ok(out)
}

async fn download(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, path: &Path) -> Result<u64, PullError> {
    let local = |e: std::io::Error| PullError::Local { path: path.to_owned(), message: e.to_string() };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(local)?;
    }
    let body = objects::get(s3, bucket, key, None).await.map_err(|error| PullError::S3 {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        error,
    })?;
    let partial = path.with_extension(format!(
        "{}partial",
        path.extension().map(|e| format!("{}.", e.to_string_lossy())).unwrap_or_default()
    ));
    std::fs::write(&partial, &body).map_err(local)?;
    std::fs::rename(&partial, path).map_err(local)?;
    Ok(body.len() as u64)
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
}
