//! `exif_info` (spec §2.2): the camera facts of a photo, snake_case keys, numbers as numbers.
//!
//! Only the primary image's capture settings are reported: make, model, lens, ISO, exposure,
//! aperture, focal length, flash, capture time, orientation. Location (GPS) and serial numbers are
//! never reported: a public media library should not publish where a photo was taken.

use std::{fs::File, io::BufReader, io::Read, path::Path};

use exif::{In, Tag, Value as ExifValue};
use serde_json::{json, Map, Value};

/// The most bytes read looking for EXIF (JPEG, PNG, WebP and HEIF keep it near the start; a TIFF
/// is read this far at most).
const MAX_SCAN_BYTES: u64 = 32 * 1024 * 1024;

/// The `exif_info` object of the image at `path`; `{}` when it has no (readable) EXIF.
pub fn read_exif(path: &Path) -> Value {
    let Ok(file) = File::open(path) else { return json!({}) };
    let mut reader = BufReader::new(file.take(MAX_SCAN_BYTES));
    match exif::Reader::new().read_from_container(&mut reader) {
        Ok(exif) => exif_info(&exif),
        Err(_) => json!({}),
    }
}

fn exif_info(exif: &exif::Exif) -> Value {
    let mut info = Map::new();
    for (tag, key) in FIELDS {
        let Some(field) = exif.get_field(tag, In::PRIMARY) else { continue };
        if let Some(value) = json_value(&field.value) {
            info.insert(key.to_owned(), value);
        }
    }
    Value::Object(info)
}

/// Reported tags and their keys.
const FIELDS: [(Tag, &str); 13] = [
    (Tag::Make, "make"),
    (Tag::Model, "model"),
    (Tag::LensMake, "lens_make"),
    (Tag::LensModel, "lens_model"),
    (Tag::PhotographicSensitivity, "iso"),
    (Tag::ExposureTime, "exposure_time"),
    (Tag::FNumber, "f_number"),
    (Tag::FocalLength, "focal_length"),
    (Tag::FocalLengthIn35mmFilm, "focal_length_in_35mm_film"),
    (Tag::Flash, "flash_mode"),
    (Tag::ExposureBiasValue, "exposure_bias"),
    (Tag::DateTimeOriginal, "date_time_original"),
    (Tag::Orientation, "orientation"),
];

fn json_value(value: &ExifValue) -> Option<Value> {
    match value {
        ExifValue::Ascii(parts) => {
            let text = parts.first().map(|p| String::from_utf8_lossy(p).trim_end_matches('\0').trim().to_owned())?;
            (!text.is_empty()).then_some(Value::String(text))
        }
        ExifValue::Short(v) => v.first().map(|n| json!(n)),
        ExifValue::Long(v) => v.first().map(|n| json!(n)),
        ExifValue::Rational(v) => v.first().filter(|r| r.denom != 0).map(|r| json!(round(r.to_f64()))),
        ExifValue::SRational(v) => v.first().filter(|r| r.denom != 0).map(|r| json!(round(r.to_f64()))),
        _ => None,
    }
}

/// Six significant decimals: enough for 1/8000 s, no float noise.
fn round(v: f64) -> f64 {
    (v * 1_000_000.0).round() / 1_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A JPEG with an EXIF block: Make, Model, ISO 400, ExposureTime 1/250, FNumber 2.8, GPS.
    pub(crate) fn jpeg_with_exif() -> Vec<u8> {
        // TIFF, big-endian. IFD0: Make, Model, ExifIFD pointer, GPS pointer.
        let mut tiff: Vec<u8> = b"MM\0\x2a\0\0\0\x08".to_vec();
        let ifd0_entries = 4u16;
        let ifd0_len = 2 + 12 * u32::from(ifd0_entries) + 4;
        let data_start = 8 + ifd0_len; // after IFD0
        let make = b"Canon\0";
        let model = b"EOS R5\0";
        let make_off = data_start;
        let model_off = make_off + make.len() as u32;
        let exif_ifd_off = model_off + model.len() as u32;
        let exif_entries = 3u16;
        let exif_ifd_len = 2 + 12 * u32::from(exif_entries) + 4;
        let rationals_off = exif_ifd_off + exif_ifd_len;
        let gps_ifd_off = rationals_off + 16;
        let entry = |out: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: u32| {
            out.extend_from_slice(&tag.to_be_bytes());
            out.extend_from_slice(&kind.to_be_bytes());
            out.extend_from_slice(&count.to_be_bytes());
            out.extend_from_slice(&value.to_be_bytes());
        };
        tiff.extend_from_slice(&ifd0_entries.to_be_bytes());
        entry(&mut tiff, 0x010F, 2, make.len() as u32, make_off);
        entry(&mut tiff, 0x0110, 2, model.len() as u32, model_off);
        entry(&mut tiff, 0x8769, 4, 1, exif_ifd_off);
        entry(&mut tiff, 0x8825, 4, 1, gps_ifd_off);
        tiff.extend_from_slice(&0u32.to_be_bytes());
        tiff.extend_from_slice(make);
        tiff.extend_from_slice(model);
        tiff.extend_from_slice(&exif_entries.to_be_bytes());
        entry(&mut tiff, 0x829A, 5, 1, rationals_off); // ExposureTime
        entry(&mut tiff, 0x829D, 5, 1, rationals_off + 8); // FNumber
        tiff.extend_from_slice(&0x8827u16.to_be_bytes()); // ISO, SHORT inline
        tiff.extend_from_slice(&3u16.to_be_bytes());
        tiff.extend_from_slice(&1u32.to_be_bytes());
        tiff.extend_from_slice(&400u16.to_be_bytes());
        tiff.extend_from_slice(&[0, 0]);
        tiff.extend_from_slice(&0u32.to_be_bytes());
        for (n, d) in [(1u32, 250u32), (28, 10)] {
            tiff.extend_from_slice(&n.to_be_bytes());
            tiff.extend_from_slice(&d.to_be_bytes());
        }
        // GPS IFD: GPSLatitudeRef "N".
        tiff.extend_from_slice(&1u16.to_be_bytes());
        entry(&mut tiff, 0x0001, 2, 2, u32::from_be_bytes(*b"N\0\0\0"));
        tiff.extend_from_slice(&0u32.to_be_bytes());

        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE1];
        jpeg.extend_from_slice(&u16::try_from(2 + 6 + tiff.len()).unwrap().to_be_bytes());
        jpeg.extend_from_slice(b"Exif\0\0");
        jpeg.extend_from_slice(&tiff);
        jpeg.extend_from_slice(&[0xFF, 0xD9]);
        jpeg
    }

    #[test]
    fn camera_facts_are_read_and_location_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("photo.jpg");
        std::fs::write(&path, jpeg_with_exif()).unwrap();
        let info = read_exif(&path);
        assert_eq!(
            info,
            json!({"make": "Canon", "model": "EOS R5", "iso": 400, "exposure_time": 0.004, "f_number": 2.8}),
        );
    }

    #[test]
    fn files_without_exif_give_an_empty_object() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plain.bin");
        std::fs::write(&path, b"not an image").unwrap();
        assert_eq!(read_exif(&path), json!({}));
        assert_eq!(read_exif(&dir.path().join("missing")), json!({}));
    }
}
