//! The S3-compatible backend: the `ASSETD_STORAGE_URL` format
//! (`s3://bucket[/prefix]?endpoint=http://host:port&region=us-east-1`), the client built from it
//! (credentials from the usual `AWS_*` variables, path-style requests) and presigned PUT URLs.

use std::{sync::Arc, time::Duration};

use object_store::{
    aws::{AmazonS3, AmazonS3Builder},
    path::Path as ObjectPath,
    prefix::PrefixStore,
    signer::Signer,
    ObjectStore,
};

use super::StorageError;

/// The query parameters a storage URL may carry.
const QUERY_KEYS: [&str; 2] = ["endpoint", "region"];
/// The longest validity S3 accepts for a presigned URL (SigV4: 7 days).
const MAX_PRESIGNED_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// A parsed storage URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct S3Url {
    pub(super) bucket: String,
    /// Key prefix every object gets (no leading or trailing `/`).
    pub(super) prefix: Option<String>,
    pub(super) endpoint: Option<String>,
    pub(super) region: Option<String>,
}

impl S3Url {
    /// Parses strictly: an `s3://` scheme, a valid bucket name, plain prefix segments and only the
    /// known query keys, each at most once.
    pub(super) fn parse(url: &str) -> Result<S3Url, StorageError> {
        let rest = url.strip_prefix("s3://").ok_or_else(|| bad(url, "the scheme must be s3://"))?;
        let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
        if location.contains('#') || query.contains('#') {
            return Err(bad(url, "a fragment (#) is not allowed"));
        }
        let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
        if bucket.is_empty() {
            return Err(bad(url, "the bucket name is missing (s3://bucket[/prefix])"));
        }
        if !valid_bucket(bucket) {
            return Err(bad(url, "the bucket name must be 3-63 lowercase letters, digits, dots or hyphens"));
        }
        let prefix = prefix.strip_suffix('/').unwrap_or(prefix);
        if !prefix.is_empty() && !prefix.split('/').all(valid_prefix_segment) {
            return Err(bad(url, "the key prefix must be /-separated segments of letters, digits, '-', '_' or '.'"));
        }
        let mut parsed = S3Url {
            bucket: bucket.to_owned(),
            prefix: (!prefix.is_empty()).then(|| prefix.to_owned()),
            endpoint: None,
            region: None,
        };
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let slot = match key.as_ref() {
                "endpoint" => &mut parsed.endpoint,
                "region" => &mut parsed.region,
                other => {
                    return Err(bad(
                        url,
                        &format!("unknown query parameter {other:?} (known: {})", QUERY_KEYS.join(", ")),
                    ))
                }
            };
            if slot.is_some() {
                return Err(bad(url, &format!("the query parameter {key} is given twice")));
            }
            if value.is_empty() {
                return Err(bad(url, &format!("the query parameter {key} is empty")));
            }
            *slot = Some(value.into_owned());
        }
        if let Some(endpoint) = &parsed.endpoint {
            let host = endpoint.strip_prefix("http://").or_else(|| endpoint.strip_prefix("https://"));
            if host.is_none_or(|host| host.is_empty() || host.contains(['?', '#', ' '])) {
                return Err(bad(url, "the endpoint must be an http:// or https:// URL without a query"));
            }
            parsed.endpoint = Some(endpoint.trim_end_matches('/').to_owned());
        }
        if parsed.region.as_deref().is_some_and(|r| !r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')) {
            return Err(bad(url, "the region must be letters, digits and hyphens"));
        }
        Ok(parsed)
    }
}

/// The bucket client, seen through the key prefix.
pub(super) struct S3Store {
    pub(super) store: Arc<dyn ObjectStore>,
    pub(super) presigner: Presigner,
}

/// Signs URLs for the keys of a prefixed bucket (the signer itself knows nothing of the prefix).
#[derive(Debug, Clone)]
pub(super) struct Presigner {
    s3: AmazonS3,
    prefix: ObjectPath,
}

impl Presigner {
    /// A URL that lets whoever holds it PUT `location` (relative to the prefix) for `expires_in`
    /// (at least a second, at most the 7 days S3 allows). Only the host is signed: the client
    /// chooses `Content-Type` and `Content-Length`.
    pub(super) async fn put_url(&self, location: &ObjectPath, expires_in: Duration) -> Result<String, StorageError> {
        let full: ObjectPath = self.prefix.parts().chain(location.parts()).collect();
        let expires_in = expires_in.clamp(Duration::from_secs(1), MAX_PRESIGNED_TTL);
        let url = self.s3.signed_url(http::Method::PUT, &full, expires_in).await?;
        Ok(url.to_string())
    }
}

