//! The one place assetd talks to libvips (Debian's `libvips-dev`, 8.14): a small, safe wrapper over
//! the handful of C calls the transform pipeline needs.
//!
//! Every other module works with [`Image`], an owned reference to a `VipsImage` that is released
//! when dropped. libvips images are lazy: operations build a pipeline and pixels are computed only
//! when an image is saved, in strips, so memory stays bounded by the strip size, not the picture.
//!
//! Safety rules kept here: every pointer handed to C is either a live `Image`, a NUL-terminated
//! literal, or null as the varargs terminator; every varargs value has the C type libvips reads
//! (`int` for ints, booleans and enums, `double` for doubles); every output image is owned by
//! exactly one `Image`; every buffer libvips returns is copied and freed with `g_free`.
#![allow(unsafe_code)]

use std::{
    ffi::{c_char, c_int, c_uint, c_void, CStr, CString},
    path::Path,
    ptr::{self, NonNull},
    sync::{
        atomic::{AtomicI32, Ordering},
        OnceLock,
    },
};

/// Opaque libvips/GLib types: only ever used behind pointers.
#[repr(C)]
pub(super) struct VipsImage {
    _private: [u8; 0],
}
#[repr(C)]
struct VipsArea {
    _private: [u8; 0],
}
/// The public prefix of `VipsProgress` (image.h); only `run` is read.
#[repr(C)]
#[allow(dead_code)]
struct VipsProgress {
    im: *mut VipsImage,
    run: c_int,
}

type GCallback = unsafe extern "C" fn();
type GLogFunc = unsafe extern "C" fn(*const c_char, c_int, *const c_char, *mut c_void);

#[link(name = "vips")]
#[link(name = "gobject-2.0")]
#[link(name = "glib-2.0")]
extern "C" {
    fn vips_init(argv0: *const c_char) -> c_int;
    fn vips_version(flag: c_int) -> c_int;
    fn vips_cache_set_max(max: c_int);
    fn vips_concurrency_set(concurrency: c_int);
    fn vips_block_untrusted_set(state: c_int);
    fn vips_operation_block_set(name: *const c_char, state: c_int);
    fn vips_error_buffer_copy() -> *mut c_char;
    fn g_free(mem: *mut c_void);
    fn g_object_unref(object: *mut c_void);
    fn g_log_set_handler(domain: *const c_char, levels: c_int, handler: GLogFunc, data: *mut c_void) -> c_uint;
    fn g_signal_connect_data(
        instance: *mut c_void,
        signal: *const c_char,
        handler: GCallback,
        data: *mut c_void,
        destroy: *const c_void,
        flags: c_int,
    ) -> std::ffi::c_ulong;

    fn vips_image_new_from_file(name: *const c_char, ...) -> *mut VipsImage;
    fn vips_thumbnail(filename: *const c_char, out: *mut *mut VipsImage, width: c_int, ...) -> c_int;
    fn vips_image_write_to_memory(image: *mut VipsImage, size: *mut usize) -> *mut c_void;
    fn vips_image_new_from_memory_copy(
        data: *const c_void,
        size: usize,
        width: c_int,
        height: c_int,
        bands: c_int,
        format: c_int,
    ) -> *mut VipsImage;
    fn vips_image_get_width(image: *const VipsImage) -> c_int;
    fn vips_image_get_height(image: *const VipsImage) -> c_int;
    fn vips_image_get_bands(image: *const VipsImage) -> c_int;
    fn vips_image_get_n_pages(image: *mut VipsImage) -> c_int;
    fn vips_image_get_orientation(image: *mut VipsImage) -> c_int;
    fn vips_image_get_interpretation(image: *const VipsImage) -> c_int;
    fn vips_image_get_typeof(image: *const VipsImage, name: *const c_char) -> usize;
    fn vips_image_hasalpha(image: *mut VipsImage) -> c_int;
    fn vips_image_set_progress(image: *mut VipsImage, progress: c_int);
    fn vips_image_set_kill(image: *mut VipsImage, kill: c_int);
    fn vips_image_remove(image: *mut VipsImage, name: *const c_char) -> c_int;
    fn vips_image_get_page_height(image: *mut VipsImage) -> c_int;
    fn vips_image_get_int(image: *const VipsImage, name: *const c_char, out: *mut c_int) -> c_int;
    fn vips_image_get_array_int(
        image: *mut VipsImage,
        name: *const c_char,
        out: *mut *mut c_int,
        n: *mut c_int,
    ) -> c_int;
    fn vips_image_set_int(image: *mut VipsImage, name: *const c_char, value: c_int);
    fn vips_image_set_array_int(image: *mut VipsImage, name: *const c_char, array: *const c_int, n: c_int);
    fn vips_svgload_buffer(buf: *const c_void, len: usize, out: *mut *mut VipsImage, ...) -> c_int;
    fn vips_image_copy_memory(image: *mut VipsImage) -> *mut VipsImage;
    fn vips_image_new_from_image(image: *mut VipsImage, c: *const f64, n: c_int) -> *mut VipsImage;
    fn vips_add(left: *mut VipsImage, right: *mut VipsImage, out: *mut *mut VipsImage, ...) -> c_int;
    fn vips_multiply(left: *mut VipsImage, right: *mut VipsImage, out: *mut *mut VipsImage, ...) -> c_int;
    fn vips_composite2(
        base: *mut VipsImage,
        overlay: *mut VipsImage,
        out: *mut *mut VipsImage,
        mode: c_int,
        ...
    ) -> c_int;
    fn vips_arrayjoin(images: *mut *mut VipsImage, out: *mut *mut VipsImage, n: c_int, ...) -> c_int;

    fn vips_array_double_new(array: *const f64, n: c_int) -> *mut VipsArea;
    fn vips_area_unref(area: *mut VipsArea);

    fn vips_icc_transform(input: *mut VipsImage, out: *mut *mut VipsImage, output_profile: *const c_char, ...)
        -> c_int;
    fn vips_colourspace(input: *mut VipsImage, out: *mut *mut VipsImage, space: c_int, ...) -> c_int;
    fn vips_cast(input: *mut VipsImage, out: *mut *mut VipsImage, format: c_int, ...) -> c_int;
    fn vips_resize(input: *mut VipsImage, out: *mut *mut VipsImage, scale: f64, ...) -> c_int;
    fn vips_extract_area(
        input: *mut VipsImage,
        out: *mut *mut VipsImage,
        left: c_int,
        top: c_int,
        width: c_int,
        height: c_int,
        ...
    ) -> c_int;
    fn vips_embed(
        input: *mut VipsImage,
        out: *mut *mut VipsImage,
        x: c_int,
        y: c_int,
        width: c_int,
        height: c_int,
        ...
    ) -> c_int;
    fn vips_smartcrop(input: *mut VipsImage, out: *mut *mut VipsImage, width: c_int, height: c_int, ...) -> c_int;
    fn vips_flatten(input: *mut VipsImage, out: *mut *mut VipsImage, ...) -> c_int;
    fn vips_premultiply(input: *mut VipsImage, out: *mut *mut VipsImage, ...) -> c_int;
    fn vips_unpremultiply(input: *mut VipsImage, out: *mut *mut VipsImage, ...) -> c_int;
    fn vips_gaussblur(input: *mut VipsImage, out: *mut *mut VipsImage, sigma: f64, ...) -> c_int;
    fn vips_rot(input: *mut VipsImage, out: *mut *mut VipsImage, angle: c_int, ...) -> c_int;
    fn vips_flip(input: *mut VipsImage, out: *mut *mut VipsImage, direction: c_int, ...) -> c_int;
    fn vips_similarity(input: *mut VipsImage, out: *mut *mut VipsImage, ...) -> c_int;
    fn vips_linear(
        input: *mut VipsImage,
        out: *mut *mut VipsImage,
        a: *const f64,
        b: *const f64,
        n: c_int,
        ...
    ) -> c_int;
    fn vips_gamma(input: *mut VipsImage, out: *mut *mut VipsImage, ...) -> c_int;
    fn vips_image_new_matrix_from_array(width: c_int, height: c_int, array: *const f64, size: c_int) -> *mut VipsImage;
    fn vips_recomb(input: *mut VipsImage, out: *mut *mut VipsImage, matrix: *mut VipsImage, ...) -> c_int;
    fn vips_insert(
        main: *mut VipsImage,
        sub: *mut VipsImage,
        out: *mut *mut VipsImage,
        x: c_int,
        y: c_int,
        ...
    ) -> c_int;
    fn vips_extract_band(input: *mut VipsImage, out: *mut *mut VipsImage, band: c_int, ...) -> c_int;
    fn vips_bandjoin2(first: *mut VipsImage, second: *mut VipsImage, out: *mut *mut VipsImage, ...) -> c_int;
    fn vips_sharpen(input: *mut VipsImage, out: *mut *mut VipsImage, ...) -> c_int;
    fn vips_shrink(input: *mut VipsImage, out: *mut *mut VipsImage, hshrink: f64, vshrink: f64, ...) -> c_int;
    fn vips_zoom(input: *mut VipsImage, out: *mut *mut VipsImage, xfac: c_int, yfac: c_int, ...) -> c_int;
    fn vips_copy(input: *mut VipsImage, out: *mut *mut VipsImage, ...) -> c_int;
    fn vips_addalpha(input: *mut VipsImage, out: *mut *mut VipsImage, ...) -> c_int;

    fn vips_jpegsave_buffer(input: *mut VipsImage, buf: *mut *mut c_void, len: *mut usize, ...) -> c_int;
    fn vips_pngsave_buffer(input: *mut VipsImage, buf: *mut *mut c_void, len: *mut usize, ...) -> c_int;
    fn vips_heifsave_buffer(input: *mut VipsImage, buf: *mut *mut c_void, len: *mut usize, ...) -> c_int;
    fn vips_gifsave_buffer(input: *mut VipsImage, buf: *mut *mut c_void, len: *mut usize, ...) -> c_int;
    fn vips_webpsave_buffer(input: *mut VipsImage, buf: *mut *mut c_void, len: *mut usize, ...) -> c_int;
}

