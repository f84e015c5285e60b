//! Where `--local` reads exports: a folder, or `s3://bucket/prefix` read in place through
//! DataFusion's object store. On S3 the requests are signed with the AWS SDK's credentials
//! (environment, profiles, SSO, instance and container roles) and go to the S3 endpoint the SDK
//! would use (`AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL` when set, path-style). Discovery lists the prefix once and reads only the exports' JSON files and the
//! first and last bytes of each part file; queries then read just the row groups they need.
//!
//! - [`discover`]: RDS's layout of an export, found in a folder or in a listing.
//! - `known_objects`: an object store that answers HEAD from what discovery listed.
//! - [`metadata_cache`]: JSON files and footers kept between runs.

pub mod discover;
pub(crate) mod known_objects;
pub mod metadata_cache;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use datafusion::prelude::SessionContext;
use futures::{StreamExt, TryStreamExt, stream};
use object_store::aws::{AmazonS3Builder, AwsCredential};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{CredentialProvider, ObjectMeta, ObjectStore, ObjectStoreExt};

use crate::engine;
use crate::progress;
use crate::source::discover::{DiscoverError, Discovered, Skipped, check_part_framing};
use crate::source::known_objects::KnownObjects;
use crate::source::metadata_cache::{MetadataCache, Part, Version};

/// Requests in flight at once while discovering an export on S3.
const CONCURRENT_READS: usize = 16;

/// A `--local` argument: a folder holding copies of exports, or an S3 prefix holding exports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Folder(PathBuf),
    S3 { bucket: String, prefix: String },
}

impl FromStr for Source {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let Some(rest) = s.strip_prefix("s3://").or_else(|| s.strip_prefix("S3://")) else {
            return Ok(Self::Folder(PathBuf::from(s)));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        // Today's rules are 3-63 lowercase letters, digits, dots and hyphens; older buckets in
        // us-east-1 may also have capitals and underscores.
        let valid =
            !bucket.is_empty() && bucket.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
        if !valid {
            return Err(format!(
                "{s}: `{bucket}` is not an S3 bucket name (letters, digits, dots, hyphens); \
                 give s3://BUCKET/PREFIX, the bucket and prefix the exports were written to"
            ));
        }
        Ok(Self::S3 { bucket: bucket.to_owned(), prefix: prefix.trim_matches('/').to_owned() })
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Folder(dir) => write!(f, "{}", dir.display()),
            Self::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            Self::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Discover(#[from] DiscoverError),
    #[error(transparent)]
    Engine(#[from] engine::EngineError),
    #[error(
        "cannot read {location}: {message}; check the bucket and prefix, the bucket's region (--region), and \
         that your AWS credentials (--profile) allow s3:ListBucket, s3:GetObject and kms:Decrypt on it"
    )]
    Store { location: String, message: String },
    #[error(
        "no export found under {0}: expected export_info_<export-id>.json files beside the export folders RDS \
         writes; give the S3 prefix the export tasks were started with"
    )]
    Empty(String),
    #[error("no export under {location} can be read: {}", reasons.join("; "))]
    AllArchived { location: String, reasons: Vec<String> },
}

/// The exports a `--local` argument holds, and a session whose object stores can read them
/// (answering what each part file is from discovery, its footer from the metadata cache).
pub struct Opened {
    pub found: Discovered,
    pub ctx: SessionContext,
    /// Every part file discovery found (for a query: checked and readable).
    pub parts: Vec<Part>,
    pub cache: MetadataCache,
}

impl Opened {
    /// Keeps what `session` (made from [`Self::ctx`]) read of the part files' footers in the
    /// metadata cache, for the next run.
    pub fn remember(&self, session: &SessionContext) {
        self.cache.learn(session, &self.parts);
        self.cache.save();
    }
}

impl fmt::Debug for Opened {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opened").field("found", &self.found).finish_non_exhaustive()
    }
}

/// What the exports are opened for: on S3, listing them reads only their JSON files, and
/// archived exports are listed; reading their data checks every part object first, and leaves
/// archived exports out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    List,
    ReadData,
}

/// Whether discovery may use (and update) the metadata cache: off with `--no-cache`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caching {
    On,
    Off,
}