/// Builds the client for `url`. Credentials, and any setting the URL leaves out, come from the
/// `AWS_*` environment variables; the region defaults to `us-east-1`.
pub(super) fn connect(url: &str) -> Result<S3Store, StorageError> {
    let parsed = S3Url::parse(url)?;
    let mut builder =
        AmazonS3Builder::from_env().with_bucket_name(&parsed.bucket).with_virtual_hosted_style_request(false);
    if let Some(endpoint) = &parsed.endpoint {
        builder = builder.with_allow_http(endpoint.starts_with("http://")).with_endpoint(endpoint);
    }
    if let Some(region) = &parsed.region {
        builder = builder.with_region(region);
    }
    let s3 = builder.build()?;
    let prefix = parsed.prefix.as_deref().map(ObjectPath::parse).transpose().map_err(|e| bad(url, &e.to_string()))?;
    let prefix = prefix.unwrap_or_default();
    let store: Arc<dyn ObjectStore> = if parsed.prefix.is_some() {
        Arc::new(PrefixStore::new(s3.clone(), prefix.clone()))
    } else {
        Arc::new(s3.clone())
    };
    Ok(S3Store { store, presigner: Presigner { s3, prefix } })
}

fn bad(url: &str, reason: &str) -> StorageError {
    StorageError::Config(format!("invalid storage URL {url:?}: {reason}"))
}

/// S3's bucket naming rules (the subset that matters for path-style requests).
fn valid_bucket(bucket: &str) -> bool {
    (3..=63).contains(&bucket.len())
        && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric())
        && !bucket.contains("..")
}

fn valid_prefix_segment(segment: &str) -> bool {
    !segment.is_empty()
        && segment != "."
        && segment != ".."
        && segment.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_urls_parse() {
        let url = S3Url::parse("s3://assets/tenant-1/files/?endpoint=http://127.0.0.1:9000/&region=eu-west-1").unwrap();
        assert_eq!(
            url,
            S3Url {
                bucket: "assets".into(),
                prefix: Some("tenant-1/files".into()),
                endpoint: Some("http://127.0.0.1:9000".into()),
                region: Some("eu-west-1".into()),
            }
        );
        let bare = S3Url::parse("s3://my.bucket-1").unwrap();
        assert_eq!((bare.prefix, bare.endpoint, bare.region), (None, None, None));
        let encoded = S3Url::parse("s3://b12?endpoint=https%3A%2F%2Fs3.example.com").unwrap();
        assert_eq!(encoded.endpoint.as_deref(), Some("https://s3.example.com"));
    }

    #[test]
    fn bad_storage_urls_say_what_is_wrong() {
        let cases = [
            ("http://bucket", "scheme"),
            ("s3:/bucket", "scheme"),
            ("s3://", "bucket name is missing"),
            ("s3:///prefix", "bucket name is missing"),
            ("s3://Bucket", "bucket name must be"),
            ("s3://ab", "bucket name must be"),
            ("s3://bucket/a//b", "key prefix"),
            ("s3://bucket/../x", "key prefix"),
            ("s3://bucket/a b", "key prefix"),
            ("s3://bucket?endpoint=http://h&secret=x", "unknown query parameter \"secret\""),
            ("s3://bucket?region=a&region=b", "given twice"),
            ("s3://bucket?region=", "empty"),
            ("s3://bucket?endpoint=ftp://host", "endpoint must be"),
            ("s3://bucket?endpoint=http://", "endpoint must be"),
            ("s3://bucket?region=us_east", "region must be"),
            ("s3://bucket#x", "fragment"),
        ];
        for (url, expected) in cases {
            let error = S3Url::parse(url).unwrap_err().to_string();
            assert!(error.contains(expected), "{url}: {error}");
        }
    }

    #[tokio::test]
    async fn presigned_urls_carry_the_prefix_and_a_clamped_expiry() {
        let s3 = AmazonS3Builder::new()
            .with_bucket_name("bucket")
            .with_endpoint("http://127.0.0.1:1")
            .with_allow_http(true)
            .with_region("us-east-1")
            .with_access_key_id("key")
            .with_secret_access_key("secret")
            .build()
            .unwrap();
        let presigner = Presigner { s3, prefix: ObjectPath::from("pre/fix") };
        let url = presigner.put_url(&ObjectPath::from("originals/abc"), Duration::from_secs(30 * 24 * 3600)).await;
        let url = url.unwrap();
        assert!(url.starts_with("http://127.0.0.1:1/bucket/pre/fix/originals/abc?"), "{url}");
        assert!(url.contains("X-Amz-Expires=604800"), "{url}");
        assert!(url.contains("X-Amz-Signature="), "{url}");
    }
}
