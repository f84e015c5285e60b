//! The Lambda zip: found, hashed, and uploaded content-addressed to the artifacts bucket.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Where `scripts/package` (cargo lambda) leaves the exporter's zip.
pub const DEFAULT_ZIP: &str = "target/lambda/exporter/bootstrap.zip";

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug, Clone)]
pub struct CodeZip {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
    /// `exporter/<sha256>.zip`: a new build is a new key, an unchanged one is not re-uploaded.
    pub key: String,
}

pub fn read_zip(path: &Path) -> std::io::Result<CodeZip> {
    let bytes = std::fs::read(path)?;
    let key = format!("exporter/{}.zip", sha256_hex(&bytes));
    Ok(CodeZip { path: path.to_owned(), bytes, key })
}

/// Uploads the zip unless the bucket has that content already; returns whether it uploaded.
pub async fn upload(s3: &aws_sdk_s3::Client, bucket: &str, zip: &CodeZip) -> Result<bool, String> {
    if s3.head_object().bucket(bucket).key(&zip.key).send().await.is_ok() {
        return Ok(false);
    }
    s3.put_object().bucket(bucket).key(&zip.key).body(zip.bytes.clone().into()).send().await.map_err(|e| {
        format!("uploading {} to s3://{bucket}/{}: {}", zip.path.display(), zip.key, s3exports_cli::error_text(&e))
    })?;
    Ok(true)
}
