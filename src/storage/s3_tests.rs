//! The storage contract against a real S3-compatible server (`scripts/s3-server` starts one).
//! Every test here returns early only when `ASSETD_TEST_STORAGE_URL` is unset (hence the
//! `_if_configured` in their names); when it is set, a server that does not answer fails them.

use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, TryStreamExt};

use super::{Storage, StorageError, StorageKey, PART_SIZE};

/// The test bucket under a fresh prefix, or `None` when `ASSETD_TEST_STORAGE_URL` is unset.
fn test_bucket() -> Option<Storage> {
    let url = std::env::var("ASSETD_TEST_STORAGE_URL").ok()?;
    let url = with_prefix_segment(&url, &format!("unit-{}", uuid::Uuid::new_v4().simple()));
    Some(Storage::s3(&url).unwrap_or_else(|e| panic!("ASSETD_TEST_STORAGE_URL: {e}")))
}

/// Appends `segment` to the key prefix of a storage URL.
fn with_prefix_segment(url: &str, segment: &str) -> String {
    let (location, query) = url.split_once('?').map_or((url, None), |(l, q)| (l, Some(q)));
    let location = format!("{}/{segment}", location.trim_end_matches('/'));
    query.map_or(location.clone(), |q| format!("{location}?{q}"))
}

fn chunks(data: &[u8], size: usize) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
    futures_util::stream::iter(data.chunks(size).map(|c| Ok(Bytes::copy_from_slice(c))).collect::<Vec<_>>())
}

async fn read_all(storage: &Storage, key: &StorageKey, range: Option<std::ops::Range<u64>>) -> Vec<u8> {
    let read = storage.get(key, range).await.unwrap();
    let parts: Vec<Bytes> = read.stream.try_collect().await.unwrap();
    parts.concat()
}

async fn http_put(url: &str, body: Vec<u8>) -> reqwest::StatusCode {
    let response = reqwest::Client::new()
        .put(url)
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("PUT {url}: {e}"));
    response.status()
}

#[test]
fn prefix_segments_are_appended_before_the_query() {
    assert_eq!(with_prefix_segment("s3://b?endpoint=http://h", "t"), "s3://b/t?endpoint=http://h");
    assert_eq!(with_prefix_segment("s3://b/p/", "t"), "s3://b/p/t");
}

#[tokio::test]
async fn s3_round_trip_with_ranges_if_configured() {
    let Some(storage) = test_bucket() else { return };
    assert!(storage.local_file(&StorageKey::new_original()).is_none());
    let key = StorageKey::new_original();
    // More than one part, so the multipart path runs too.
    let data: Vec<u8> = (0..PART_SIZE as u32 + 3_000_000).map(|i| (i % 251) as u8).collect();
    let size = storage.put_stream(&key, chunks(&data, 1 << 20), u64::MAX).await.unwrap();
    assert_eq!(size, data.len() as u64);
    assert_eq!(storage.size(&key).await.unwrap(), size);
    let read = storage.get(&key, None).await.unwrap();
    assert_eq!(read.total_size, size);
    let pieces: Vec<Bytes> = read.stream.try_collect().await.unwrap();
    assert!(pieces.len() > 1, "a large read streams in pieces");
    assert_eq!(pieces.concat(), data);
    assert_eq!(read_all(&storage, &key, Some(9_000_000..9_000_100)).await, data[9_000_000..9_000_100]);
    // A range past the end is cut to the end, as on local disk.
    assert_eq!(read_all(&storage, &key, Some(size - 5..size + 100)).await, data[data.len() - 5..]);

    let tmp = tempfile::tempdir().unwrap();
    let local = storage.local_blob(&key, tmp.path()).await.unwrap();
    assert_eq!(std::fs::read(local.path()).unwrap(), data);
    let copy = local.path().to_path_buf();
    drop(local);
    assert!(!copy.exists(), "the local copy is removed when dropped");

    storage.delete(&key).await.unwrap();
    assert!(storage.size(&key).await.unwrap_err().is_not_found());
    assert!(storage.get(&key, None).await.err().unwrap().is_not_found());
    storage.delete(&key).await.unwrap();
}

