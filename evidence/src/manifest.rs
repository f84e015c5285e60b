//! The manifest of one export: what RDS reported, what each table held, every object with its
//! version and S3's checksum, the link to the database's previous manifest, and the seal. It is
//! written as canonical JSON (fields in a fixed order, lists sorted, no whitespace), so the
//! same export always gives the same bytes and the same SHA-256.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The manifest format this code writes and reads.
pub const MANIFEST_VERSION: u32 = 1;

/// Who wrote a manifest.
pub fn tool() -> String {
    format!("rds-snapshot-s3exports {}", env!("CARGO_PKG_VERSION"))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub manifest_version: u32,
    pub tool: String,
    /// The configured database (RDS instance or Aurora cluster id).
    pub database: String,
    pub export: ExportRecord,
    /// The tables RDS exported whole, by target.
    pub tables: Vec<TableRecord>,
    /// What RDS left out or warned about (`export_tables_info` entries not COMPLETE, and
    /// entries that are no table result at all), with its messages.
    pub left_out: Vec<LeftOut>,
    /// Every object of the export, by key.
    pub objects: Vec<ObjectRecord>,
    /// The database's manifest written before this one; `None` for the first.
    pub previous: Option<Link>,
    /// The retention every object (and the manifest) gets; `None` when sealing is off.
    pub seal: Option<SealRecord>,
}