// Enum values from the 8.14 headers.
const ACCESS_RANDOM: c_int = 0;
const ACCESS_SEQUENTIAL: c_int = 1;
const FAIL_ON_TRUNCATED: c_int = 1;
const INTERPRETATION_SRGB: c_int = 22;
const INTERPRETATION_LCH: c_int = 19;
const INTERPRETATION_CMYK: c_int = 15;
const FORMAT_UCHAR: c_int = 0;
const KERNEL_LANCZOS3: c_int = 5;
const EXTEND_COPY: c_int = 1;
const EXTEND_BACKGROUND: c_int = 5;
const INTERESTING_ENTROPY: c_int = 2;
const INTERESTING_ATTENTION: c_int = 3;
const HEIF_COMPRESSION_AV1: c_int = 4;
const SUBSAMPLE_ON: c_int = 1;
const SUBSAMPLE_OFF: c_int = 2;
const SIZE_DOWN: c_int = 2;
const DIRECTION_HORIZONTAL: c_int = 0;
const DIRECTION_VERTICAL: c_int = 1;
const BLEND_MODE_OVER: c_int = 2;

/// A libvips failure, with the text of libvips' error buffer.
#[derive(Debug, Clone, thiserror::Error)]
#[error("libvips: {0}")]
pub(crate) struct VipsError(pub(crate) String);

impl VipsError {
    /// Takes (and clears) libvips' error buffer. The buffer is process-wide, so under concurrency
    /// the text may carry another thread's message too; it is only ever logged or summarised.
    fn take() -> Self {
        // SAFETY: vips_error_buffer_copy returns a newly allocated, NUL-terminated string (or null).
        unsafe {
            let raw = vips_error_buffer_copy();
            if raw.is_null() {
                return VipsError("unknown error".into());
            }
            let text = CStr::from_ptr(raw).to_string_lossy().trim().to_string();
            g_free(raw.cast());
            VipsError(if text.is_empty() { "unknown error".into() } else { text })
        }
    }
}

/// Seconds an image evaluation may run before it is killed (0 = no limit); read by [`on_eval`].
static EVAL_TIMEOUT_SECS: AtomicI32 = AtomicI32::new(0);

/// Starts libvips once per process. `threads` is the libvips worker count per image (the service
/// bounds how many images run at once itself); `timeout_secs` kills an evaluation that runs longer.
pub(crate) fn init(threads: usize, timeout_secs: u64) -> Result<(), VipsError> {
    static STARTED: OnceLock<Result<(), VipsError>> = OnceLock::new();
    EVAL_TIMEOUT_SECS.store(i32::try_from(timeout_secs).unwrap_or(i32::MAX), Ordering::Relaxed);
    STARTED
        .get_or_init(|| {
            // SAFETY: plain calls into libvips with literals; vips_init is idempotent.
            unsafe {
                if vips_init(c"assetd".as_ptr()) != 0 {
                    return Err(VipsError::take());
                }
                // libvips warnings (a truncated file, an ignored profile) go to the log, not stderr.
                g_log_set_handler(c"VIPS".as_ptr(), LOG_LEVELS, on_log, ptr::null_mut());
                // assetd keeps its own cache of results; libvips' operation cache would only hold memory.
                vips_cache_set_max(0);
                vips_concurrency_set(c_int::try_from(threads.max(1)).unwrap_or(1));
                // Only the loaders assetd serves: no ImageMagick, PDF, matrix, raw vips or CSV from uploads.
                vips_block_untrusted_set(1);
                vips_operation_block_set(c"VipsForeignLoad".as_ptr(), 1);
                for name in ALLOWED_LOADERS {
                    vips_operation_block_set(name.as_ptr(), 0);
                }
            }
            Ok(())
        })
        .clone()
}

