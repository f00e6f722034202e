//! How much memory a transform takes, estimated from its plan and its encoder before any pixel
//! is decoded, so that the service admits transforms against one budget for the process
//! (`ASSETD_TRANSFORM_MEMORY`) instead of letting concurrent large ones add up.
//!
//! The figures are per pixel of the image each step holds whole, measured on the 12 MP JPEG of
//! `bench/` with `examples/transform_footprint.rs` (peak RSS of one transform in a fresh process,
//! libvips 8.14, libaom 3.6, libwebp 1.6; see BENCHMARKS.md) and rounded up. libvips streams
//! JPEG, PNG and TIFF sources and JPEG and PNG output in strips, so those cost little whatever
//! the size; the in-memory resize, smart crops, WebP, AVIF and GIF hold whole images.

/// How a source's loader holds it while it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SourceKind {
    /// Decoded in strips as the pipeline pulls them (JPEG, PNG, TIFF).
    Streamed,
    /// Decoded whole into a frame buffer, RGBA (GIF, WebP, SVG).
    WholeFrame,
    /// libheif decodes to YUV, then libvips converts the whole frame (HEIC, AVIF).
    Heif,
}

/// The encoder, as far as its memory goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoder {
    /// Streams rows; progressive or optimised Huffman tables keep every coefficient until the end.
    Jpeg { whole_image: bool },
    /// Streams rows; a palette needs the whole image for quantisation.
    Png { palette: bool },
    /// libwebp takes the whole image as pixels and converts it to YUV (lossless: ARGB and hash chains).
    Webp { lossless: bool },
    /// libheif copies the image whole, converts it to YUV, and libaom keeps several frame buffers.
    Avif,
    /// cgif and libimagequant hold the frame as RGBA and its palette indexes.
    Gif,
}

/// What a transform holds in memory, from its plan (sizes in pixels, width × height).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Footprint {
    pub(crate) source: SourceKind,
    /// The source as decoded (after shrink-on-load).
    pub(crate) decoded: (u32, u32),
    pub(crate) source_bands: u32,
    /// Rotations read the source out of order: libvips decodes it whole first.
    pub(crate) random_access: bool,
    /// The part of the decoded source that is kept.
    pub(crate) region: (u32, u32),
    pub(crate) resized: (u32, u32),
    pub(crate) in_memory_resize: bool,
    pub(crate) smart_crop: bool,
    /// `mask`: librsvg draws the shape at the output's size (RGBA), copied into memory.
    pub(crate) mask: bool,
    pub(crate) output: (u32, u32),
    /// Bands of the processed image (3, or 4 with alpha).
    pub(crate) bands: u32,
    pub(crate) encoder: Encoder,
}

const MIB: u64 = 1024 * 1024;
/// What any transform takes besides its images: libvips' pipeline and thread, the decoder's
/// state, a strip of each operation (a 400 px JPEG thumbnail measured 4 MiB).
const BASE: u64 = 8 * MIB;
/// Lines of each row-wise buffer (libvips' strips, the streaming resize's windows) counted per
/// pixel of width, per band (a streamed 7302 × 5477 JPEG measured 16 MiB in all).
const STREAM_LINES: u64 = 16;

fn pixels((width, height): (u32, u32)) -> u64 {
    u64::from(width) * u64::from(height)
}

/// `bytes_per_pixel` × `pixels`, in bytes.
fn times(pixels: u64, bytes_per_pixel: f64) -> u64 {
    (pixels as f64 * bytes_per_pixel).ceil() as u64
}