/// Discovers the exports of `source`; AWS is configured (by `sdk`) only for an S3 prefix.
pub async fn open<F, Fut>(source: &Source, purpose: Purpose, caching: Caching, sdk: F) -> Result<Opened, SourceError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = aws_config::SdkConfig>,
{
    let cache_of = |identity: String| match caching {
        Caching::On => MetadataCache::of_source(&identity),
        Caching::Off => MetadataCache::off(),
    };
    let ctx = engine::context();
    match source {
        Source::Folder(dir) => {
            let cache = match caching {
                Caching::On => MetadataCache::of_folder(dir),
                Caching::Off => MetadataCache::off(),
            };
            let found = discover::discover_cached(dir, &cache)?;
            let parts = found
                .exports
                .iter()
                .flat_map(|e| e.tables.iter().flat_map(|t| &t.files))
                .map(|file| {
                    let metadata =
                        std::fs::metadata(file).map_err(|source| DiscoverError::Io { path: file.clone(), source })?;
                    Ok(Part {
                        meta: metadata_cache::local_meta(engine::store_path(file)?, &metadata),
                        file: file.clone(),
                    })
                })
                .collect::<Result<Vec<_>, SourceError>>()?;
            let url = url::Url::parse("file://").expect("a constant URL");
            ctx.register_object_store(
                &url,
                Arc::new(KnownObjects::new(Arc::new(LocalFileSystem::new()), metas(&parts))),
            );
            cache.prime(&ctx, &parts);
            Ok(Opened { found, ctx, parts, cache })
        }
        Source::S3 { bucket, prefix } => {
            let sdk = sdk().await;
            let location = source.to_string();
            let failed = |message: String| SourceError::Store { location: location.clone(), message };
            let endpoint = s3exports_cli::resolve_s3_endpoint(&sdk, None, false).await.map_err(failed)?;
            let cache = cache_of(format!("{endpoint} {bucket} {prefix}"));
            let store: Arc<dyn ObjectStore> = Arc::new(s3_store(&sdk, bucket).await.map_err(failed)?);
            let listed = list(&sdk, bucket, prefix).await.map_err(failed)?;
            let (found, parts) = discover(store.clone(), bucket, listed, &location, purpose, &cache).await?;
            let url = url::Url::parse(&format!("s3://{bucket}")).map_err(|e| failed(e.to_string()))?;
            ctx.register_object_store(&url, Arc::new(KnownObjects::new(store, metas(&parts))));
            cache.prime(&ctx, &parts);
            Ok(Opened { found, ctx, parts, cache })
        }
    }
}

fn metas(parts: &[Part]) -> impl Iterator<Item = ObjectMeta> + '_ {
    parts.iter().map(|p| p.meta.clone())
}

/// One object under the prefix, its key exactly as S3 lists it.
#[derive(Debug, Clone)]
pub struct Listed {
    pub key: String,
    pub size: u64,
    pub etag: String,
    pub archived: Option<String>,
}

impl Listed {
    fn version(&self) -> Version {
        Version { size: self.size, stamp: self.etag.clone() }
    }

    /// What the object store would answer for it. S3's listing has no time here; the ETag is
    /// what tells versions apart.
    fn meta(&self, location: ObjectPath) -> ObjectMeta {
        ObjectMeta {
            location,
            last_modified: chrono::DateTime::UNIX_EPOCH,
            size: self.size,
            e_tag: Some(self.etag.clone()),
            version: None,
        }
    }
}

/// Every object under `prefix`, through the SDK (one ListObjectsV2 a page, `RestoreStatus`
/// asked for): keys as S3 has them, whatever characters they hold. An archived object that is
/// not restored carries its storage class.
async fn list(sdk: &aws_config::SdkConfig, bucket: &str, prefix: &str) -> Result<Vec<Listed>, String> {
    let s3 = s3exports_cli::s3_client(sdk);
    let folder = if prefix.is_empty() { String::new() } else { format!("{prefix}/") };
    let mut objects = crate::aws::s3::list(&s3, bucket, &folder, crate::aws::s3::RestoreListing::for_sdk(sdk))
        .await
        .map_err(|e| e.to_string())?;
    objects.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(objects
        .into_iter()
        .map(|o| Listed {
            archived: o.unreadable().then(|| o.storage_class.clone()).filter(|_| o.restore.is_some()),
            size: u64::try_from(o.size).unwrap_or(0),
            etag: o.etag,
            key: o.key,
        })
        .collect())
}