const ALLOWED_LOADERS: [&CStr; 7] = [
    c"VipsForeignLoadJpeg",
    c"VipsForeignLoadPng",
    c"VipsForeignLoadNsgif",
    c"VipsForeignLoadWebp",
    c"VipsForeignLoadHeif",
    c"VipsForeignLoadTiff",
    c"VipsForeignLoadSvg",
];

/// The libvips version in use, e.g. "8.14.1".
pub(crate) fn version() -> String {
    // SAFETY: vips_version only reads compile-time constants.
    unsafe { format!("{}.{}.{}", vips_version(0), vips_version(1), vips_version(2)) }
}

/// How to open a file: format-specific shrink-on-load factors and the access pattern. Multi-page
/// files (animated GIF and WebP, HEIF collections, TIFF) open at their first page.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LoadOptions {
    /// JPEG: decode at 1/2, 1/4 or 1/8 scale (libjpeg's DCT scaling).
    pub(crate) jpeg_shrink: Option<u32>,
    /// WebP: decode at this scale (0 < scale ≤ 1).
    pub(crate) webp_scale: Option<f64>,
    /// Random access instead of the default top-to-bottom streaming: needed by rotations (EXIF
    /// orientation), which read the source out of order; libvips then decodes it whole.
    pub(crate) random_access: bool,
    /// GIF and WebP: every page (frame), stacked top to bottom (see [`Image::page_height`]),
    /// instead of the first. Not combined with the scales above.
    pub(crate) all_pages: bool,
}

/// How an animation plays: one delay per frame in milliseconds, and how many times it plays
/// (0: for ever).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Timing {
    pub(crate) delays: Vec<i32>,
    pub(crate) loop_count: i32,
}

/// An owned reference to a libvips image.
pub(crate) struct Image(NonNull<VipsImage>);

impl Drop for Image {
    fn drop(&mut self) {
        // SAFETY: we own exactly one reference.
        unsafe { g_object_unref(self.0.as_ptr().cast()) }
    }
}

/// Wraps the output pointer of an operation that returned `rc`.
fn owned(rc: c_int, out: *mut VipsImage) -> Result<Image, VipsError> {
    match NonNull::new(out) {
        Some(image) if rc == 0 => Ok(Image(image)),
        Some(image) => {
            drop(Image(image));
            Err(VipsError::take())
        }
        None => Err(VipsError::take()),
    }
}

/// A `VipsArrayDouble`, released when dropped.
struct DoubleArray(NonNull<VipsArea>);

impl DoubleArray {
    fn new(values: &[f64]) -> Result<Self, VipsError> {
        let n = c_int::try_from(values.len()).map_err(|_| VipsError("array too long".into()))?;
        // SAFETY: the pointer and length describe a live slice; libvips copies it.
        NonNull::new(unsafe { vips_array_double_new(values.as_ptr(), n) })
            .map(DoubleArray)
            .ok_or_else(|| VipsError("could not allocate an array".into()))
    }
}

impl Drop for DoubleArray {
    fn drop(&mut self) {
        // SAFETY: we own the one reference vips_array_double_new gave us.
        unsafe { vips_area_unref(self.0.as_ptr()) }
    }
}

fn c_int_of(value: u32) -> c_int {
    c_int::try_from(value).unwrap_or(c_int::MAX)
}

