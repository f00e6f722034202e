//! WebP encoding with libwebp 1.6 (built from source by `libwebp-sys`, SSE4.1): faster than the
//! libwebp 1.2 under Debian's libvips, and with a progress hook that enforces the transform
//! timeout inside the encoder.
#![allow(unsafe_code)]

use std::{
    ffi::{c_int, c_void},
    mem::MaybeUninit,
    time::Instant,
};

use libwebp_sys as ffi;

/// Why an image could not be encoded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WebpError {
    #[error("the WebP encoder stopped at the deadline")]
    Timeout,
    #[error("WebP encoding failed: {0}")]
    Failed(String),
}

/// Encoder settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WebpOptions {
    /// 0–100.
    pub(crate) quality: f32,
    pub(crate) lossless: bool,
    /// libwebp's `method`, 0 (fast) – 6 (small).
    pub(crate) method: i32,
    /// Encoding stops (with [`WebpError::Timeout`]) when this passes.
    pub(crate) deadline: Instant,
}

/// Encodes 8-bit RGB (3 bands) or RGBA (4 bands) pixels, row by row.
pub(crate) fn encode(
    pixels: &[u8],
    width: u32,
    height: u32,
    bands: u32,
    options: WebpOptions,
) -> Result<Vec<u8>, WebpError> {
    let failed = |what: &str| WebpError::Failed(what.to_owned());
    let (w, h) = (
        c_int::try_from(width).map_err(|_| failed("too wide"))?,
        c_int::try_from(height).map_err(|_| failed("too tall"))?,
    );
    if !(3..=4).contains(&bands) || pixels.len() as u64 != u64::from(width) * u64::from(height) * u64::from(bands) {
        return Err(failed("pixel buffer does not match the size"));
    }
    let stride = w.checked_mul(c_int::try_from(bands).unwrap_or(4)).ok_or_else(|| failed("too wide"))?;
    let mut config = ffi::WebPConfig::new().map_err(|()| failed("config"))?;
    config.quality = options.quality.clamp(0.0, 100.0);
    config.lossless = c_int::from(options.lossless);
    config.method = options.method.clamp(0, 6);
    // SAFETY: a fully initialised config.
    if unsafe { ffi::WebPValidateConfig(&config) } == 0 {
        return Err(failed("invalid config"));
    }
    let mut picture = MaybeUninit::<ffi::WebPPicture>::uninit();
    // SAFETY: WebPPictureInitInternal initialises the whole struct (or fails on an ABI mismatch).
    let mut picture = unsafe {
        if ffi::WebPPictureInitInternal(picture.as_mut_ptr(), ffi::WEBP_ENCODER_ABI_VERSION as c_int) == 0 {
            return Err(failed("ABI mismatch"));
        }
        picture.assume_init()
    };
    picture.use_argb = c_int::from(options.lossless);
    picture.width = w;
    picture.height = h;
    let mut writer = MaybeUninit::<ffi::WebPMemoryWriter>::uninit();
    // SAFETY: the import reads exactly height rows of `stride` bytes from `pixels` (checked above);
    // the writer is initialised before use, owned here, and cleared after its bytes are copied; the
    // progress hook reads `deadline`, which outlives the WebPEncode call; the picture is freed.
    unsafe {
        let imported = if bands == 4 {
            ffi::WebPPictureImportRGBA(&mut picture, pixels.as_ptr(), stride)
        } else {
            ffi::WebPPictureImportRGB(&mut picture, pixels.as_ptr(), stride)
        };
        if imported == 0 {
            ffi::WebPPictureFree(&mut picture);
            return Err(failed("out of memory importing the picture"));
        }
        ffi::WebPMemoryWriterInit(writer.as_mut_ptr());
        let mut writer = writer.assume_init();
        let deadline = options.deadline;
        picture.writer = Some(ffi::WebPMemoryWrite);
        picture.custom_ptr = (&raw mut writer).cast::<c_void>();
        picture.progress_hook = Some(on_progress);
        picture.user_data = (&raw const deadline).cast_mut().cast::<c_void>();
        let ok = ffi::WebPEncode(&config, &mut picture);
        let error = picture.error_code;
        ffi::WebPPictureFree(&mut picture);
        let bytes = if writer.mem.is_null() {
            Vec::new()
        } else {
            std::slice::from_raw_parts(writer.mem, writer.size).to_vec()
        };
        ffi::WebPMemoryWriterClear(&mut writer);
        match ok {
            0 if error == ffi::WebPEncodingError::VP8_ENC_ERROR_USER_ABORT => Err(WebpError::Timeout),
            0 => Err(WebpError::Failed(format!("{error:?}"))),
            _ => Ok(bytes),
        }
    }
}

/// libwebp's progress hook: returning 0 aborts the encoding once the deadline has passed.
unsafe extern "C" fn on_progress(_percent: c_int, picture: *const ffi::WebPPicture) -> c_int {
    // SAFETY: libwebp passes the picture being encoded; its user_data points at the deadline.
    let deadline = unsafe { (*picture).user_data.cast::<Instant>().as_ref() };
    c_int::from(deadline.is_none_or(|d| Instant::now() < *d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn options(lossless: bool) -> WebpOptions {
        WebpOptions { quality: 80.0, lossless, method: 4, deadline: Instant::now() + Duration::from_secs(30) }
    }

    #[test]
    fn encodes_rgb_and_rgba_that_decode_back() {
        let rgb: Vec<u8> = (0..64 * 48).flat_map(|i| [(i % 64 * 4) as u8, (i / 64 * 5) as u8, 128]).collect();
        let webp = encode(&rgb, 64, 48, 3, options(false)).unwrap();
        assert_eq!(&webp[..4], b"RIFF");
        let decoded = image::load_from_memory(&webp).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (64, 48));

        let rgba: Vec<u8> = (0..16 * 16).flat_map(|i| [255, 0, 0, if i % 16 < 8 { 255 } else { 0 }]).collect();
        let lossless = encode(&rgba, 16, 16, 4, options(true)).unwrap();
        let decoded = image::load_from_memory(&lossless).unwrap().to_rgba8();
        assert_eq!(decoded.get_pixel(2, 2).0, [255, 0, 0, 255]);
        assert_eq!(decoded.get_pixel(12, 2).0[3], 0);
    }

    #[test]
    fn bad_buffers_and_past_deadlines_fail() {
        assert!(matches!(encode(&[0; 10], 4, 4, 3, options(false)), Err(WebpError::Failed(_))));
        let rgb = vec![100u8; 256 * 256 * 3];
        let late = WebpOptions { deadline: Instant::now() - Duration::from_secs(1), ..options(false) };
        assert!(matches!(encode(&rgb, 256, 256, 3, late), Err(WebpError::Timeout)));
    }
}
