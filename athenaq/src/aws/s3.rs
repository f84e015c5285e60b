//! What S3 really holds for an export: its objects with their storage class and restore state
//! (ListObjectsV2, all pages, RestoreStatus asked for), one object's encryption (HeadObject),
//! ranged reads; and the plain summaries `list-exports`, `verify` and `restore` show.

use std::collections::BTreeMap;

use aws_sdk_s3::types::OptionalObjectAttributes;
use chrono::{DateTime, Utc};
use s3exports_rds::{AwsError, classify};

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
    /// S3's ETag, quotes removed.
    pub etag: String,
    /// S3's storage class name (`STANDARD` when S3 omits it, as it does for Standard).
    pub storage_class: String,
    /// `None` only where the endpoint may not say (see [`RestoreListing`]); HeadObject tells then.
    pub restore: Option<Restore>,
}

/// What a listing without `RestoreStatus` for an archived object means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreListing {
    /// AWS's S3 answers `RestoreStatus` when asked and leaves it out for an object that was
    /// never restored: absent means not restored.
    Answered,
    /// Another endpoint (an emulator, an S3-compatible store) may not answer it at all: absent
    /// is unknown, unless the same listing answered it for another object.
    MaybeUnanswered,
}

impl RestoreListing {
    /// `Answered` for AWS's own endpoints, `MaybeUnanswered` when an endpoint is overridden.
    pub fn for_sdk(sdk: &aws_config::SdkConfig) -> Self {
        if s3exports_cli::s3_endpoint_override(sdk).is_some() { Self::MaybeUnanswered } else { Self::Answered }
    }
}

/// A "folder" S3 consoles and tools create: an empty object whose key ends in `/`. Not data.
pub fn is_folder_marker(key: &str, size: i64) -> bool {
    key.ends_with('/') && size == 0
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

/// Every object under `prefix` (all pages, `RestoreStatus` asked for), folder markers left out.
pub async fn list(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    listing: RestoreListing,
) -> Result<Vec<Object>, AwsError> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .optional_object_attributes(OptionalObjectAttributes::RestoreStatus)
            .set_continuation_token(token.clone())
            .send()
            .await
            .map_err(|e| classify(&e))?;
        out.extend(
            page.contents()
                .iter()
                .filter(|o| !is_folder_marker(o.key().unwrap_or_default(), o.size().unwrap_or_default()))
                .map(|o| Object {
                    key: o.key().unwrap_or_default().to_owned(),
                    size: o.size().unwrap_or_default(),
                    etag: o.e_tag().unwrap_or_default().trim_matches('"').to_owned(),
                    storage_class: o.storage_class().map_or_else(|| "STANDARD".to_owned(), |c| c.as_str().to_owned()),
                    restore: o.restore_status().map(|r| {
                        if r.is_restore_in_progress().unwrap_or(false) {
                            Restore::InProgress
                        } else {
                            Restore::Restored { until: s3exports_rds::sdk::to_chrono(r.restore_expiry_date()) }
                        }
                    }),
                }),
        );
        let next = page.next_continuation_token().map(str::to_owned);
        if next.is_some() && next == token {
            // S3 never repeats a token; an endpoint that does would be listed forever.
            return Err(AwsError::Transient(format!(
                "ListObjectsV2 on s3://{bucket}/{prefix} repeated its continuation token"
            )));
        }
        token = next;
        if token.is_none() {
            settle_absent_restore_states(&mut out, listing);
            return Ok(out);
        }
    }
}

/// An archived object the listing gave no `RestoreStatus` for was never restored, where the
/// endpoint is known to answer it: S3 itself, or one that answered it for another object.
pub fn settle_absent_restore_states(objects: &mut [Object], listing: RestoreListing) {
    let answered = listing == RestoreListing::Answered || objects.iter().any(|o| o.restore.is_some());
    if answered {
        for o in objects.iter_mut().filter(|o| o.is_archived() && o.restore.is_none()) {
            o.restore = Some(Restore::None);
        }
    }
}