#[tokio::test]
async fn s3_oversized_and_failing_writes_store_nothing_if_configured() {
    let Some(storage) = test_bucket() else { return };
    let key = StorageKey::new_original();
    let error = storage.put_stream(&key, chunks(b"1234567890", 5), 7).await.unwrap_err();
    assert!(matches!(error, StorageError::TooLarge { limit: 7 }));
    assert!(storage.size(&key).await.unwrap_err().is_not_found());
    let failing = futures_util::stream::iter(vec![Ok(Bytes::from_static(b"abc")), Err(std::io::Error::other("gone"))]);
    assert!(matches!(storage.put_stream(&key, failing, 100).await.unwrap_err(), StorageError::Body(_)));
    assert!(storage.size(&key).await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn s3_presigned_put_then_take_if_configured() {
    let Some(storage) = test_bucket() else { return };
    let key = StorageKey::new_original();
    let url = storage.presigned_put_url(&key, Duration::from_secs(600)).await.unwrap().expect("S3 presigns");
    assert!(storage.take_presigned_upload(&key, 100).await.unwrap_err().is_not_found(), "nothing PUT yet");
    assert!(http_put(&url, b"hello world".to_vec()).await.is_success());
    assert!(storage.size(&key).await.unwrap_err().is_not_found(), "a PUT lands on the staging key");
    let (taken, size) = storage.take_presigned_upload(&key, 100).await.unwrap();
    assert_eq!(size, 11);
    assert_ne!(taken, key, "the file is copied to a fresh key");
    assert_eq!(read_all(&storage, &taken, None).await, b"hello world");
    // A concurrent take makes its own copy (the database records one of them).
    let (other, _) = storage.take_presigned_upload(&key, 100).await.unwrap();
    assert_ne!(other, taken);
    storage.delete(&other).await.unwrap();
    // A later PUT to the same URL cannot change the taken file, and the staging copy goes.
    assert!(http_put(&url, b"overwritten".to_vec()).await.is_success());
    assert_eq!(read_all(&storage, &taken, None).await, b"hello world");
    storage.discard_presigned_upload(&key).await.unwrap();
    assert!(storage.take_presigned_upload(&key, 100).await.unwrap_err().is_not_found(), "the staging copy is gone");
    assert_eq!(read_all(&storage, &taken, None).await, b"hello world");

    let at = url.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let flipped = if &url[at..at + 1] == "0" { "1" } else { "0" };
    let tampered = format!("{}{flipped}{}", &url[..at], &url[at + 1..]);
    assert_eq!(http_put(&tampered, b"x".to_vec()).await, reqwest::StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn s3_too_large_presigned_uploads_are_refused_and_deleted_if_configured() {
    let Some(storage) = test_bucket() else { return };
    let key = StorageKey::new_original();
    let url = storage.presigned_put_url(&key, Duration::from_secs(600)).await.unwrap().unwrap();
    assert!(http_put(&url, vec![7u8; 11]).await.is_success());
    let error = storage.take_presigned_upload(&key, 10).await.unwrap_err();
    assert!(matches!(error, StorageError::TooLarge { limit: 10 }), "{error}");
    assert!(storage.take_presigned_upload(&key, 10).await.unwrap_err().is_not_found(), "the staging copy is gone");
    let left: Vec<_> = storage.list_blobs("").try_collect().await.unwrap();
    assert!(left.is_empty(), "nothing is left of the refused file: {left:?}");
    // The same URL takes a smaller file.
    assert!(http_put(&url, vec![7u8; 10]).await.is_success());
    let (taken, size) = storage.take_presigned_upload(&key, 10).await.unwrap();
    assert_eq!((size, read_all(&storage, &taken, None).await), (10, vec![7u8; 10]));
}

#[tokio::test]
async fn s3_delete_prefix_and_count_prefix_if_configured() {
    let Some(storage) = test_bucket() else { return };
    for digest in ["a", "b", "c"] {
        storage.put_bytes(&StorageKey::derived("up1", digest), Bytes::from_static(b"img")).await.unwrap();
    }
    storage.put_bytes(&StorageKey::derived("up10", "a"), Bytes::from_static(b"other")).await.unwrap();
    assert_eq!(storage.count_prefix(&StorageKey::derived_prefix("up1")).await.unwrap(), 3);
    assert_eq!(read_all(&storage, &StorageKey::derived("up1", "b"), None).await, b"img");
    assert_eq!(storage.delete_prefix(&StorageKey::derived_prefix("up1")).await.unwrap(), 3);
    assert_eq!(storage.count_prefix(&StorageKey::derived_prefix("up1")).await.unwrap(), 0);
    assert_eq!(storage.count_prefix(&StorageKey::derived_prefix("up10")).await.unwrap(), 1, "a sibling prefix stays");
    assert_eq!(storage.delete_prefix(&StorageKey::derived_prefix("up1")).await.unwrap(), 0);
}
