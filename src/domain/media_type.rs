//! The asset kinds of the `type` filter (spec §3.3), derived from a sniffed MIME type.

/// Every kind the `type` filter takes, plus `other`.
pub const MEDIA_TYPES: [&str; 8] =
    ["image", "video", "audio", "archive", "pdfdocument", "presentation", "richtext", "spreadsheet"];

/// The kind of a file with this MIME type; `other` when none fits.
pub fn media_type(mime_type: &str) -> &'static str {
    let essence = mime_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let (top, sub) = essence.split_once('/').unwrap_or((essence.as_str(), ""));
    match (top, sub) {
        ("image", _) => "image",
        ("video", _) => "video",
        ("audio", _) => "audio",
        ("application", "pdf") => "pdfdocument",
        ("application", sub) if is_archive(sub) => "archive",
        ("application", sub) if sub.contains("presentation") || sub.contains("powerpoint") => "presentation",
        ("application", sub) if sub.contains("spreadsheet") || sub.contains("excel") => "spreadsheet",
        ("text", "csv" | "tab-separated-values") => "spreadsheet",
        ("application", sub) if sub.contains("wordprocessing") || sub.contains("msword") || sub == "rtf" => "richtext",
        ("application", "vnd.oasis.opendocument.text") => "richtext",
        ("text", "plain" | "markdown" | "html" | "rtf") => "richtext",
        _ => "other",
    }
}

fn is_archive(sub: &str) -> bool {
    matches!(
        sub,
        "zip"
            | "x-tar"
            | "gzip"
            | "x-gzip"
            | "x-bzip2"
            | "x-xz"
            | "x-7z-compressed"
            | "vnd.rar"
            | "x-rar-compressed"
            | "zstd"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        let cases = [
            ("image/png", "image"),
            ("image/svg+xml", "image"),
            ("video/mp4", "video"),
            ("audio/mpeg", "audio"),
            ("application/pdf", "pdfdocument"),
            ("application/zip", "archive"),
            ("application/gzip", "archive"),
            ("application/vnd.openxmlformats-officedocument.presentationml.presentation", "presentation"),
            ("application/vnd.ms-excel", "spreadsheet"),
            ("text/csv", "spreadsheet"),
            ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "richtext"),
            ("application/msword", "richtext"),
            ("text/plain; charset=utf-8", "richtext"),
            ("application/octet-stream", "other"),
            ("", "other"),
        ];
        for (mime, kind) in cases {
            assert_eq!(media_type(mime), kind, "{mime}");
        }
    }
}