/// The export task, as RDS reported it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportRecord {
    pub id: String,
    pub source_arn: String,
    pub snapshot_time: Option<DateTime<Utc>>,
    /// automated, manual or awsbackup.
    pub snapshot_type: String,
    pub task_start_time: Option<DateTime<Utc>>,
    pub task_end_time: Option<DateTime<Utc>>,
    /// The key the export was encrypted with, as the task names it.
    pub kms_key_id: String,
    pub iam_role_arn: String,
    /// `totalExportedDataInGB` of the export's `export_info` file; `None` when it has none.
    pub total_exported_data_in_gb: Option<f64>,
    pub s3_bucket: String,
    pub s3_prefix: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableRecord {
    /// `database.schema.table` (PostgreSQL) or `database.table` (MySQL).
    pub target: String,
    /// RDS's status (COMPLETE).
    pub status: String,
    pub parts: u64,
    pub bytes: u64,
    /// The sum of the part footers' row counts; `None` when a footer could not be read (an
    /// archived part, when the manifest is written by a backfill).
    pub rows: Option<u64>,
    /// In the order of the first part's footer.
    pub columns: Vec<ColumnRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnRecord {
    pub name: String,
    /// The Parquet physical type, with the logical type when there is one (`BYTE_ARRAY (String)`).
    pub parquet_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeftOut {
    pub target: String,
    /// RDS's status; empty for an entry that is no table result (a warning).
    pub status: String,
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectRecord {
    pub key: String,
    pub size: u64,
    /// Without quotes.
    pub etag: String,
    /// As S3 gives it: `null` for a version written before versioning was enabled. `None` when
    /// S3 gave none (manifests written before `null` was kept have `None` for it too).
    pub version_id: Option<String>,
    /// S3's own checksum of the object, where S3 keeps one (CRC64NVME by default since
    /// December 2024).
    pub checksum: Option<Checksum>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checksum {
    /// The algorithm as S3's `ChecksumAlgorithm` names it: CRC64NVME, CRC32, CRC32C, SHA1,
    /// SHA256, SHA512, MD5, XXHASH64, XXHASH3 or XXHASH128 (whichever S3 reports).
    pub algorithm: String,
    /// As S3 gives it (base64).
    pub value: String,
    /// FULL_OBJECT or COMPOSITE (a multipart object's checksum of its parts' checksums).
    pub kind: Option<String>,
}

/// A link to another manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    pub export_id: String,
    pub key: String,
    /// Hex SHA-256 of the manifest's bytes.
    pub sha256: String,
    /// From when the lifecycle may remove that manifest (its snapshot day plus the lifecycle's
    /// expiry days, the day its seal ends): a link to a manifest gone after this is the chain
    /// aging out as configured, not a gap. `None` when it was not known.
    #[serde(default)]
    pub lapses: Option<DateTime<Utc>>,
}

impl Link {
    /// Whether the manifest it names may be gone by `now` without anyone having removed it.
    pub fn lapsed(&self, now: DateTime<Utc>) -> bool {
        self.lapses.is_some_and(|l| l <= now)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealRecord {
    /// GOVERNANCE or COMPLIANCE.
    pub mode: String,
    pub retain_until: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{key} is not a manifest: {why}")]
    NotAManifest { key: String, why: String },
}

impl Manifest {
    /// The canonical bytes: lists sorted, fields in their fixed order, compact.
    pub fn to_canonical_bytes(&self) -> Vec<u8> {
        let mut m = self.clone();
        m.tables.sort_by(|a, b| a.target.cmp(&b.target));
        m.left_out.sort_by(|a, b| (&a.target, &a.status).cmp(&(&b.target, &b.status)));
        m.objects.sort_by(|a, b| a.key.cmp(&b.key));
        serde_json::to_vec(&m).unwrap_or_default()
    }

    /// Reads a manifest, checking its schema and version; `key` names it in the error.
    pub fn parse(key: &str, bytes: &[u8]) -> Result<Self, ManifestError> {
        // Bounded: the key and serde's message (which quotes the value it did not expect, of any
        // size) come from what is stored.
        let not =
            |why: String| ManifestError::NotAManifest { key: crate::text::shown(key), why: crate::text::shown(&why) };
        let m: Manifest = serde_json::from_slice(bytes).map_err(|e| not(e.to_string()))?;
        if m.manifest_version != MANIFEST_VERSION {
            return Err(not(format!("manifest_version {} (this tool reads {MANIFEST_VERSION})", m.manifest_version)));
        }
        if m.export.id.is_empty() || m.database.is_empty() {
            return Err(not("no export id or database".into()));
        }
        Ok(m)
    }

    pub fn total_bytes(&self) -> u64 {
        self.objects.iter().map(|o| o.size).sum()
    }

    /// Rows over every table; `None` when any table's are unknown.
    pub fn total_rows(&self) -> Option<u64> {
        self.tables.iter().map(|t| t.rows).sum()
    }
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex of a base64 checksum as S3 gives it (`x-amz-checksum-sha256`); `None` if not base64.
pub fn base64_to_hex(value: &str) -> Option<String> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(value).ok().map(|b| hex(&b))
}

/// Base64 of a hex digest, as S3 takes a checksum.
pub fn hex_to_base64(value: &str) -> Option<String> {
    use base64::Engine;
    let bytes: Option<Vec<u8>> =
        (0..value.len()).step_by(2).map(|i| value.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok())).collect();
    Some(base64::engine::general_purpose::STANDARD.encode(bytes?))
}

#[cfg(test)]
pub(crate) fn sample(id: &str, previous: Option<Link>) -> Manifest {
    let at = |s: &str| DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc));
    Manifest {
        manifest_version: MANIFEST_VERSION,
        tool: "rds-snapshot-s3exports 0.1.0".into(),
        database: "pams-stack-prod".into(),
        export: ExportRecord {
            id: id.into(),
            source_arn: "arn:aws:rds:us-east-1:1:snapshot:rds:pams-stack-prod-2026-11-24-03-10".into(),
            snapshot_time: at("2026-11-24T03:10:00Z"),
            snapshot_type: "automated".into(),
            task_start_time: at("2026-11-24T03:20:00Z"),
            task_end_time: at("2026-11-24T04:20:00Z"),
            kms_key_id: "arn:aws:kms:us-east-1:1:key/k".into(),
            iam_role_arn: "arn:aws:iam::1:role/r".into(),
            total_exported_data_in_gb: Some(1.5),
            s3_bucket: "b".into(),
            s3_prefix: String::new(),
        },
        tables: vec![TableRecord {
            target: "pams.public.orders".into(),
            status: "COMPLETE".into(),
            parts: 2,
            bytes: 30,
            rows: Some(100),
            columns: vec![ColumnRecord { name: "id".into(), parquet_type: "INT64".into() }],
        }],
        left_out: vec![LeftOut { target: "postgres".into(), status: String::new(), message: Some("nothing".into()) }],
        objects: vec![
            ObjectRecord {
                key: format!("{id}/b.parquet"),
                size: 20,
                etag: "e2".into(),
                version_id: None,
                checksum: None,
            },
            ObjectRecord {
                key: format!("{id}/a.parquet"),
                size: 10,
                etag: "e1".into(),
                version_id: Some("v".into()),
                checksum: None,
            },
        ],
        previous,
        seal: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_manifest_gives_the_same_bytes_whatever_the_order_it_was_built_in() {
        let a = sample("e1", None);
        let mut b = a.clone();
        b.objects.reverse();
        assert_eq!(a.to_canonical_bytes(), b.to_canonical_bytes());
        assert_eq!(sha256_hex(&a.to_canonical_bytes()), sha256_hex(&b.to_canonical_bytes()));
        let text = String::from_utf8(a.to_canonical_bytes()).unwrap();
        assert!(text.starts_with("{\"manifest_version\":1,\"tool\":"), "{text}");
        assert!(text.find("e1/a.parquet").unwrap() < text.find("e1/b.parquet").unwrap(), "objects sorted by key");
        assert!(!text.contains('\n') && !text.contains(": "), "compact");
        let back = Manifest::parse("k", &a.to_canonical_bytes()).unwrap();
        assert_eq!(back.to_canonical_bytes(), a.to_canonical_bytes());
    }

    #[test]
    fn anything_but_a_manifest_of_this_version_is_refused_naming_the_key() {
        let err = Manifest::parse("_evidence/db/e1.json", b"{\"not\": 1}").unwrap_err().to_string();
        assert!(err.starts_with("_evidence/db/e1.json is not a manifest"), "{err}");
        let mut m = sample("e1", None);
        m.manifest_version = 2;
        let err = Manifest::parse("k", &serde_json::to_vec(&m).unwrap()).unwrap_err().to_string();
        assert!(err.contains("manifest_version 2"), "{err}");
        let mut extra: serde_json::Value = serde_json::from_slice(&sample("e1", None).to_canonical_bytes()).unwrap();
        extra["added_by_someone"] = serde_json::json!(true);
        assert!(Manifest::parse("k", &serde_json::to_vec(&extra).unwrap()).is_err(), "unknown fields are refused");
    }

    #[test]
    fn checksums_convert_between_s3s_base64_and_hex() {
        let hex = sha256_hex(b"abc");
        let b64 = hex_to_base64(&hex).unwrap();
        assert_eq!(b64, "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
        assert_eq!(base64_to_hex(&b64).as_deref(), Some(hex.as_str()));
        assert_eq!(base64_to_hex("not base64!"), None);
    }
}
