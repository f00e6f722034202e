//! File names: the sanitised name an upload request turns into a path, and the basename a rename takes.

use std::fmt;

/// Longest stem (name without extension) we keep.
const MAX_STEM: usize = 100;
/// Longest extension we recognise as one.
const MAX_EXTENSION: usize = 10;

/// A client file name made safe for a URL path: no separators, no `..`, no control characters.
///
/// Rules: keep the last path component; ASCII letters, digits, `-` and `_` stay; every other run
/// of characters becomes one `-`; the extension (after the last `.`, 1–10 letters/digits) is
/// lowercased; an empty stem becomes `file`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SanitizedFilename {
    stem: String,
    extension: Option<String>,
}

impl SanitizedFilename {
    pub fn sanitize(raw: &str) -> Self {
        let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
        let (stem_raw, extension) = match last.rsplit_once('.') {
            Some((stem, ext))
                if !ext.is_empty() && ext.len() <= MAX_EXTENSION && ext.bytes().all(|b| b.is_ascii_alphanumeric()) =>
            {
                (stem, Some(ext.to_ascii_lowercase()))
            }
            _ => (last, None),
        };
        let mut stem = slug(stem_raw);
        if stem.is_empty() {
            stem = "file".to_owned();
        }
        SanitizedFilename { stem, extension }
    }

    pub fn stem(&self) -> &str {
        &self.stem
    }

    pub fn extension(&self) -> Option<&str> {
        self.extension.as_deref()
    }

    /// The same name with a suffix on the stem (`cat.png` → `cat-x1y2.png`), to avoid a path clash.
    pub fn with_suffix(&self, suffix: &str) -> Self {
        SanitizedFilename { stem: format!("{}-{suffix}", self.stem), extension: self.extension.clone() }
    }
}

impl fmt::Display for SanitizedFilename {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.extension {
            Some(ext) => write!(f, "{}.{ext}", self.stem),
            None => f.write_str(&self.stem),
        }
    }
}

fn slug(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
        if out.len() >= MAX_STEM {
            break;
        }
    }
    out.trim_matches('-').to_owned()
}

/// The basename an update renames an upload to: 1–100 ASCII letters, digits, `-` or `_`,
/// not starting or ending with `-`. No extension (the file keeps its own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Basename(String);

impl Basename {
    pub fn parse(raw: &str) -> Result<Basename, String> {
        let value = raw.trim();
        if value.is_empty() {
            return Err("basename must not be empty".into());
        }
        if value.len() > MAX_STEM {
            return Err(format!("basename must be at most {MAX_STEM} characters"));
        }
        if !value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err("basename may only contain ASCII letters, digits, '-' and '_' (no extension, no '/')".into());
        }
        if value.starts_with('-') || value.ends_with('-') {
            return Err("basename must not start or end with '-'".into());
        }
        Ok(Basename(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The parts of an upload path `/<project>/<unix seconds>-<stem>[.<ext>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadPathParts {
    /// Everything up to the stem: `/<project>/<unix seconds>-`.
    pub prefix: String,
    pub stem: String,
    pub extension: Option<String>,
}

impl UploadPathParts {
    /// Splits a path we generated; `None` for anything else.
    pub fn parse(path: &str) -> Option<UploadPathParts> {
        let (dir, file) = path.rsplit_once('/')?;
        let (seconds, name) = file.split_once('-')?;
        if dir.is_empty() || seconds.is_empty() || !seconds.bytes().all(|b| b.is_ascii_digit()) || name.is_empty() {
            return None;
        }
        let (stem, extension) = match name.rsplit_once('.') {
            Some((stem, ext)) if !stem.is_empty() => (stem, Some(ext.to_owned())),
            _ => (name, None),
        };
        Some(UploadPathParts { prefix: format!("{dir}/{seconds}-"), stem: stem.to_owned(), extension })
    }

    /// The path with another stem (a rename keeps the prefix and the extension).
    pub fn with_stem(&self, stem: &str) -> String {
        match &self.extension {
            Some(ext) => format!("{}{stem}.{ext}", self.prefix),
            None => format!("{}{stem}", self.prefix),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_paths_split_and_rebuild() {
        let parts = UploadPathParts::parse("/45/1496845848-digital-cats.jpg").unwrap();
        assert_eq!(parts.prefix, "/45/1496845848-");
        assert_eq!(parts.stem, "digital-cats");
        assert_eq!(parts.extension.as_deref(), Some("jpg"));
        assert_eq!(parts.with_stem("dogs"), "/45/1496845848-dogs.jpg");
        let bare = UploadPathParts::parse("/1/17-readme").unwrap();
        assert_eq!((bare.stem.as_str(), bare.extension), ("readme", None));
        for bad in ["", "/1/cat.jpg", "1700-cat.jpg", "/1/x1-cat.jpg", "/1/17-"] {
            assert!(UploadPathParts::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn sanitize_cases() {
        let cases = [
            ("image.png", "image.png"),
            ("My Photo (1).JPG", "My-Photo-1.jpg"),
            ("../../etc/passwd", "passwd"),
            ("..\\..\\boot.ini", "boot.ini"),
            ("a\u{0}b\nc.txt", "a-b-c.txt"),
            ("..", "file"),
            ("", "file"),
            (".hidden", "file.hidden"),
            ("archive.tar.gz", "archive-tar.gz"),
            ("résumé.pdf", "r-sum.pdf"),
            ("noext", "noext"),
            ("weird.ext-with-dash", "weird-ext-with-dash"),
        ];
        for (raw, expected) in cases {
            assert_eq!(SanitizedFilename::sanitize(raw).to_string(), expected, "sanitising {raw:?}");
        }
    }

    #[test]
    fn sanitized_names_never_contain_separators_or_dots_in_the_stem() {
        for raw in ["a/b/c", "a\\b", "x..y..z.png", "\u{202e}gnp.exe", "%2e%2e%2f"] {
            let name = SanitizedFilename::sanitize(raw);
            assert!(!name.stem().contains(['/', '\\', '.']), "{raw:?} → {name}");
            assert!(name.to_string().chars().all(|c| !c.is_control()));
        }
    }

    #[test]
    fn long_names_are_cut() {
        let name = SanitizedFilename::sanitize(&"a".repeat(500));
        assert_eq!(name.stem().len(), MAX_STEM);
    }

    #[test]
    fn basename_rules() {
        assert!(Basename::parse("digital-cats").is_ok());
        assert!(Basename::parse("Cats_2").is_ok());
        for bad in ["", "  ", "a/b", "cat.jpg", "-x", "x-", "a b", &"x".repeat(101)] {
            assert!(Basename::parse(bad).is_err(), "{bad:?}");
        }
    }
}
