//! What S3 really holds for an export: its objects with their storage class and restore state
//! (ListObjectsV2, all pages, RestoreStatus asked for), one object's encryption (HeadObject),
//! ranged reads; and the plain summaries `list-exports`, `verify` and `restore` show.

use std::collections::BTreeMap;

use aws_sdk_s3::types::OptionalObjectAttributes;
use chrono::{DateTime, Utc};
use s3exports_rds::{AwsError, ExportTask, classify};

/// Where an object's data can be read from now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restore {
    /// Not archived, or archived and never restored.
    None,
    InProgress,
    /// A temporary copy readable until `until`.
    Restored {
        until: Option<DateTime<Utc>>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub key: String,
    pub size: i64,
    /// S3's storage class name (`STANDARD` when S3 omits it, as it does for Standard).
    pub storage_class: String,
    /// `None` when the listing did not say (S3 answers it only when asked, emulators not at
    /// all); HeadObject tells then.
    pub restore: Option<Restore>,
}

impl Object {
    /// Archived where GET cannot read it: Glacier Flexible Retrieval and Deep Archive.
    pub fn is_archived(&self) -> bool {
        is_archived_class(&self.storage_class)
    }

    /// Archived and with no restored copy (as far as known).
    pub fn unreadable(&self) -> bool {
        self.is_archived() && !matches!(self.restore, Some(Restore::Restored { .. }))
    }

    pub fn is_part_file(&self) -> bool {
        self.key.ends_with(".parquet")
    }
}

pub fn is_archived_class(class: &str) -> bool {
    matches!(class, "GLACIER" | "DEEP_ARCHIVE")
}

/// The folder an export's files are in: `<prefix>/<export id>/`.
pub fn export_folder(task: &ExportTask) -> String {
    let prefix = task.s3_prefix.trim_matches('/');
    if prefix.is_empty() { format!("{}/", task.id) } else { format!("{prefix}/{}/", task.id) }
}

pub async fn list(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Result<Vec<Object>, AwsError> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .optional_object_attributes(OptionalObjectAttributes::RestoreStatus)
            .set_continuation_token(token)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        out.extend(page.contents().iter().map(|o| Object {
            key: o.key().unwrap_or_default().to_owned(),
            size: o.size().unwrap_or_default(),
            storage_class: o.storage_class().map_or_else(|| "STANDARD".to_owned(), |c| c.as_str().to_owned()),
            restore: o.restore_status().map(|r| {
                if r.is_restore_in_progress().unwrap_or(false) {
                    Restore::InProgress
                } else {
                    Restore::Restored { until: s3exports_rds::sdk::to_chrono(r.restore_expiry_date()) }
                }
            }),
        }));
        token = page.next_continuation_token().map(str::to_owned);
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// What HeadObject says about one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// `aws:kms`, `AES256`, ...; `None` when S3 reports no encryption.
    pub sse: Option<String>,
    pub kms_key: Option<String>,
    pub storage_class: String,
    pub restore: Restore,
}

