//! imgix's mask group: `mask=ellipse` (the ellipse inscribed in the output) and `mask=corners`
//! (rounded corners, `corner-radius`), drawn as an SVG shape by librsvg at the output's size
//! (anti-aliased) and used as the output's alpha; `mask-bg` fills what the mask hides. imgix's
//! image masks (`mask=<url>`) are not rendered.

use super::{
    params::{number, Color, ParamError},
    vips::{Image, VipsError},
};

/// The shape of `mask`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskShape {
    Ellipse,
    Corners,
}

/// The mask a URL asks for; the default masks nothing.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MaskParams {
    pub shape: Option<MaskShape>,
    /// `corner-radius`: pixels at the top left, top right, bottom right, bottom left; `None`:
    /// 20 % of the output's shorter side (imgix's default).
    pub radii: Option<[f64; 4]>,
    /// `mask-bg`: what fills the hidden area (default: transparent, or white for formats
    /// without alpha).
    pub bg: Option<Color>,
}

/// The parameters this module reads (all in [`super::RENDERED_PARAMS`]).
#[cfg(test)]
pub(super) const MASK_PARAMS: [&str; 3] = ["mask", "corner-radius", "mask-bg"];

/// imgix's default corner radius: this share of the shorter side.
const DEFAULT_RADIUS: f64 = 0.2;

