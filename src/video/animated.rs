//! Mux's animated previews (`animated.{gif,webp}?start=&end=&width=&height=&fps=`) as a clip
//! for the renditions workflow, with Mux's defaults and limits: from `start` (default 0) to
//! `end` (default 5 s later; at most 10 s and at least 0.25 s long, within the video), 320 px
//! wide unless `height` is given (640 px at most a side; the aspect ratio kept, never larger than
//! the video), 15 frames a second (30 at most). Pure.

use super::thumbnail::ThumbnailError;
use crate::media::{
    video_animation::{MAX_FPS, MAX_SECONDS, MAX_SIDE, MIN_SECONDS},
    AnimatedClip, AnimationFormat,
};

const DEFAULT_SECONDS: f64 = 5.0;
const DEFAULT_WIDTH: u32 = 320;
const DEFAULT_FPS: u32 = 15;

/// The clip `query` asks for, of a video of `size` (width, height) and `duration` seconds.
pub fn translate(
    query: Option<&str>,
    extension: &str,
    size: (u32, u32),
    duration: Option<f64>,
) -> Result<AnimatedClip, ThumbnailError> {
    let format = match extension {
        "gif" => AnimationFormat::Gif,
        "webp" => AnimationFormat::Webp,
        other => return Err(error("format", format!("unknown format `{other}`"))),
    };
    let (mut start, mut end, mut width, mut height, mut fps) = (0.0, None, None, None, DEFAULT_FPS);
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let value = value.trim();
        match key.as_ref() {
            "start" => start = seconds("start", value)?,
            "end" => end = Some(seconds("end", value)?),
            "width" => width = Some(whole("width", value, MAX_SIDE)?),
            "height" => height = Some(whole("height", value, MAX_SIDE)?),
            "fps" => fps = whole("fps", value, MAX_FPS)?,
            _ => {}
        }
    }
    let mut end = end.unwrap_or(start + DEFAULT_SECONDS).min(start + MAX_SECONDS);
    if let Some(duration) = duration.filter(|d| d.is_finite() && *d > 0.0) {
        if start + MIN_SECONDS > duration {
            return Err(error("start", format!("must be at least {MIN_SECONDS} s before the end ({duration} s)")));
        }
        end = end.min(duration);
    }
    if end - start < MIN_SECONDS {
        return Err(error("end", format!("must be at least {MIN_SECONDS} s after start")));
    }
    let (width, height) = dimensions(size, width, height);
    Ok(AnimatedClip { start, end, width, height, fps, format })
}

/// Mux's sizing: the width (320 px by default, or from `height`), the other side from the
/// aspect ratio; both given: the largest size of that aspect ratio within them. Never larger than
/// the video (defaults), nor 640 px a side.
fn dimensions((source_w, source_h): (u32, u32), width: Option<u32>, height: Option<u32>) -> (u32, u32) {
    let (source_w, source_h) = (f64::from(source_w.max(1)), f64::from(source_h.max(1)));
    let aspect = source_w / source_h;
    let (w, h) = match (width, height) {
        (Some(w), Some(h)) => {
            let (w, h) = (f64::from(w), f64::from(h));
            if w / h > aspect {
                (h * aspect, h)
            } else {
                (w, w / aspect)
            }
        }
        (Some(w), None) => (f64::from(w), f64::from(w) / aspect),
        (None, Some(h)) => (f64::from(h) * aspect, f64::from(h)),
        (None, None) => {
            let w = f64::from(DEFAULT_WIDTH).min(source_w);
            (w, w / aspect)
        }
    };
    let max = f64::from(MAX_SIDE);
    let fit = (max / w).min(max / h).min(1.0);
    let side = |v: f64| ((v * fit).round() as u32).clamp(1, MAX_SIDE);
    (side(w), side(h))
}

fn seconds(param: &'static str, value: &str) -> Result<f64, ThumbnailError> {
    value
        .parse()
        .ok()
        .filter(|t: &f64| t.is_finite() && *t >= 0.0)
        .ok_or_else(|| error(param, "must be a number of seconds, 0 or more".into()))
}

fn whole(param: &'static str, value: &str, max: u32) -> Result<u32, ThumbnailError> {
    value
        .parse()
        .ok()
        .filter(|v| (1..=max).contains(v))
        .ok_or_else(|| error(param, format!("must be a whole number from 1 to {max}")))
}

fn error(param: &'static str, message: String) -> ThumbnailError {
    ThumbnailError { param, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mux_defaults() {
        let clip = translate(None, "gif", (1920, 1080), Some(60.0)).unwrap();
        assert_eq!(
            clip,
            AnimatedClip { start: 0.0, end: 5.0, width: 320, height: 180, fps: 15, format: AnimationFormat::Gif }
        );
        let clip = translate(Some("start=10&end=40&height=90&fps=30"), "webp", (1920, 1080), Some(60.0)).unwrap();
        assert_eq!(
            (clip.start, clip.end, clip.width, clip.height, clip.fps),
            (10.0, 20.0, 160, 90, 30),
            "10 s at most"
        );
        let clip = translate(Some("start=58"), "gif", (1920, 1080), Some(60.0)).unwrap();
        assert_eq!(clip.end, 60.0, "within the video");
        let clip = translate(Some("width=640&height=640"), "gif", (1080, 1920), None).unwrap();
        assert_eq!((clip.width, clip.height), (360, 640), "the aspect ratio kept within both");
        let clip = translate(None, "gif", (64, 48), None).unwrap();
        assert_eq!((clip.width, clip.height), (64, 48), "never larger than the video by default");
    }

    #[test]
    fn bad_values_name_their_parameter() {
        for (query, param) in [
            ("start=-1", "start"),
            ("start=59.9", "start"),
            ("end=abc", "end"),
            ("start=5&end=5.1", "end"),
            ("width=641", "width"),
            ("height=0", "height"),
            ("fps=31", "fps"),
            ("fps=1.5", "fps"),
        ] {
            assert_eq!(translate(Some(query), "gif", (1920, 1080), Some(60.0)).unwrap_err().param, param, "{query}");
        }
        assert_eq!(translate(None, "mp4", (1920, 1080), None).unwrap_err().param, "format");
    }
}
