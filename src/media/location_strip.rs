//! Removing the location from a JPEG original, for deployments that ask for it
//! (`ASSETD_STRIP_LOCATION`): the GPS IFD of the EXIF block is emptied in place (same length, so
//! no offset moves) and XMP packets that mention a GPS position are dropped. The image data after
//! the headers is copied byte for byte. Blocking: run it in `spawn_blocking`.

use std::{
    fs::File,
    io::{self, BufReader, BufWriter, Read, Write},
    path::Path,
};

const EXIF_HEADER: &[u8] = b"Exif\0\0";
const XMP_HEADER: &[u8] = b"http://ns.adobe.com/xap/1.0/\0";
const GPS_INFO_TAG: u16 = 0x8825;

/// Copies the JPEG at `source` to `target` without its location. `Ok(false)` (and `target` left
/// incomplete, for the caller to discard) when `source` is not a JPEG or carries no location.
pub fn strip_jpeg_location(source: &Path, target: &Path) -> io::Result<bool> {
    let mut input = BufReader::new(File::open(source)?);
    let mut output = BufWriter::new(File::create(target)?);
    let mut soi = [0u8; 2];
    if input.read_exact(&mut soi).is_err() || soi != [0xFF, 0xD8] {
        return Ok(false);
    }
    output.write_all(&soi)?;
    let mut changed = false;
    loop {
        let Some(marker) = next_marker(&mut input)? else { return Ok(false) };
        if marker == 0xDA || marker == 0xD9 {
            // Start of scan (or an image without one): the rest is image data, copied as is.
            output.write_all(&[0xFF, marker])?;
            io::copy(&mut input, &mut output)?;
            break;
        }
        if marker == 0x01 || (0xD0..=0xD7).contains(&marker) {
            output.write_all(&[0xFF, marker])?;
            continue;
        }
        let mut length = [0u8; 2];
        input.read_exact(&mut length)?;
        let length = usize::from(u16::from_be_bytes(length));
        if length < 2 {
            return Ok(false);
        }
        let mut payload = vec![0u8; length - 2];
        input.read_exact(&mut payload)?;
        if marker == 0xE1 && payload.starts_with(EXIF_HEADER) {
            changed |= clear_gps(&mut payload[EXIF_HEADER.len()..]);
        } else if marker == 0xE1 && payload.starts_with(XMP_HEADER) && mentions_gps(&payload) {
            changed = true;
            continue;
        }
        output.write_all(&[0xFF, marker])?;
        output.write_all(&u16::try_from(length).unwrap_or(u16::MAX).to_be_bytes())?;
        output.write_all(&payload)?;
    }
    output.flush()?;
    Ok(changed)
}

/// The next marker byte (after `0xFF` and any fill bytes); `None` when the stream is not a
/// marker (a malformed file: left alone).
fn next_marker(input: &mut impl Read) -> io::Result<Option<u8>> {
    let mut byte = [0u8; 1];
    input.read_exact(&mut byte)?;
    if byte[0] != 0xFF {
        return Ok(None);
    }
    while byte[0] == 0xFF {
        input.read_exact(&mut byte)?;
    }
    Ok(Some(byte[0]))
}

fn mentions_gps(xmp: &[u8]) -> bool {
    xmp.windows(8).any(|w| w == b"exif:GPS") || xmp.windows(11).any(|w| w == b"GPSLatitude")
}

/// Empties the GPS IFD of a TIFF block (EXIF): zeroes every entry and its out-of-line value, and
/// sets the entry count to 0. True when there was something to remove. Out-of-range offsets stop
/// the edit where they are: a malformed block is never read past its end.
fn clear_gps(tiff: &mut [u8]) -> bool {
    let Some(order) = ByteOrder::of(tiff) else { return false };
    let Some(ifd0) = order.u32(tiff, 4).map(|v| v as usize) else { return false };
    let Some(count) = order.u16(tiff, ifd0) else { return false };
    let gps = (0..usize::from(count)).find_map(|i| {
        let entry = ifd0 + 2 + 12 * i;
        (order.u16(tiff, entry)? == GPS_INFO_TAG).then(|| order.u32(tiff, entry + 8)).flatten()
    });
    let Some(gps) = gps.map(|v| v as usize) else { return false };
    let Some(entries) = order.u16(tiff, gps) else { return false };
    for i in 0..usize::from(entries) {
        let entry = gps + 2 + 12 * i;
        let Some(kind) = order.u16(tiff, entry + 2) else { break };
        let Some(n) = order.u32(tiff, entry + 4) else { break };
        let size = type_size(kind).saturating_mul(n as usize);
        if size > 4 {
            if let Some(offset) = order.u32(tiff, entry + 8).map(|v| v as usize) {
                if let Some(value) = offset.checked_add(size).and_then(|end| tiff.get_mut(offset..end)) {
                    value.fill(0);
                }
            }
        }
        if let Some(bytes) = tiff.get_mut(entry..entry + 12) {
            bytes.fill(0);
        }
    }
    if let Some(bytes) = tiff.get_mut(gps..gps + 2) {
        bytes.fill(0);
    }
    entries > 0
}