/// The table folders of an export (`<database>/<schema.table>/` under its folder) by name.
pub fn table_folders(folder: &str, objects: &[Object]) -> Vec<String> {
    let mut out: Vec<String> = objects
        .iter()
        .filter_map(|o| {
            let mut parts = o.key.strip_prefix(folder)?.split('/');
            let (_database, table, _file) = (parts.next()?, parts.next()?, parts.next()?);
            Some(table.to_owned())
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// One table's objects (`schema.table`, the folder RDS writes it to) with the export's JSON
/// files, which say what the export is (so `query --local` reads a pulled table). A name that is
/// not a table folder of the export (a database folder, a file, a typo) gives the folders there are.
pub fn of_table(folder: &str, objects: &[Object], table: &str) -> Result<Vec<Object>, Vec<String>> {
    let in_table = |o: &Object| {
        let mut parts = o.key.strip_prefix(folder).unwrap_or_default().split('/');
        parts.next().is_some() && parts.next() == Some(table) && parts.next().is_some()
    };
    if !objects.iter().any(in_table) {
        return Err(table_folders(folder, objects));
    }
    Ok(objects.iter().filter(|o| in_table(o) || is_export_json(&o.key)).cloned().collect())
}

/// `export_info_*.json` / `export_tables_info_*.json`, the files RDS writes beside the data.
pub fn is_export_json(key: &str) -> bool {
    let name = key.rsplit('/').next().unwrap_or_default();
    name.starts_with("export_") && name.ends_with(".json")
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
        Object { key: "k.parquet".into(), size: 1, etag: "e".into(), storage_class: class.into(), restore }
    }

    #[test]
    fn an_absent_restore_status_means_not_restored_where_the_endpoint_answers_it() {
        let mut from_s3 = vec![object("DEEP_ARCHIVE", None), object("STANDARD", None)];
        settle_absent_restore_states(&mut from_s3, RestoreListing::Answered);
        assert_eq!(from_s3[0].restore, Some(Restore::None));
        assert_eq!(from_s3[1].restore, None, "not archived: nothing to restore");
        assert_eq!(restore_summary(&from_s3), "none");

        let mut emulator = vec![object("DEEP_ARCHIVE", None)];
        settle_absent_restore_states(&mut emulator, RestoreListing::MaybeUnanswered);
        assert_eq!(emulator[0].restore, None, "left for HeadObject");
        let mut answered_once = vec![object("GLACIER", None), object("GLACIER", Some(Restore::InProgress))];
        settle_absent_restore_states(&mut answered_once, RestoreListing::MaybeUnanswered);
        assert_eq!(answered_once[0].restore, Some(Restore::None));
    }

    #[test]
    fn a_table_is_its_folder_and_never_the_database_folder() {
        let keyed = |k: &str| Object { key: k.into(), ..object("STANDARD", None) };
        let all = [
            keyed("x/e1/export_info_e1.json"),
            keyed("x/e1/pams/public.orders/1/part-0.parquet"),
            keyed("x/e1/pams/public.orders/2/part-0.parquet"),
            keyed("x/e1/pams/public.events/1/part-0.parquet"),
        ];
        let orders = of_table("x/e1/", &all, "public.orders").unwrap();
        assert_eq!(orders.len(), 3, "two parts and the export's JSON file");
        assert_eq!(of_table("x/e1/", &all, "pams").unwrap_err(), ["public.events", "public.orders"]);
        assert!(of_table("x/e1/", &all, "export_info_e1.json").is_err());
    }

    #[test]
    fn folder_markers_are_not_objects() {
        assert!(is_folder_marker("exports/e1/", 0));
        assert!(!is_folder_marker("exports/e1/", 3) && !is_folder_marker("exports/e1/x.parquet", 0));
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