/// A listed key the object store (and so the query engine) can address: no empty segment
/// (`a//b`), no `.` or `..` segment, no control character. Anything else is left out, said in
/// `skipped`, and never spoils the other exports of the bucket.
fn addressable(bucket: &str, listed: Vec<Listed>, skipped: &mut Vec<Skipped>) -> Vec<(Listed, ObjectPath)> {
    let mut out = Vec::with_capacity(listed.len());
    for l in listed {
        match ObjectPath::parse(&l.key) {
            Ok(path) if path.as_ref() == l.key => out.push((l, path)),
            _ => skipped.push(Skipped {
                path: PathBuf::from(format!("s3://{bucket}/{}", l.key)),
                reason: "a key with an empty, `.` or `..` segment (or a control character), which the query engine \
                         cannot address; not read"
                    .to_owned(),
            }),
        }
    }
    out
}

/// An object store for `bucket`, signed with the SDK's credentials in the SDK's region, at the
/// endpoint the SDK's S3 client would use (the override when one is set, else AWS's endpoint for
/// the region's partition, FIPS and dual-stack settings), path-style as an emulator needs.
pub async fn s3_store(sdk: &aws_config::SdkConfig, bucket: &str) -> Result<object_store::aws::AmazonS3, String> {
    let region = sdk.region().ok_or("no AWS region: pass --region or set AWS_REGION (or the profile's region)")?;
    let endpoint = s3exports_cli::resolve_s3_endpoint(sdk, None, false).await?;
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_region(region.as_ref())
        .with_allow_http(endpoint.starts_with("http://"))
        // The endpoint is resolved path-style: the bucket goes in the path, never the host.
        .with_virtual_hosted_style_request(false)
        .with_endpoint(endpoint);
    if let Some(provider) = sdk.credentials_provider() {
        builder = builder.with_credentials(Arc::new(SdkCredentials::new(provider)));
    }
    builder.build().map_err(|e| e.to_string())
}

/// The SDK's credential chain as object_store's provider. The SDK's own cache sits in its
/// clients, not in the provider, so credentials are kept here until five minutes before they
/// expire: an SSO or role session is not asked again for every request.
#[derive(Debug)]
pub struct SdkCredentials {
    provider: SharedCredentialsProvider,
    cached: tokio::sync::Mutex<Option<(Arc<AwsCredential>, Option<SystemTime>)>>,
}

impl SdkCredentials {
    pub fn new(provider: SharedCredentialsProvider) -> Self {
        Self { provider, cached: tokio::sync::Mutex::new(None) }
    }
}

const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(300);

#[async_trait::async_trait]
impl CredentialProvider for SdkCredentials {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        let mut cached = self.cached.lock().await;
        if let Some((credential, expiry)) = cached.as_ref() {
            if expiry.is_none_or(|at| at > SystemTime::now() + REFRESH_BEFORE_EXPIRY) {
                return Ok(credential.clone());
            }
        }
        let fresh = self
            .provider
            .provide_credentials()
            .await
            .map_err(|e| object_store::Error::Generic { store: "S3", source: Box::new(e) })?;
        let credential = Arc::new(AwsCredential {
            key_id: fresh.access_key_id().to_owned(),
            secret_key: fresh.secret_access_key().to_owned(),
            token: fresh.session_token().map(str::to_owned),
        });
        *cached = Some((credential.clone(), fresh.expiry()));
        Ok(credential)
    }
}

