//! Mux's image API (`thumbnail.{jpg,png,webp}`) in terms of the image pipeline: its parameters
//! become imgix ones and the frame time, and the renditions workflow makes the image (cached
//! by the frame time and parameters, so a new poster time is a new image). Pure.

/// Largest `width` or `height` asked for.
pub const MAX_SIDE: u32 = 4096;

/// A thumbnail request, translated.
#[derive(Debug, Clone, PartialEq)]
pub struct Thumbnail {
    /// The imgix query the pipeline renders (`w`, `h`, `fit`, `fm`, …).
    pub imgix_query: String,
    /// `time` in seconds, if asked; else the poster time, or the middle of the video.
    pub time: Option<f64>,
}

/// A parameter Mux documents, with a value assetd cannot use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThumbnailError {
    pub param: &'static str,
    pub message: String,
}

/// Translates `query` for the thumbnail in format `extension` (`jpg`, `png`, `webp`). Mux's
/// `fit_mode`: `preserve` (the default: within `width` × `height`, the aspect ratio kept),
/// `stretch`, `crop`, `smartcrop` (a crop centred on the most detailed part) and `pad` (black
/// bars). `rotate`, `flip_v`, `flip_h` and unknown parameters are ignored.
pub fn translate(query: Option<&str>, extension: &str) -> Result<Thumbnail, ThumbnailError> {
    let format = match extension {
        "jpg" => "jpg",
        "png" => "png",
        "webp" => "webp",
        other => return Err(ThumbnailError { param: "format", message: format!("unknown format `{other}`") }),
    };
    let (mut width, mut height, mut time, mut fit) = (None, None, None, "preserve".to_owned());
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let value = value.trim();
        match key.as_ref() {
            "width" => width = Some(side("width", value)?),
            "height" => height = Some(side("height", value)?),
            "time" => {
                let seconds: f64 =
                    value.parse().ok().filter(|t: &f64| t.is_finite() && *t >= 0.0).ok_or_else(|| ThumbnailError {
                        param: "time",
                        message: "must be a number of seconds, 0 or more".into(),
                    })?;
                time = Some(seconds);
            }
            "fit_mode" => fit = value.to_owned(),
            _ => {}
        }
    }
    let fit = match fit.as_str() {
        "preserve" => "fit=clip",
        "stretch" => "fit=scale",
        "crop" => "fit=crop",
        "smartcrop" => "fit=crop&crop=entropy",
        "pad" => "fit=fill&bg=000",
        other => return Err(ThumbnailError { param: "fit_mode", message: format!("unknown fit_mode `{other}`") }),
    };
    let mut imgix = format!("fm={format}&{fit}");
    if let Some(width) = width {
        imgix.push_str(&format!("&w={width}"));
    }
    if let Some(height) = height {
        imgix.push_str(&format!("&h={height}"));
    }
    Ok(Thumbnail { imgix_query: imgix, time })
}

fn side(param: &'static str, value: &str) -> Result<u32, ThumbnailError> {
    value.parse().ok().filter(|v| (1..=MAX_SIDE).contains(v)).ok_or_else(|| ThumbnailError {
        param,
        message: format!("must be a whole number of pixels from 1 to {MAX_SIDE}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mux_parameters_become_imgix_ones() {
        let t = translate(Some("width=320&time=2.5"), "jpg").unwrap();
        assert_eq!(t, Thumbnail { imgix_query: "fm=jpg&fit=clip&w=320".into(), time: Some(2.5) });
        let t = translate(Some("width=100&height=100&fit_mode=smartcrop&token=x"), "webp").unwrap();
        assert_eq!(t.imgix_query, "fm=webp&fit=crop&crop=entropy&w=100&h=100");
        assert_eq!(t.time, None);
        assert_eq!(translate(None, "png").unwrap().imgix_query, "fm=png&fit=clip");
        assert_eq!(
            translate(Some("fit_mode=pad&width=10&height=20"), "jpg").unwrap().imgix_query,
            "fm=jpg&fit=fill&bg=000&w=10&h=20"
        );
    }

    #[test]
    fn bad_values_name_their_parameter() {
        for (query, param) in [
            ("width=0", "width"),
            ("width=5000", "width"),
            ("height=-1", "height"),
            ("time=-2", "time"),
            ("time=NaN", "time"),
            ("time=abc", "time"),
            ("fit_mode=zoom", "fit_mode"),
        ] {
            assert_eq!(translate(Some(query), "jpg").unwrap_err().param, param, "{query}");
        }
        assert_eq!(translate(None, "gif").unwrap_err().param, "format");
    }
}