impl MaskParams {
    /// Applies `key` (a canonical imgix name); false when it is not a mask parameter.
    pub(super) fn set(&mut self, key: &'static str, value: &str) -> Result<bool, ParamError> {
        match key {
            "mask" => {
                self.shape = Some(match value {
                    "ellipse" => MaskShape::Ellipse,
                    "corners" => MaskShape::Corners,
                    other => {
                        return Err(ParamError::new(
                            key,
                            format!("`{other}`: assetd draws `ellipse` and `corners`; image masks are not rendered"),
                        ))
                    }
                })
            }
            "corner-radius" => self.radii = radii(value)?,
            "mask-bg" => self.bg = Some(Color::parse(key, value)?),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Multiplies pixel radii by `factor` (`dpr`, folded into the sizes).
    pub fn scale(&mut self, factor: f64) {
        if let Some(radii) = &mut self.radii {
            for radius in radii {
                *radius *= factor;
            }
        }
    }

    /// The cache-key pairs of the parameters that change something (none without `mask`).
    pub fn canonical_pairs(&self) -> Vec<(&'static str, String)> {
        let Some(shape) = self.shape else { return Vec::new() };
        let mut pairs = vec![("mask", if shape == MaskShape::Ellipse { "ellipse" } else { "corners" }.to_owned())];
        if let (MaskShape::Corners, Some(radii)) = (shape, self.radii) {
            pairs.push(("corner-radius", radii.map(|r| format!("{r}")).join(",")));
        }
        if let Some(bg) = self.bg {
            pairs.push(("mask-bg", bg.to_string()));
        }
        pairs
    }

    /// The SVG whose alpha is the mask of a `width` × `height` output, or `None` without `mask`.
    pub(super) fn svg(&self, width: u32, height: u32) -> Option<String> {
        let (w, h) = (f64::from(width), f64::from(height));
        let shape = match self.shape? {
            MaskShape::Ellipse => {
                format!(
                    r##"<ellipse cx="{}" cy="{}" rx="{}" ry="{}" fill="#fff"/>"##,
                    w / 2.0,
                    h / 2.0,
                    w / 2.0,
                    h / 2.0
                )
            }
            MaskShape::Corners => {
                let largest = w.min(h) / 2.0;
                let default = w.min(h) * DEFAULT_RADIUS;
                let [tl, tr, br, bl] = self.radii.unwrap_or([default; 4]).map(|r| r.clamp(0.0, largest));
                format!(
                    r##"<path d="M{tl},0 H{} A{tr},{tr} 0 0 1 {w},{tr} V{} A{br},{br} 0 0 1 {},{h} H{bl} A{bl},{bl} 0 0 1 0,{} V{tl} A{tl},{tl} 0 0 1 {tl},0 Z" fill="#fff"/>"##,
                    w - tr,
                    h - br,
                    w - br,
                    h - bl
                )
            }
        };
        Some(format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">{shape}</svg>"#
        ))
    }

    /// `image` masked: the shape's coverage multiplies its alpha (added when it has none); with
    /// `mask-bg`, the result is laid over that colour.
    pub(super) fn apply(&self, image: Image) -> Result<Image, VipsError> {
        let Some(svg) = self.svg(image.width(), image.height()) else { return Ok(image) };
        let coverage = Image::from_svg(svg.as_bytes())?.alpha_band()?;
        let masked = image.times_alpha(&coverage)?;
        match self.bg {
            Some(bg) if bg.a > 0 => {
                let [r, g, b] = bg.rgb();
                masked.over_colour([r, g, b, f64::from(bg.a)])
            }
            _ => Ok(masked),
        }
    }
}

/// `corner-radius`: one radius for every corner, or four (top left, top right, bottom right,
/// bottom left). A single 0 keeps imgix's default (20 % of the shorter side); in the list, 0
/// is a square corner.
fn radii(value: &str) -> Result<Option<[f64; 4]>, ParamError> {
    let values: Vec<f64> =
        value.split(',').map(|part| number("corner-radius", part.trim())).collect::<Result<_, _>>()?;
    if values.iter().any(|v| *v < 0.0) {
        return Err(ParamError::new("corner-radius", "radii cannot be negative"));
    }
    match values[..] {
        [0.0] => Ok(None),
        [all] => Ok(Some([all; 4])),
        [tl, tr, br, bl] => Ok(Some([tl, tr, br, bl])),
        _ => Err(ParamError::new("corner-radius", "expected one radius or four (tl,tr,br,bl)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(pairs: &[(&'static str, &str)]) -> MaskParams {
        let mut params = MaskParams::default();
        for (key, value) in pairs {
            assert!(params.set(key, value).unwrap());
        }
        params
    }

    #[test]
    fn radii_are_one_or_four_and_zero_alone_is_the_default() {
        assert_eq!(parsed(&[("corner-radius", "12")]).radii, Some([12.0; 4]));
        assert_eq!(parsed(&[("corner-radius", "1,2,3,0")]).radii, Some([1.0, 2.0, 3.0, 0.0]));
        assert_eq!(parsed(&[("corner-radius", "0")]).radii, None);
        let mut params = MaskParams::default();
        for bad in ["1,2", "-1", "x", "1,2,3,-4"] {
            assert!(params.set("corner-radius", bad).is_err(), "{bad}");
        }
        assert!(params.set("mask", "https://example.com/m.png").is_err());
        assert!(!params.set("mask-type", "x").unwrap());
    }

    #[test]
    fn the_key_names_the_mask_and_only_with_a_mask() {
        assert!(parsed(&[("corner-radius", "4"), ("mask-bg", "f00")]).canonical_pairs().is_empty());
        let pairs = parsed(&[("mask", "corners"), ("corner-radius", "4"), ("mask-bg", "f00")]).canonical_pairs();
        assert_eq!(
            pairs,
            [("mask", "corners".to_string()), ("corner-radius", "4,4,4,4".into()), ("mask-bg", "ffff0000".into())]
        );
        // The ellipse has no radius.
        assert_eq!(parsed(&[("mask", "ellipse"), ("corner-radius", "4")]).canonical_pairs().len(), 1);
    }

    #[test]
    fn radii_are_bounded_by_half_the_shorter_side() {
        let svg = parsed(&[("mask", "corners"), ("corner-radius", "500")]).svg(100, 40).unwrap();
        assert!(svg.contains("M20,0 H80 A20,20"), "{svg}");
        let default = parsed(&[("mask", "corners")]).svg(100, 40).unwrap();
        assert!(default.contains("M8,0 H92 A8,8"), "{default}");
    }
}