/// The exports among the listed objects: their JSON files read; to read data, each part file's
/// framing checked too (so a damaged object is named before a reader meets it). An export
/// whose JSON files are archived is left out of a listing with the restore to run; one whose
/// part files are archived is left out of a query the same way.
async fn discover(
    store: Arc<dyn ObjectStore>,
    bucket: &str,
    listed: Vec<Listed>,
    location: &str,
    purpose: Purpose,
    cache: &MetadataCache,
) -> Result<(Discovered, Vec<Part>), SourceError> {
    let failed = |message: String| SourceError::Store { location: location.to_owned(), message };
    let mut skipped = Vec::new();
    let url_of = |key: &str| PathBuf::from(format!("s3://{bucket}/{key}"));
    let mut objects: HashMap<PathBuf, (Listed, ObjectPath)> =
        addressable(bucket, listed, &mut skipped).into_iter().map(|(l, p)| (url_of(&l.key), (l, p))).collect();
    let mut files: Vec<PathBuf> = objects.keys().cloned().collect();
    files.sort();

    let info_files: Vec<&PathBuf> = files.iter().filter(|f| discover::is_info_file(f)).collect();
    let fetched: HashMap<PathBuf, Result<Vec<u8>, String>> = stream::iter(info_files.into_iter().map(|file| {
        let (store, (l, path)) = (store.clone(), &objects[file]);
        async move {
            if let Some(class) = &l.archived {
                return Ok::<_, object_store::Error>((file.clone(), Err(class.clone())));
            }
            if let Some(bytes) = cache.cached_json(file, &l.version()) {
                return Ok((file.clone(), Ok(bytes)));
            }
            match store.get(path).await {
                Ok(got) => {
                    let bytes = got.bytes().await?.to_vec();
                    cache.keep_json(file, &l.version(), &bytes);
                    Ok((file.clone(), Ok(bytes)))
                }
                Err(e) => match archived_class(&e.to_string()) {
                    Some(class) => Ok((file.clone(), Err(class))),
                    None => Err(e),
                },
            }
        }
    }))
    .buffer_unordered(CONCURRENT_READS)
    .try_collect()
    .await
    .map_err(|e| failed(e.to_string()))?;
    let read = |path: &Path| match fetched.get(path) {
        Some(Ok(bytes)) => Ok(bytes.clone()),
        Some(Err(class)) => Err(DiscoverError::Archived { path: path.to_owned(), class: class.clone() }),
        None => Err(DiscoverError::Io {
            path: path.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "not in the listing"),
        }),
    };
    let root = PathBuf::from(location);
    let found = discover::assemble(&root, &files, &read, skipped)?;
    if found.exports.is_empty() {
        if !found.skipped.is_empty() {
            let reasons = found.skipped.iter().map(ToString::to_string).collect();
            return Err(SourceError::AllArchived { location: location.to_owned(), reasons });
        }
        return Err(SourceError::Empty(location.to_owned()));
    }
    if purpose == Purpose::List {
        return Ok((found, Vec::new()));
    }

    // Every part file, with the export it belongs to.
    let parts: Vec<(usize, PathBuf, Listed, ObjectPath)> = found
        .exports
        .iter()
        .enumerate()
        .flat_map(|(i, e)| e.tables.iter().flat_map(|t| &t.files).map(move |f| (i, f)))
        .filter_map(|(i, f)| objects.remove_entry(f).map(|(f, (l, p))| (i, f, l, p)))
        .collect();
    let checked = progress::each_concurrently(&parts, "checking part files", CONCURRENT_READS, |(i, file, l, p)| {
        let store = store.clone();
        async move {
            if l.archived.is_none() && cache.has_footer(file, &l.version()) {
                return (*i, Ok(()));
            }
            (*i, check_object(store.as_ref(), file, l, p).await)
        }
    })
    .await;
    let mut archived: BTreeMap<usize, String> = BTreeMap::new();
    for (i, result) in checked {
        match result {
            Ok(()) => {}
            Err(PartProblem::Archived(class)) => {
                archived.insert(i, class);
            }
            Err(PartProblem::Failed(e)) => return Err(e),
        }
    }
    let found = without_archived(found, &archived);
    if found.exports.is_empty() {
        let reasons = found.skipped.iter().map(|s| s.reason.clone()).collect();
        return Err(SourceError::AllArchived { location: location.to_owned(), reasons });
    }
    let parts = parts
        .into_iter()
        .filter(|(i, ..)| !archived.contains_key(i))
        .map(|(_, file, l, path)| Part { meta: l.meta(path), file })
        .collect();
    Ok((found, parts))
}

/// Exports with archived part files left out, each said in `skipped` with the restore to run:
/// S3 refuses to read them, and a query over the rest must not pass for one over all.
fn without_archived(found: Discovered, archived: &BTreeMap<usize, String>) -> Discovered {
    let Discovered { exports, mut skipped } = found;
    let mut kept = Vec::new();
    for (i, export) in exports.into_iter().enumerate() {
        match archived.get(&i) {
            None => kept.push(export),
            Some(class) => {
                let id = &export.info.export_task_identifier;
                let reason = format!(
                    "export {id} has part files in {class}, which S3 serves only once restored: \
                     `athenaq restore {id}`, then query again"
                );
                skipped.push(Skipped { path: export.root, reason });
            }
        }
    }
    Discovered { exports: kept, skipped }
}

/// Why a part object failed its check.
#[derive(Debug)]
enum PartProblem {
    /// In Glacier or Deep Archive and not restored (S3's `InvalidObjectState`): the class.
    Archived(String),
    Failed(SourceError),
}