impl Image {
    /// Opens `path` lazily (header only; pixels are decoded when the result is saved), picking the
    /// loader from the file's bytes among the allowed ones.
    pub(crate) fn open(path: &Path, options: LoadOptions) -> Result<Image, VipsError> {
        let name = CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| VipsError("bad path".into()))?;
        let null = ptr::null::<c_char>();
        let access = c"access".as_ptr();
        let access_mode = if options.random_access { ACCESS_RANDOM } else { ACCESS_SEQUENTIAL };
        let fail_on = c"fail_on".as_ptr();
        // SAFETY: name/value pairs of the documented types, terminated by null.
        let image = unsafe {
            match options {
                LoadOptions { jpeg_shrink: Some(shrink), .. } => vips_image_new_from_file(
                    name.as_ptr(),
                    access,
                    access_mode,
                    fail_on,
                    FAIL_ON_TRUNCATED,
                    c"shrink".as_ptr(),
                    c_int_of(shrink),
                    null,
                ),
                LoadOptions { webp_scale: Some(scale), .. } => vips_image_new_from_file(
                    name.as_ptr(),
                    access,
                    access_mode,
                    fail_on,
                    FAIL_ON_TRUNCATED,
                    c"scale".as_ptr(),
                    scale,
                    null,
                ),
                LoadOptions { all_pages: true, .. } => vips_image_new_from_file(
                    name.as_ptr(),
                    access,
                    access_mode,
                    fail_on,
                    FAIL_ON_TRUNCATED,
                    c"n".as_ptr(),
                    -1 as c_int,
                    null,
                ),
                _ => vips_image_new_from_file(name.as_ptr(), access, access_mode, fail_on, FAIL_ON_TRUNCATED, null),
            }
        };
        owned(if image.is_null() { -1 } else { 0 }, image)
    }

    /// A thumbnail of the file at `path` that fits `width` × `height` (never enlarged), upright
    /// and in sRGB, made with the loader's own shrink-on-load (JPEG DCT scaling, HEIF's embedded
    /// thumbnail, SVG rendered at the right scale).
    pub(crate) fn thumbnail(path: &Path, width: u32, height: u32) -> Result<Image, VipsError> {
        let name = CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| VipsError("bad path".into()))?;
        let mut out = ptr::null_mut();
        // SAFETY: documented argument types, null terminator.
        let rc = unsafe {
            vips_thumbnail(
                name.as_ptr(),
                &mut out,
                c_int_of(width),
                c"height".as_ptr(),
                c_int_of(height),
                c"size".as_ptr(),
                SIZE_DOWN,
                ptr::null::<c_char>(),
            )
        };
        owned(rc, out)
    }

    /// The pixels as 8-bit RGBA, row by row (computes the image: use on small images only).
    pub(crate) fn to_rgba_bytes(&self) -> Result<Vec<u8>, VipsError> {
        let srgb = self.to_srgb()?;
        let rgba = if srgb.has_alpha() { srgb } else { srgb.add_alpha()? };
        rgba.to_bytes()
    }

    /// Computes the image into memory: its 8-bit pixels, band after band, row by row. The image
    /// must be 8-bit (see [`Image::to_srgb`]); this is where a lazy pipeline's decoding happens.
    pub(crate) fn to_bytes(&self) -> Result<Vec<u8>, VipsError> {
        let mut size: usize = 0;
        // SAFETY: live image; libvips returns a g_malloc'd buffer of `size` bytes, copied and freed here.
        unsafe {
            let buf = vips_image_write_to_memory(self.ptr(), &mut size);
            if buf.is_null() {
                return Err(VipsError::take());
            }
            let bytes = std::slice::from_raw_parts(buf.cast::<u8>(), size).to_vec();
            g_free(buf);
            Ok(bytes)
        }
    }

    /// An 8-bit sRGB image (3 bands, or 4 with alpha) from pixels in memory (copied).
    pub(crate) fn from_bytes(bytes: &[u8], width: u32, height: u32, bands: u32) -> Result<Image, VipsError> {
        let expected = u64::from(width) * u64::from(height) * u64::from(bands);
        if bytes.len() as u64 != expected || !(3..=4).contains(&bands) {
            return Err(VipsError(format!("{} bytes are not a {width}x{height}x{bands} image", bytes.len())));
        }
        // SAFETY: the slice holds exactly width × height × bands bytes; libvips copies them.
        let image = unsafe {
            vips_image_new_from_memory_copy(
                bytes.as_ptr().cast(),
                bytes.len(),
                c_int_of(width),
                c_int_of(height),
                c_int_of(bands),
                FORMAT_UCHAR,
            )
        };
        let image = owned(if image.is_null() { -1 } else { 0 }, image)?;
        let mut out = ptr::null_mut();
        // SAFETY: live input, documented types, null terminator.
        let rc = unsafe {
            vips_copy(image.ptr(), &mut out, c"interpretation".as_ptr(), INTERPRETATION_SRGB, ptr::null::<c_char>())
        };
        owned(rc, out)
    }

    pub(crate) fn bands(&self) -> u32 {
        // SAFETY: live image.
        u32::try_from(unsafe { vips_image_get_bands(self.ptr()) }).unwrap_or(0)
    }

    fn ptr(&self) -> *mut VipsImage {
        self.0.as_ptr()
    }

    pub(crate) fn width(&self) -> u32 {
        // SAFETY: live image.
        u32::try_from(unsafe { vips_image_get_width(self.ptr()) }).unwrap_or(0)
    }

    pub(crate) fn height(&self) -> u32 {
        // SAFETY: live image.
        u32::try_from(unsafe { vips_image_get_height(self.ptr()) }).unwrap_or(0)
    }

    /// Pages in the file (1 for single-image formats).
    pub(crate) fn pages(&self) -> u32 {
        // SAFETY: live image.
        u32::try_from(unsafe { vips_image_get_n_pages(self.ptr()) }).unwrap_or(1).max(1)
    }

    /// The height of one page of an image opened with [`LoadOptions::all_pages`] (its height
    /// when it has one page).
    pub(crate) fn page_height(&self) -> u32 {
        // SAFETY: live image.
        u32::try_from(unsafe { vips_image_get_page_height(self.ptr()) }).unwrap_or(0)
    }

    /// The animation's timing as its loader read it: `pages` delays (as the file gives them, 100 ms
    /// where it gives none) and the loop count (0 where absent).
    pub(crate) fn timing(&self, pages: u32) -> Timing {
        let mut delays = vec![DEFAULT_DELAY_MS; pages as usize];
        let mut loop_count: c_int = 0;
        // SAFETY: live image, NUL-terminated names; libvips points `array` at `n` ints it owns,
        // copied here before the image is touched again.
        unsafe {
            let mut array: *mut c_int = ptr::null_mut();
            let mut n: c_int = 0;
            if self.has_field(c"delay")
                && vips_image_get_array_int(self.ptr(), c"delay".as_ptr(), &mut array, &mut n) == 0
                && !array.is_null()
            {
                let given = std::slice::from_raw_parts(array, usize::try_from(n).unwrap_or(0));
                for (delay, value) in delays.iter_mut().zip(given) {
                    *delay = (*value).max(0);
                }
            }
            if self.has_field(c"loop") {
                vips_image_get_int(self.ptr(), c"loop".as_ptr(), &mut loop_count);
            }
        }
        Timing { delays, loop_count: loop_count.max(0) }
    }

    /// `frames` (each the same size) stacked top to bottom as one animation that plays with
    /// `timing` (one delay per frame).
    pub(crate) fn animation(frames: &[Image], timing: &Timing) -> Result<Image, VipsError> {
        let first = frames.first().ok_or_else(|| VipsError("an animation needs a frame".into()))?;
        let page_height = first.height();
        let mut pointers: Vec<*mut VipsImage> = frames.iter().map(Image::ptr).collect();
        let n = c_int::try_from(pointers.len()).map_err(|_| VipsError("too many frames".into()))?;
        let mut out = ptr::null_mut();
        // SAFETY: `pointers` holds `n` live images that outlive the call (libvips references
        // what it keeps); int option, null terminator.
        let rc = unsafe {
            vips_arrayjoin(pointers.as_mut_ptr(), &mut out, n, c"across".as_ptr(), 1 as c_int, ptr::null::<c_char>())
        };
        let joined = owned(rc, out)?;
        let mut out = ptr::null_mut();
        // SAFETY: live input, null terminator.
        let rc = unsafe { vips_copy(joined.ptr(), &mut out, ptr::null::<c_char>()) };
        let image = owned(rc, out)?;
        let delays_len = c_int::try_from(timing.delays.len()).map_err(|_| VipsError("too many frames".into()))?;
        // SAFETY: the copy is ours alone, not yet shared with any pipeline; libvips copies the array.
        unsafe {
            vips_image_set_int(image.ptr(), c"page-height".as_ptr(), c_int_of(page_height));
            vips_image_set_array_int(image.ptr(), c"delay".as_ptr(), timing.delays.as_ptr(), delays_len);
            vips_image_set_int(image.ptr(), c"loop".as_ptr(), timing.loop_count);
            // The GIF loader's older centisecond field would otherwise contradict `delay`.
            vips_image_remove(image.ptr(), c"gif-delay".as_ptr());
        }
        Ok(image)
    }

    /// EXIF orientation, 1–8 (1 when absent).
    pub(crate) fn orientation(&self) -> u8 {
        // SAFETY: live image.
        u8::try_from(unsafe { vips_image_get_orientation(self.ptr()) })
            .ok()
            .filter(|o| (1..=8).contains(o))
            .unwrap_or(1)
    }

    pub(crate) fn has_alpha(&self) -> bool {
        // SAFETY: live image.
        unsafe { vips_image_hasalpha(self.ptr()) != 0 }
    }

    fn has_field(&self, name: &CStr) -> bool {
        // SAFETY: live image and NUL-terminated name.
        unsafe { vips_image_get_typeof(self.ptr(), name.as_ptr()) != 0 }
    }

    /// Converts to 8-bit sRGB (keeping alpha), through the embedded ICC profile when there is one,
    /// so CMYK, Adobe RGB, Display P3 and 16-bit inputs all come out as browsers expect.
    pub(crate) fn to_srgb(&self) -> Result<Image, VipsError> {
        // SAFETY: live input, literals, null terminators.
        let converted = unsafe {
            let mut out = ptr::null_mut();
            let interpretation = vips_image_get_interpretation(self.ptr());
            let rc = if self.has_field(c"icc-profile-data") || interpretation == INTERPRETATION_CMYK {
                vips_icc_transform(
                    self.ptr(),
                    &mut out,
                    c"srgb".as_ptr(),
                    c"embedded".as_ptr(),
                    1 as c_int,
                    ptr::null::<c_char>(),
                )
            } else {
                vips_colourspace(self.ptr(), &mut out, INTERPRETATION_SRGB, ptr::null::<c_char>())
            };
            owned(rc, out)?
        };
        converted.cast_uchar()
    }

    fn cast_uchar(&self) -> Result<Image, VipsError> {
        let mut out = ptr::null_mut();
        // SAFETY: live input, out pointer, null terminator.
        let rc = unsafe { vips_cast(self.ptr(), &mut out, FORMAT_UCHAR, ptr::null::<c_char>()) };
        owned(rc, out)
    }

    /// Resizes by `hscale` × `vscale` with Lanczos3, premultiplying alpha so edges keep their colour.
    pub(crate) fn resize(&self, hscale: f64, vscale: f64) -> Result<Image, VipsError> {
        let alpha = self.has_alpha();
        let premultiplied;
        let input = if alpha {
            let mut out = ptr::null_mut();
            // SAFETY: live input, out pointer, null terminator.
            let rc = unsafe { vips_premultiply(self.ptr(), &mut out, ptr::null::<c_char>()) };
            premultiplied = owned(rc, out)?;
            &premultiplied
        } else {
            self
        };
        let mut out = ptr::null_mut();
        // SAFETY: name/value pairs of the documented types, null terminator.
        let rc = unsafe {
            vips_resize(
                input.ptr(),
                &mut out,
                hscale,
                c"vscale".as_ptr(),
                vscale,
                c"kernel".as_ptr(),
                KERNEL_LANCZOS3,
                ptr::null::<c_char>(),
            )
        };
        let resized = owned(rc, out)?;
        if !alpha {
            return Ok(resized);
        }
        let mut out = ptr::null_mut();
        // SAFETY: as above.
        let rc = unsafe { vips_unpremultiply(resized.ptr(), &mut out, ptr::null::<c_char>()) };
        owned(rc, out)?.cast_uchar()
    }

    /// The rectangle `left, top, width, height` (which must lie inside the image).
    pub(crate) fn extract(&self, left: u32, top: u32, width: u32, height: u32) -> Result<Image, VipsError> {
        let mut out = ptr::null_mut();
        // SAFETY: live input, ints, null terminator.
        let rc = unsafe {
            vips_extract_area(
                self.ptr(),
                &mut out,
                c_int_of(left),
                c_int_of(top),
                c_int_of(width),
                c_int_of(height),
                ptr::null::<c_char>(),
            )
        };
        owned(rc, out)
    }

    /// Places the image at `x, y` on a `width` × `height` canvas, filled with `background` (one
    /// value per band) or, when `None`, with copies of the edge pixels.
    pub(crate) fn embed(
        &self,
        x: u32,
        y: u32,
        width: u32,
        height: u32,
        background: Option<&[f64]>,
    ) -> Result<Image, VipsError> {
        // With the edge-copying extend libvips ignores the background: one call serves both.
        let extend = if background.is_some() { EXTEND_BACKGROUND } else { EXTEND_COPY };
        let array = DoubleArray::new(background.unwrap_or(&[0.0]))?;
        let mut out = ptr::null_mut();
        // SAFETY: live input and array, documented types, null terminator.
        let rc = unsafe {
            vips_embed(
                self.ptr(),
                &mut out,
                c_int_of(x),
                c_int_of(y),
                c_int_of(width),
                c_int_of(height),
                c"extend".as_ptr(),
                extend,
                c"background".as_ptr(),
                array.0.as_ptr(),
                ptr::null::<c_char>(),
            )
        };
        owned(rc, out)
    }

    /// Crops to `width` × `height` keeping the most "interesting" part: by entropy, or by libvips'
    /// attention model (edges, skin tones, saturated colour).
    pub(crate) fn smart_crop(&self, width: u32, height: u32, attention: bool) -> Result<Image, VipsError> {
        let mut out = ptr::null_mut();
        let interesting = if attention { INTERESTING_ATTENTION } else { INTERESTING_ENTROPY };
        // SAFETY: live input, documented types, null terminator.
        let rc = unsafe {
            vips_smartcrop(
                self.ptr(),
                &mut out,
                c_int_of(width),
                c_int_of(height),
                c"interesting".as_ptr(),
                interesting,
                ptr::null::<c_char>(),
            )
        };
        owned(rc, out)
    }

    /// Removes alpha by compositing over `rgb`.
    pub(crate) fn flatten(&self, rgb: [f64; 3]) -> Result<Image, VipsError> {
        let array = DoubleArray::new(&rgb)?;
        let mut out = ptr::null_mut();
        // SAFETY: live input and array, null terminator.
        let rc = unsafe {
            vips_flatten(self.ptr(), &mut out, c"background".as_ptr(), array.0.as_ptr(), ptr::null::<c_char>())
        };
        owned(rc, out)?.cast_uchar()
    }

    /// Adds an opaque alpha band.
    pub(crate) fn add_alpha(&self) -> Result<Image, VipsError> {
        let mut out = ptr::null_mut();
        // SAFETY: live input, null terminator.
        let rc = unsafe { vips_addalpha(self.ptr(), &mut out, ptr::null::<c_char>()) };
        owned(rc, out)
    }

    pub(crate) fn gaussian_blur(&self, sigma: f64) -> Result<Image, VipsError> {
        let mut out = ptr::null_mut();
        // SAFETY: live input, double, null terminator.
        let rc = unsafe { vips_gaussblur(self.ptr(), &mut out, sigma, ptr::null::<c_char>()) };
        owned(rc, out)
    }

    /// `sub` placed over this image with its top left at `x`, `y`.
    pub(crate) fn insert(&self, sub: &Image, x: u32, y: u32) -> Result<Image, VipsError> {
        let mut out = ptr::null_mut();
        // SAFETY: two live inputs, ints, null terminator.
        let rc =
            unsafe { vips_insert(self.ptr(), sub.ptr(), &mut out, c_int_of(x), c_int_of(y), ptr::null::<c_char>()) };
        owned(rc, out)
    }

    /// Turned clockwise by `quarters` × 90 degrees (exact: pixels are moved, not resampled).
    pub(crate) fn rotate_quarters(&self, quarters: u8) -> Result<Image, VipsError> {
        let mut out = ptr::null_mut();
        // VipsAngle: D0 = 0, D90 = 1, D180 = 2, D270 = 3.
        let angle = c_int::from(quarters % 4);
        // SAFETY: live input, enum as int, null terminator.
        let rc = unsafe { vips_rot(self.ptr(), &mut out, angle, ptr::null::<c_char>()) };
        owned(rc, out)
    }

    /// Mirrored left to right (`horizontal`) or top to bottom.
    pub(crate) fn flip(&self, horizontal: bool) -> Result<Image, VipsError> {
        let mut out = ptr::null_mut();
        let direction = if horizontal { DIRECTION_HORIZONTAL } else { DIRECTION_VERTICAL };
        // SAFETY: live input, enum as int, null terminator.
        let rc = unsafe { vips_flip(self.ptr(), &mut out, direction, ptr::null::<c_char>()) };
        owned(rc, out)
    }

    /// Scaled by `scale` and turned clockwise by `degrees` about its centre (bilinear): the
    /// result is the bounding box of the turned image, transparent or black outside it.
    pub(crate) fn similarity(&self, scale: f64, degrees: f64) -> Result<Image, VipsError> {
        let mut out = ptr::null_mut();
        // SAFETY: live input, name/double pairs, null terminator.
        let rc = unsafe {
            vips_similarity(
                self.ptr(),
                &mut out,
                c"scale".as_ptr(),
                scale,
                c"angle".as_ptr(),
                degrees,
                ptr::null::<c_char>(),
            )
        };
        owned(rc, out)
    }

    /// `a × pixel + b` per band (`a` and `b` one value per band), rounded and clipped to 8 bits.
    pub(crate) fn linear(&self, a: &[f64], b: &[f64]) -> Result<Image, VipsError> {
        self.linear_to(a, b, true)
    }

    /// `a × pixel + b` per band, in floating point (for images in LCh).
    pub(crate) fn linear_float(&self, a: &[f64], b: &[f64]) -> Result<Image, VipsError> {
        self.linear_to(a, b, false)
    }

    fn linear_to(&self, a: &[f64], b: &[f64], uchar: bool) -> Result<Image, VipsError> {
        if a.len() != b.len() || a.len() != self.bands() as usize {
            return Err(VipsError(format!("{} and {} factors for {} bands", a.len(), b.len(), self.bands())));
        }
        let n = c_int::try_from(a.len()).map_err(|_| VipsError("too many bands".into()))?;
        let mut out = ptr::null_mut();
        // SAFETY: live input; `a` and `b` hold `n` doubles each and outlive the call; the
        // "uchar" option takes an int boolean; null terminator.
        let rc = unsafe {
            vips_linear(
                self.ptr(),
                &mut out,
                a.as_ptr(),
                b.as_ptr(),
                n,
                c"uchar".as_ptr(),
                c_int::from(uchar),
                ptr::null::<c_char>(),
            )
        };
        owned(rc, out)
    }

    /// `f` applied to the colour bands only; the alpha band, when there is one, is kept as it is.
    pub(crate) fn on_colour_bands(
        &self,
        f: impl FnOnce(&Image) -> Result<Image, VipsError>,
    ) -> Result<Image, VipsError> {
        if !self.has_alpha() {
            return f(self);
        }
        let colours = c_int_of(self.bands() - 1);
        let (mut colour, mut alpha) = (ptr::null_mut(), ptr::null_mut());
        // SAFETY: live input, band numbers within it, name/int pair, null terminators.
        let colour = unsafe {
            let rc = vips_extract_band(self.ptr(), &mut colour, 0, c"n".as_ptr(), colours, ptr::null::<c_char>());
            owned(rc, colour)?
        };
        // SAFETY: as above.
        let alpha = unsafe { owned(vips_extract_band(self.ptr(), &mut alpha, colours, ptr::null::<c_char>()), alpha)? };
        let changed = f(&colour)?;
        let mut out = ptr::null_mut();
        // SAFETY: two live inputs of one size, null terminator.
        let rc = unsafe { vips_bandjoin2(changed.ptr(), alpha.ptr(), &mut out, ptr::null::<c_char>()) };
        owned(rc, out)
    }

    /// The classic unsharp mask: `(1 + amount) × pixel − amount × blurred` with a Gaussian blur of
    /// `sigma` (8-bit, as `gaussblur` gives it), computed in floating point and clipped to 8 bits.
    pub(crate) fn unsharp_mask(&self, amount: f64, sigma: f64) -> Result<Image, VipsError> {
        let n = self.bands() as usize;
        let blurred = self.gaussian_blur(sigma)?;
        let sharp = self.linear_float(&vec![1.0 + amount; n], &vec![0.0; n])?;
        let less = blurred.linear_float(&vec![-amount; n], &vec![0.0; n])?;
        let mut out = ptr::null_mut();
        // SAFETY: two live images of one size and format, null terminator.
        let rc = unsafe { vips_add(sharp.ptr(), less.ptr(), &mut out, ptr::null::<c_char>()) };
        owned(rc, out)?.cast_uchar()
    }

    /// An SVG document rendered by librsvg at its own size, 8-bit RGBA, held in memory (so that
    /// it does not refer to `svg` once made).
    pub(crate) fn from_svg(svg: &[u8]) -> Result<Image, VipsError> {
        let mut out = ptr::null_mut();
        // SAFETY: the slice is live for the call; the loaded image is copied into memory of its
        // own before `svg` can go, and the lazy one is dropped.
        unsafe {
            let rc = vips_svgload_buffer(svg.as_ptr().cast(), svg.len(), &mut out, ptr::null::<c_char>());
            let lazy = owned(rc, out)?;
            let copy = vips_image_copy_memory(lazy.ptr());
            owned(if copy.is_null() { -1 } else { 0 }, copy)
        }
    }

    /// The last band (alpha, for an image that has it).
    pub(crate) fn alpha_band(&self) -> Result<Image, VipsError> {
        let mut out = ptr::null_mut();
        // SAFETY: live input, a band within it, null terminator.
        let rc = unsafe { vips_extract_band(self.ptr(), &mut out, c_int_of(self.bands() - 1), ptr::null::<c_char>()) };
        owned(rc, out)
    }

    /// This image with its alpha multiplied by `coverage` (one 8-bit band of its size; 255 keeps
    /// a pixel as it is, 0 hides it); an image without alpha gets `coverage` as its alpha.
    pub(crate) fn times_alpha(&self, coverage: &Image) -> Result<Image, VipsError> {
        let alpha = if self.has_alpha() {
            let mut product = ptr::null_mut();
            // SAFETY: two live one-band images of one size, null terminator.
            let rc =
                unsafe { vips_multiply(self.alpha_band()?.ptr(), coverage.ptr(), &mut product, ptr::null::<c_char>()) };
            owned(rc, product)?.linear(&[1.0 / 255.0], &[0.0])?
        } else {
            coverage.cast_uchar()?
        };
        let colour = if self.has_alpha() { self.colour_bands()? } else { self.cast_uchar()? };
        let mut out = ptr::null_mut();
        // SAFETY: two live inputs of one size, null terminator.
        let rc = unsafe { vips_bandjoin2(colour.ptr(), alpha.ptr(), &mut out, ptr::null::<c_char>()) };
        owned(rc, out)
    }

    /// Every band but alpha.
    fn colour_bands(&self) -> Result<Image, VipsError> {
        let mut out = ptr::null_mut();
        // SAFETY: live input, band numbers within it, name/int pair, null terminator.
        let rc = unsafe {
            vips_extract_band(self.ptr(), &mut out, 0, c"n".as_ptr(), c_int_of(self.bands() - 1), ptr::null::<c_char>())
        };
        owned(rc, out)
    }

    /// This RGBA image laid over a plane of `rgba` (0–255 each) of its size (Porter-Duff over).
    pub(crate) fn over_colour(&self, rgba: [f64; 4]) -> Result<Image, VipsError> {
        // SAFETY: live image, four doubles; the constant image matches its size and format.
        let base = unsafe { vips_image_new_from_image(self.ptr(), rgba.as_ptr(), 4) };
        let base = owned(if base.is_null() { -1 } else { 0 }, base)?;
        let mut out = ptr::null_mut();
        // SAFETY: two live images of one size, blend mode as int, null terminator.
        let rc = unsafe { vips_composite2(base.ptr(), self.ptr(), &mut out, BLEND_MODE_OVER, ptr::null::<c_char>()) };
        owned(rc, out)?.cast_uchar()
    }

    /// Each output band `i` is `Σ_j matrix[i][j] × band j` (3 × 3, floating point): colour mixing.
    pub(crate) fn recomb(&self, matrix: &[[f64; 3]; 3]) -> Result<Image, VipsError> {
        let flat: Vec<f64> = matrix.iter().flatten().copied().collect();
        // SAFETY: `flat` holds the 9 doubles of a 3 × 3 matrix; libvips copies them.
        let m = unsafe { vips_image_new_matrix_from_array(3, 3, flat.as_ptr(), 9) };
        let m = owned(if m.is_null() { -1 } else { 0 }, m)?;
        let mut out = ptr::null_mut();
        // SAFETY: two live images, null terminator.
        let rc = unsafe { vips_recomb(self.ptr(), &mut out, m.ptr(), ptr::null::<c_char>()) };
        owned(rc, out)
    }

    /// In CIE LCh (float: lightness, chroma, hue in degrees), alpha kept.
    pub(crate) fn to_lch(&self) -> Result<Image, VipsError> {
        let mut out = ptr::null_mut();
        // SAFETY: live input, enum as int, null terminator.
        let rc = unsafe { vips_colourspace(self.ptr(), &mut out, INTERPRETATION_LCH, ptr::null::<c_char>()) };
        owned(rc, out)
    }

    /// Back from any colour space to 8-bit sRGB (see [`Image::to_lch`]).
    pub(crate) fn lch_to_srgb(&self) -> Result<Image, VipsError> {
        let mut out = ptr::null_mut();
        // SAFETY: live input, enum as int, null terminator.
        let rc = unsafe { vips_colourspace(self.ptr(), &mut out, INTERPRETATION_SRGB, ptr::null::<c_char>()) };
        owned(rc, out)?.cast_uchar()
    }

    /// Every band raised to `1 / exponent`, scaled to the 8-bit range.
    pub(crate) fn gamma(&self, exponent: f64) -> Result<Image, VipsError> {
        let mut out = ptr::null_mut();
        // SAFETY: live input, name/double pair, null terminator.
        let rc = unsafe { vips_gamma(self.ptr(), &mut out, c"exponent".as_ptr(), exponent, ptr::null::<c_char>()) };
        owned(rc, out)?.cast_uchar()
    }

    /// libvips' unsharp mask on lightness, with a Gaussian of `sigma` and a slope of `m2` for
    /// the jagged areas.
    pub(crate) fn sharpen(&self, sigma: f64, m2: f64) -> Result<Image, VipsError> {
        let mut out = ptr::null_mut();
        // SAFETY: live input, name/double pairs, null terminator.
        let rc = unsafe {
            vips_sharpen(self.ptr(), &mut out, c"sigma".as_ptr(), sigma, c"m2".as_ptr(), m2, ptr::null::<c_char>())
        };
        owned(rc, out)?.cast_uchar()
    }

    /// Each `factor` × `factor` block averaged into one pixel (the last, partial ones dropped).
    pub(crate) fn shrink(&self, factor: u32) -> Result<Image, VipsError> {
        let mut out = ptr::null_mut();
        let factor = f64::from(factor);
        // SAFETY: live input, doubles, null terminator.
        let rc = unsafe { vips_shrink(self.ptr(), &mut out, factor, factor, ptr::null::<c_char>()) };
        owned(rc, out)
    }

    /// Each pixel repeated into a `factor` × `factor` block.
    pub(crate) fn zoom(&self, factor: u32) -> Result<Image, VipsError> {
        let mut out = ptr::null_mut();
        let factor = c_int_of(factor);
        // SAFETY: live input, ints, null terminator.
        let rc = unsafe { vips_zoom(self.ptr(), &mut out, factor, factor, ptr::null::<c_char>()) };
        owned(rc, out)
    }

    /// A copy ready to encode: without metadata (EXIF with its GPS position, XMP, IPTC: derived
    /// images carry pixels only; some 8.14 savers ignore `strip`), and reporting evaluation
    /// progress so the per-transform timeout can kill it.
    pub(crate) fn prepared_for_save(&self) -> Result<Image, VipsError> {
        let mut out = ptr::null_mut();
        // SAFETY: live input, null terminator.
        let rc = unsafe { vips_copy(self.ptr(), &mut out, ptr::null::<c_char>()) };
        let image = owned(rc, out)?;
        for field in [c"exif-data", c"xmp-data", c"iptc-data", c"orientation"] {
            // SAFETY: the copy is ours alone; removing an absent field is a no-op.
            unsafe { vips_image_remove(image.ptr(), field.as_ptr()) };
        }
        if EVAL_TIMEOUT_SECS.load(Ordering::Relaxed) > 0 {
            // SAFETY: `on_eval` has the signature of the "eval" signal; no user data is passed.
            unsafe {
                vips_image_set_progress(image.ptr(), 1);
                let handler: unsafe extern "C" fn(*mut VipsImage, *const VipsProgress, *mut c_void) = on_eval;
                g_signal_connect_data(
                    image.ptr().cast(),
                    c"eval".as_ptr(),
                    std::mem::transmute::<
                        unsafe extern "C" fn(*mut VipsImage, *const VipsProgress, *mut c_void),
                        GCallback,
                    >(handler),
                    ptr::null_mut(),
                    ptr::null(),
                    0,
                );
            }
        }
        Ok(image)
    }

    /// Encodes the image (computing its pixels) and returns the bytes. WebP stills are not encoded
    /// here but by [`super::webp`] (a newer libwebp); animated WebP is.
    pub(crate) fn save(&self, encoding: &Encoding) -> Result<Vec<u8>, VipsError> {
        let mut buf: *mut c_void = ptr::null_mut();
        let mut len: usize = 0;
        let null = ptr::null::<c_char>();
        let strip = c"strip".as_ptr();
        // SAFETY: name/value pairs of the documented types, null terminator; buf/len are written by libvips.
        let rc = unsafe {
            match *encoding {
                Encoding::Jpeg { quality, progressive, optimize, full_chroma } => vips_jpegsave_buffer(
                    self.ptr(),
                    &mut buf,
                    &mut len,
                    c"Q".as_ptr(),
                    c_int_of(quality),
                    c"interlace".as_ptr(),
                    c_int::from(progressive),
                    c"optimize_coding".as_ptr(),
                    c_int::from(optimize),
                    c"subsample_mode".as_ptr(),
                    if full_chroma { SUBSAMPLE_OFF } else { SUBSAMPLE_ON },
                    strip,
                    1 as c_int,
                    null,
                ),
                Encoding::Png { palette, quality, compression } => vips_pngsave_buffer(
                    self.ptr(),
                    &mut buf,
                    &mut len,
                    c"compression".as_ptr(),
                    c_int_of(compression),
                    c"palette".as_ptr(),
                    c_int::from(palette),
                    c"Q".as_ptr(),
                    c_int_of(quality),
                    strip,
                    1 as c_int,
                    null,
                ),
                Encoding::Avif { quality, lossless, effort } => vips_heifsave_buffer(
                    self.ptr(),
                    &mut buf,
                    &mut len,
                    c"Q".as_ptr(),
                    c_int_of(quality),
                    c"lossless".as_ptr(),
                    c_int::from(lossless),
                    c"compression".as_ptr(),
                    HEIF_COMPRESSION_AV1,
                    c"effort".as_ptr(),
                    c_int_of(effort),
                    strip,
                    1 as c_int,
                    null,
                ),
                Encoding::Webp { .. } => return Err(VipsError("WebP is encoded by imaging::webp".into())),
                Encoding::AnimatedWebp { quality, lossless, effort } => vips_webpsave_buffer(
                    self.ptr(),
                    &mut buf,
                    &mut len,
                    c"Q".as_ptr(),
                    c_int_of(quality),
                    c"lossless".as_ptr(),
                    c_int::from(lossless),
                    c"effort".as_ptr(),
                    c_int_of(effort),
                    strip,
                    1 as c_int,
                    null,
                ),
                Encoding::Gif => vips_gifsave_buffer(self.ptr(), &mut buf, &mut len, strip, 1 as c_int, null),
            }
        };
        if rc != 0 || buf.is_null() {
            if !buf.is_null() {
                // SAFETY: libvips allocated it with g_malloc.
                unsafe { g_free(buf) };
            }
            return Err(VipsError::take());
        }
        // SAFETY: libvips wrote `len` bytes at `buf`; we copy them and free the original.
        let bytes = unsafe {
            let bytes = std::slice::from_raw_parts(buf.cast::<u8>(), len).to_vec();
            g_free(buf);
            bytes
        };
        Ok(bytes)
    }
}

