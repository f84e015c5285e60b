//! An object store that answers "what is this object" from what discovery already knows.
//!
//! DataFusion asks the store for each part file's metadata (a HEAD on S3, a `stat` in a folder)
//! when it registers a table and again when it scans it, although discovery listed every one of
//! them moments before. On S3 that is a round trip per part file per query; here it is a lookup.
//! Reads, and anything not known, go to the store underneath.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
};

#[derive(Debug)]
pub struct KnownObjects {
    inner: Arc<dyn ObjectStore>,
    known: HashMap<Path, ObjectMeta>,
}

impl KnownObjects {
    pub fn new(inner: Arc<dyn ObjectStore>, known: impl IntoIterator<Item = ObjectMeta>) -> Self {
        Self { inner, known: known.into_iter().map(|m| (m.location.clone(), m)).collect() }
    }
}

impl fmt::Display for KnownObjects {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KnownObjects({})", self.inner)
    }
}

/// A HEAD with no conditions can be answered from the listing; anything else asks the store.
fn answerable(options: &GetOptions) -> bool {
    options.head
        && options.range.is_none()
        && options.if_match.is_none()
        && options.if_none_match.is_none()
        && options.if_modified_since.is_none()
        && options.if_unmodified_since.is_none()
        && options.version.is_none()
}

#[async_trait::async_trait]
impl ObjectStore for KnownObjects {
    async fn put_opts(&self, location: &Path, payload: PutPayload, opts: PutOptions) -> Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(&self, location: &Path, opts: PutMultipartOptions) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        if answerable(&options)
            && let Some(meta) = self.known.get(location)
        {
            return Ok(GetResult {
                payload: GetResultPayload::Stream(Box::pin(futures::stream::empty())),
                range: 0..meta.size,
                meta: meta.clone(),
                attributes: Default::default(),
            });
        }
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(&self, locations: BoxStream<'static, Result<Path>>) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(&self, prefix: Option<&Path>, offset: &Path) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.inner.rename_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::ObjectStoreExt;
    use object_store::memory::InMemory;

    #[tokio::test]
    async fn a_known_object_is_described_without_asking_and_read_from_the_store() {
        let store = Arc::new(InMemory::new());
        let path = Path::from("e1/db/public.t/1/part-0.parquet");
        store.put(&path, PutPayload::from_static(b"PAR1")).await.unwrap();
        let mut listed = store.head(&path).await.unwrap();
        listed.e_tag = Some("from-the-listing".into());
        let known = KnownObjects::new(store.clone(), [listed.clone()]);
        assert_eq!(known.head(&path).await.unwrap(), listed);
        assert_eq!(known.get(&path).await.unwrap().bytes().await.unwrap().as_ref(), b"PAR1");
        let other = Path::from("elsewhere");
        store.put(&other, PutPayload::from_static(b"x")).await.unwrap();
        assert_eq!(known.head(&other).await.unwrap().size, 1);
        let conditional = GetOptions::new().with_head(true);
        assert!(answerable(&conditional));
    }
}