/// [`check_part_framing`] on an object: its first 4 and last 8 bytes, in one or two ranged GETs;
/// an object the listing already shows archived is not read.
async fn check_object(
    store: &dyn ObjectStore,
    file: &Path,
    listed: &Listed,
    path: &ObjectPath,
) -> Result<(), PartProblem> {
    if let Some(class) = &listed.archived {
        return Err(PartProblem::Archived(class.clone()));
    }
    let len = listed.size;
    let framing = |head: &[u8], tail: &[u8]| {
        check_part_framing(file, len, head, tail).map_err(|e| PartProblem::Failed(SourceError::Discover(e)))
    };
    if len < discover::PART_FILE_MIN {
        return framing(&[], &[]);
    }
    match store.get_ranges(path, &[0..4, len - 8..len]).await {
        Ok(ranges) => framing(&ranges[0][..], &ranges[1][..]),
        Err(e) => {
            let message = e.to_string();
            Err(match archived_class(&message) {
                Some(class) => PartProblem::Archived(class),
                None => PartProblem::Failed(SourceError::Store { location: file.display().to_string(), message }),
            })
        }
    }
}

/// The storage class S3 names when it refuses to read an archived object, from the error's
/// XML body (`<Code>InvalidObjectState</Code> ... <StorageClass>DEEP_ARCHIVE</StorageClass>`).
fn archived_class(error: &str) -> Option<String> {
    if !error.contains("InvalidObjectState") {
        return None;
    }
    let class = error.split_once("<StorageClass>").and_then(|(_, rest)| rest.split_once("</StorageClass>"));
    Some(class.map_or_else(|| "an archive storage class".to_owned(), |(class, _)| class.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_s3_url_is_a_bucket_and_prefix_and_anything_else_a_folder() {
        let s3 = |b: &str, p: &str| Source::S3 { bucket: b.into(), prefix: p.into() };
        assert_eq!("s3://pams-db-snapshots-export".parse(), Ok(s3("pams-db-snapshots-export", "")));
        assert_eq!("s3://my.bucket/exports/2026/".parse(), Ok(s3("my.bucket", "exports/2026")));
        assert_eq!("./exports".parse(), Ok(Source::Folder("./exports".into())));
        assert_eq!(s3("b12", "a/b").to_string(), "s3://b12/a/b");
        for bad in ["s3://", "s3:///prefix", "s3://a b/x", "s3://bucket:443/x"] {
            let err = bad.parse::<Source>().unwrap_err();
            assert!(err.starts_with(bad) && err.contains("not an S3 bucket name"), "{bad}: {err}");
        }
    }

    /// Counts how often the chain is asked; its credentials expire `lifetime` from now.
    #[derive(Debug)]
    struct Chain {
        asked: std::sync::atomic::AtomicUsize,
        lifetime: Option<Duration>,
    }

    impl ProvideCredentials for Chain {
        fn provide_credentials<'a>(&'a self) -> aws_credential_types::provider::future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            let n = self.asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let expiry = self.lifetime.map(|l| SystemTime::now() + l);
            let credentials = aws_credential_types::Credentials::new(
                format!("AKIA{n}"),
                "secret",
                Some("token".into()),
                expiry,
                "test",
            );
            aws_credential_types::provider::future::ProvideCredentials::ready(Ok(credentials))
        }
    }

    async fn keys_handed_out(lifetime: Option<Duration>) -> Vec<String> {
        let bridge = SdkCredentials::new(SharedCredentialsProvider::new(Chain { asked: 0.into(), lifetime }));
        let mut keys = Vec::new();
        for _ in 0..3 {
            let credential = bridge.get_credential().await.unwrap();
            assert_eq!((credential.secret_key.as_str(), credential.token.as_deref()), ("secret", Some("token")));
            keys.push(credential.key_id.clone());
        }
        keys
    }

    #[tokio::test]
    async fn credentials_are_kept_until_five_minutes_before_they_expire() {
        assert_eq!(keys_handed_out(None).await, ["AKIA0", "AKIA0", "AKIA0"]);
        assert_eq!(keys_handed_out(Some(Duration::from_secs(3600))).await, ["AKIA0", "AKIA0", "AKIA0"]);
        assert_eq!(keys_handed_out(Some(Duration::from_secs(120))).await, ["AKIA0", "AKIA1", "AKIA2"]);
    }

    #[test]
    fn s3_names_the_class_of_an_object_it_will_not_serve() {
        let refused = "403 Forbidden: <Error><Code>InvalidObjectState</Code><Message>The operation is not valid \
                       for the object's storage class</Message><StorageClass>DEEP_ARCHIVE</StorageClass></Error>";
        assert_eq!(archived_class(refused).as_deref(), Some("DEEP_ARCHIVE"));
        assert_eq!(archived_class("<Code>InvalidObjectState</Code>").as_deref(), Some("an archive storage class"));
        assert_eq!(archived_class("<Code>AccessDenied</Code>"), None);
    }
}