impl Footprint {
    /// The estimated peak memory in bytes (never 0).
    pub(crate) fn estimate(&self) -> u64 {
        let bands = u64::from(self.bands.clamp(3, 4));
        let output = pixels(self.output);
        let widest = u64::from(self.decoded.0.max(self.resized.0).max(self.output.0));
        let decode = match (self.source, self.random_access) {
            (_, true) => pixels(self.decoded) * u64::from(self.source_bands.clamp(1, 4)),
            (SourceKind::Streamed, false) => 0,
            (SourceKind::WholeFrame, false) => pixels(self.decoded) * 4,
            (SourceKind::Heif, false) => pixels(self.decoded) * 6,
        };
        let resize = if self.in_memory_resize {
            // The region read out of libvips (its buffer and the copy of it), then the region and
            // the resized pixels, then those and libvips' copy of them.
            let (region, resized) = (pixels(self.region), pixels(self.resized));
            (2 * region).max(region + resized).max(2 * resized) * bands
        } else {
            0
        };
        let smart_crop = if self.smart_crop { pixels(self.resized) * bands * 2 } else { 0 };
        let mask = if self.mask { output * 4 * 2 } else { 0 };
        // The encoder's own buffers per output pixel, and the encoded bytes per pixel (held twice:
        // libvips' growing buffer and the copy of it).
        let (encoder, encoded) = match self.encoder {
            Encoder::Jpeg { whole_image: false } => (0.0, 0.5),
            Encoder::Jpeg { whole_image: true } => (3.0, 0.5),
            Encoder::Png { palette: false } => (0.0, 0.5 * bands as f64),
            Encoder::Png { palette: true } => (20.0, 1.0),
            Encoder::Webp { lossless: false } => (bands as f64 + 2.5, 0.2),
            Encoder::Webp { lossless: true } => (16.0, 0.5 * bands as f64),
            Encoder::Avif => (27.0, 0.2),
            Encoder::Gif => (14.0, 1.0),
        };
        BASE + widest * bands * STREAM_LINES
            + decode
            + resize
            + smart_crop
            + mask
            + times(output, encoder)
            + times(output, 2.0 * encoded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 12 MP JPEG (4000 × 3000, no rotation) to `output`, shrunk on load and resized as the
    /// pipeline does (`pipeline::load_shrink`, `pipeline::in_memory_resize`).
    fn photo_to(output: (u32, u32), encoder: Encoder) -> Footprint {
        let ratio = (4000.0 / f64::from(output.0)).min(3000.0 / f64::from(output.1));
        let shrink = [8, 4, 2].into_iter().find(|f| ratio >= f64::from(*f)).unwrap_or(1);
        let decoded = (4000u32.div_ceil(shrink), 3000u32.div_ceil(shrink));
        let in_memory = decoded != output && pixels(decoded).max(pixels(output)) <= 16_000_000;
        Footprint {
            source: SourceKind::Streamed,
            decoded,
            source_bands: 3,
            random_access: false,
            region: decoded,
            resized: output,
            in_memory_resize: in_memory,
            smart_crop: false,
            mask: false,
            output,
            bands: 3,
            encoder,
        }
    }

    fn mib(footprint: Footprint) -> u64 {
        footprint.estimate() / MIB
    }

    #[test]
    fn streamed_jpeg_and_png_cost_little_whatever_the_size() {
        // 7000 × 5250 (36.75 MP) streams through libvips' resize: neither end is in memory whole.
        let jpeg = mib(photo_to((7000, 5250), Encoder::Jpeg { whole_image: false }));
        assert!(jpeg < 64, "{jpeg} MiB");
        let png = mib(photo_to((7000, 5250), Encoder::Png { palette: false }));
        assert!(png > jpeg, "a PNG's bytes are larger than a JPEG's: {png} vs {jpeg}");
    }

    #[test]
    fn whole_image_encoders_grow_with_the_output() {
        for encoder in [Encoder::Avif, Encoder::Webp { lossless: false }, Encoder::Gif, Encoder::Png { palette: true }]
        {
            let small = mib(photo_to((1000, 750), encoder));
            let large = mib(photo_to((3840, 2160), encoder));
            assert!(large > 2 * small, "{encoder:?}: {small} → {large} MiB");
        }
        // The AV1 encoder is the largest per pixel (issue 14 measured 325 MB for a 28 MP AVIF).
        // Measured: 229 MiB for 3325 × 2494, 191 MiB for 3000 × 2250 (see BENCHMARKS.md).
        let avif = mib(photo_to((3325, 2494), Encoder::Avif));
        let jpeg = mib(photo_to((3325, 2494), Encoder::Jpeg { whole_image: false }));
        assert!(avif > 2 * jpeg && (229..300).contains(&avif), "AVIF {avif} MiB, JPEG {jpeg} MiB");
    }

    #[test]
    fn a_thumbnail_costs_the_base_and_its_source_strips() {
        let thumb = mib(photo_to((200, 150), Encoder::Jpeg { whole_image: false }));
        assert!((8..=80).contains(&thumb), "{thumb} MiB");
    }

    #[test]
    fn rotated_and_whole_frame_sources_count_their_decoded_pixels() {
        let upright = photo_to((800, 600), Encoder::Jpeg { whole_image: false });
        let rotated = Footprint { random_access: true, ..upright };
        let gif = Footprint { source: SourceKind::WholeFrame, ..upright };
        let decoded = pixels(upright.decoded);
        assert!(rotated.estimate() - upright.estimate() >= decoded * 3);
        assert!(gif.estimate() - upright.estimate() >= decoded * 4);
    }
}