pub async fn head(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<Head, AwsError> {
    let out = s3.head_object().bucket(bucket).key(key).send().await.map_err(|e| classify(&e))?;
    Ok(Head {
        sse: out.server_side_encryption().map(|s| s.as_str().to_owned()),
        kms_key: out.ssekms_key_id().map(str::to_owned),
        storage_class: out.storage_class().map_or_else(|| "STANDARD".to_owned(), |c| c.as_str().to_owned()),
        restore: out.restore().map_or(Restore::None, parse_restore_header),
    })
}

/// The `x-amz-restore` header: `ongoing-request="true"`, or `ongoing-request="false",
/// expiry-date="Fri, 21 Dec 2012 00:00:00 GMT"`.
pub fn parse_restore_header(header: &str) -> Restore {
    if header.contains("ongoing-request=\"true\"") {
        return Restore::InProgress;
    }
    let until = header
        .split_once("expiry-date=\"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .and_then(|(date, _)| DateTime::parse_from_rfc2822(date).ok())
        .map(|d| d.with_timezone(&Utc));
    Restore::Restored { until }
}

pub use s3exports_cli::get_object as get;

/// One storage class, or `mixed (GLACIER 3, STANDARD 2)`; empty for no objects.
pub fn storage_class_summary(objects: &[Object]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for o in objects {
        *counts.entry(o.storage_class.as_str()).or_default() += 1;
    }
    match counts.len() {
        0 => String::new(),
        1 => counts.into_keys().next().unwrap_or_default().to_owned(),
        _ => format!("mixed ({})", counts.iter().map(|(c, n)| format!("{c} {n}")).collect::<Vec<_>>().join(", ")),
    }
}

/// `none`, `in progress n/m` or `restored until DATE` (the earliest expiry) over the archived
/// objects; `unknown` when the listing did not say.
pub fn restore_summary(objects: &[Object]) -> String {
    let archived: Vec<&Object> = objects.iter().filter(|o| o.is_archived()).collect();
    if archived.is_empty() {
        return "none".to_owned();
    }
    if archived.iter().all(|o| o.restore.is_none()) {
        return "unknown".to_owned();
    }
    let in_progress = archived.iter().filter(|o| o.restore == Some(Restore::InProgress)).count();
    let restored: Vec<Option<DateTime<Utc>>> = archived
        .iter()
        .filter_map(|o| match &o.restore {
            Some(Restore::Restored { until }) => Some(*until),
            _ => None,
        })
        .collect();
    if in_progress > 0 {
        return format!("in progress {}/{}", in_progress + restored.len(), archived.len());
    }
    if restored.len() == archived.len() {
        return match restored.iter().flatten().min() {
            Some(until) => format!("restored until {}", until.format("%Y-%m-%d")),
            None => "restored".to_owned(),
        };
    }
    if restored.is_empty() { "none".to_owned() } else { format!("restored {}/{}", restored.len(), archived.len()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(class: &str, restore: Option<Restore>) -> Object {
        Object { key: "k.parquet".into(), size: 1, storage_class: class.into(), restore }
    }

    #[test]
    fn storage_classes_summarised() {
        assert_eq!(storage_class_summary(&[object("STANDARD", None), object("STANDARD", None)]), "STANDARD");
        assert_eq!(
            storage_class_summary(&[object("GLACIER", None), object("STANDARD", None), object("GLACIER", None)]),
            "mixed (GLACIER 2, STANDARD 1)"
        );
        assert_eq!(storage_class_summary(&[]), "");
    }

    #[test]
    fn restore_states_summarised() {
        let until = DateTime::parse_from_rfc3339("2026-12-05T00:00:00Z").unwrap().with_timezone(&Utc);
        let done = || Some(Restore::Restored { until: Some(until) });
        assert_eq!(restore_summary(&[object("STANDARD", None)]), "none");
        assert_eq!(restore_summary(&[object("DEEP_ARCHIVE", Some(Restore::None))]), "none");
        assert_eq!(restore_summary(&[object("DEEP_ARCHIVE", None)]), "unknown");
        assert_eq!(
            restore_summary(&[object("DEEP_ARCHIVE", Some(Restore::InProgress)), object("DEEP_ARCHIVE", done())]),
            "in progress 2/2"
        );
        assert_eq!(
            restore_summary(&[object("GLACIER", done()), object("GLACIER", done())]),
            "restored until 2026-12-05"
        );
        assert!(!object("GLACIER", done()).unreadable() && object("GLACIER", Some(Restore::InProgress)).unreadable());
    }

    #[test]
    fn the_restore_header_in_both_states() {
        assert_eq!(parse_restore_header("ongoing-request=\"true\""), Restore::InProgress);
        let r = parse_restore_header("ongoing-request=\"false\", expiry-date=\"Fri, 21 Dec 2012 00:00:00 GMT\"");
        let Restore::Restored { until: Some(until) } = r else { panic!("{r:?}") };
        assert_eq!(until.format("%Y-%m-%d").to_string(), "2012-12-21");
    }
}