/// Encoder settings for [`Image::save`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Encoding {
    Jpeg {
        quality: u32,
        progressive: bool,
        optimize: bool,
        /// 4:4:4 instead of 4:2:0.
        full_chroma: bool,
    },
    Png {
        palette: bool,
        quality: u32,
        compression: u32,
    },
    Webp {
        quality: u32,
        lossless: bool,
        effort: u32,
    },
    Avif {
        quality: u32,
        lossless: bool,
        effort: u32,
    },
    /// An animation (the image's `page-height`, `delay` and `loop`), by libvips' own libwebp.
    AnimatedWebp {
        quality: u32,
        lossless: bool,
        effort: u32,
    },
    Gif,
}

/// The delay of a frame whose file gives none, in milliseconds (what browsers show).
const DEFAULT_DELAY_MS: i32 = 100;

/// GLib's warning, message, info and debug levels (`GLogLevelFlags`).
const LOG_LEVELS: c_int = (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7);

/// Forwards libvips' GLib log lines to `tracing`.
unsafe extern "C" fn on_log(_domain: *const c_char, level: c_int, message: *const c_char, _data: *mut c_void) {
    if message.is_null() {
        return;
    }
    // SAFETY: GLib passes a NUL-terminated message valid for the call.
    let text = unsafe { CStr::from_ptr(message) }.to_string_lossy();
    if level & (1 << 4) != 0 {
        tracing::info!(target: "libvips", "{text}");
    } else {
        tracing::debug!(target: "libvips", "{text}");
    }
}

/// The "eval" signal handler: kills an evaluation that has run longer than the timeout.
unsafe extern "C" fn on_eval(image: *mut VipsImage, progress: *const VipsProgress, _data: *mut c_void) {
    let limit = EVAL_TIMEOUT_SECS.load(Ordering::Relaxed);
    // SAFETY: libvips passes the live image and its progress record.
    unsafe {
        if limit > 0 && !progress.is_null() && (*progress).run >= limit {
            vips_image_set_kill(image, 1);
        }
    }
}