/// Bytes per value of a TIFF field type (0 for unknown types: their values are left alone).
fn type_size(kind: u16) -> usize {
    match kind {
        1 | 2 | 6 | 7 => 1,
        3 | 8 => 2,
        4 | 9 | 11 => 4,
        5 | 10 | 12 => 8,
        _ => 0,
    }
}

#[derive(Clone, Copy)]
enum ByteOrder {
    Little,
    Big,
}

impl ByteOrder {
    fn of(tiff: &[u8]) -> Option<Self> {
        match tiff.get(..2)? {
            b"II" => Some(ByteOrder::Little),
            b"MM" => Some(ByteOrder::Big),
            _ => None,
        }
    }

    fn u16(self, data: &[u8], at: usize) -> Option<u16> {
        let bytes: [u8; 2] = data.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(match self {
            ByteOrder::Little => u16::from_le_bytes(bytes),
            ByteOrder::Big => u16::from_be_bytes(bytes),
        })
    }

    fn u32(self, data: &[u8], at: usize) -> Option<u32> {
        let bytes: [u8; 4] = data.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(match self {
            ByteOrder::Little => u32::from_le_bytes(bytes),
            ByteOrder::Big => u32::from_be_bytes(bytes),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A little-endian TIFF block: IFD0 with Make and a GPS pointer; a GPS IFD with a latitude
    /// (3 rationals, out of line) and its reference.
    fn tiff_with_gps() -> Vec<u8> {
        let mut t = b"II\x2a\0\x08\0\0\0".to_vec();
        let entry = |t: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: u32| {
            t.extend_from_slice(&tag.to_le_bytes());
            t.extend_from_slice(&kind.to_le_bytes());
            t.extend_from_slice(&count.to_le_bytes());
            t.extend_from_slice(&value.to_le_bytes());
        };
        // IFD0 at 8: 2 entries = 30 bytes → GPS IFD at 38: 2 entries = 30 bytes → rationals at 68.
        t.extend_from_slice(&2u16.to_le_bytes());
        entry(&mut t, 0x010F, 2, 4, u32::from_le_bytes(*b"Abc\0"));
        entry(&mut t, GPS_INFO_TAG, 4, 1, 38);
        t.extend_from_slice(&0u32.to_le_bytes());
        t.extend_from_slice(&2u16.to_le_bytes());
        entry(&mut t, 0x0001, 2, 2, u32::from_le_bytes(*b"N\0\0\0"));
        entry(&mut t, 0x0002, 5, 3, 68);
        t.extend_from_slice(&0u32.to_le_bytes());
        for value in [45u32, 1, 30, 1, 15, 1] {
            t.extend_from_slice(&value.to_le_bytes());
        }
        t
    }

    #[test]
    fn the_gps_ifd_is_emptied_and_the_rest_kept() {
        let mut tiff = tiff_with_gps();
        let before = tiff.clone();
        assert!(clear_gps(&mut tiff));
        assert_eq!(tiff.len(), before.len(), "same length: no offset moves");
        assert_eq!(tiff[..38], before[..38], "IFD0 (Make, the pointer) is untouched");
        assert!(tiff[38..].iter().all(|&b| b == 0), "entries and latitude are zeroed");
        assert!(!clear_gps(&mut tiff), "a second pass finds nothing");
    }

    #[test]
    fn malformed_blocks_are_left_alone_without_panicking() {
        for mut junk in [vec![], b"II".to_vec(), b"MM\0\x2a\xff\xff\xff\xff".to_vec(), b"XX\0\x2a\0\0\0\x08".to_vec()] {
            assert!(!clear_gps(&mut junk));
        }
        let mut truncated = tiff_with_gps();
        truncated.truncate(50);
        clear_gps(&mut truncated);
    }
}
