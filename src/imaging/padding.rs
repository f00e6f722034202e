//! imgix's padding: `pad` (every side) and `pad-top`, `pad-right`, `pad-bottom`, `pad-left`
//! (one side each, over `pad`). Without `w`/`h` the padding is added around the image; with
//! them the image and its padding together fit the requested size (the image gets what the
//! padding leaves). The padded area shows `bg`, else transparency or white, as a `fit=fill`
//! canvas does; [`geometry::plan`](super::geometry::plan) turns it into the plan's canvas.

use super::{
    geometry::{Canvas, Padding, Plan},
    params::{number, Length, ParamError, TransformParams, MAX_DIMENSION},
};

/// The padding a URL asks for, in output pixels; the default pads nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PadParams {
    pub all: Option<u32>,
    pub top: Option<u32>,
    pub right: Option<u32>,
    pub bottom: Option<u32>,
    pub left: Option<u32>,
}

/// The parameters this module reads (all in [`super::RENDERED_PARAMS`]).
#[cfg(test)]
pub(super) const PAD_PARAMS: [&str; 5] = ["pad", "pad-top", "pad-right", "pad-bottom", "pad-left"];

impl PadParams {
    /// Applies `key` (a canonical imgix name); false when it is not a padding parameter.
    pub(super) fn set(&mut self, key: &'static str, value: &str) -> Result<bool, ParamError> {
        let side = match key {
            "pad" => &mut self.all,
            "pad-top" => &mut self.top,
            "pad-right" => &mut self.right,
            "pad-bottom" => &mut self.bottom,
            "pad-left" => &mut self.left,
            _ => return Ok(false),
        };
        let n = number(key, value)?;
        if n < 0.0 {
            return Err(ParamError::new(key, "padding cannot be negative"));
        }
        *side = Some(n.round().min(f64::from(MAX_DIMENSION)) as u32);
        Ok(true)
    }

    /// Top, right, bottom, left.
    pub fn sides(&self) -> [u32; 4] {
        [self.top, self.right, self.bottom, self.left].map(|side| side.or(self.all).unwrap_or(0))
    }

    pub fn is_zero(&self) -> bool {
        self.sides() == [0; 4]
    }

    /// Multiplies every side by `factor` (`dpr`, folded into the sizes).
    pub fn scale(&mut self, factor: f64) {
        let [top, right, bottom, left] =
            self.sides().map(|side| Some((f64::from(side) * factor).round().min(f64::from(MAX_DIMENSION)) as u32));
        *self = PadParams { all: None, top, right, bottom, left };
    }

    /// The cache-key pair: the four sides, when any is padded.
    pub fn canonical_pairs(&self) -> Vec<(&'static str, String)> {
        if self.is_zero() {
            return Vec::new();
        }
        vec![("pad", self.sides().map(|side| side.to_string()).join(","))]
    }
}

/// What the image inside the padding is asked to be: `params` without the padding, and with
/// `w`/`h` in pixels less the padding across them (at least 1).
pub(super) fn inner_request(params: &TransformParams) -> TransformParams {
    let [top, right, bottom, left] = params.pad.sides();
    let less = |length: Option<Length>, by: u32| match length {
        Some(Length::Pixels(v)) => Some(Length::Pixels((v - f64::from(by)).max(1.0))),
        other => other,
    };
    TransformParams {
        w: less(params.w, left + right),
        h: less(params.h, top + bottom),
        pad: PadParams::default(),
        ..params.clone()
    }
}

/// `inner` (the plan of the image alone) with `sides` (top, right, bottom, left) of padding
/// around it, shrunk if need be so that the output stays within `max_output_pixels` and
/// [`MAX_DIMENSION`] a side.
pub(super) fn around(inner: Plan, sides: [u32; 4], max_output_pixels: u64) -> Plan {
    let (width, height) = inner.output_size();
    let [top, right, bottom, left] = fitted(width, height, sides, max_output_pixels);
    let canvas = match inner.canvas {
        Some(c) => Canvas {
            width: c.width + left + right,
            height: c.height + top + bottom,
            left: c.left + left,
            top: c.top + top,
            padding: c.padding,
        },
        None => {
            Canvas { width: width + left + right, height: height + top + bottom, left, top, padding: Padding::Solid }
        }
    };
    Plan { canvas: Some(canvas), ..inner }
}

/// `sides` scaled by the largest factor (at most 1) that keeps a `width` × `height` image and
/// its padding within the limits.
fn fitted(width: u32, height: u32, sides: [u32; 4], max_output_pixels: u64) -> [u32; 4] {
    let [top, right, bottom, left] = sides.map(f64::from);
    let fits = |k: f64| {
        let w = (f64::from(width) + k * (left + right)).floor();
        let h = (f64::from(height) + k * (top + bottom)).floor();
        w <= f64::from(MAX_DIMENSION) && h <= f64::from(MAX_DIMENSION) && w * h <= max_output_pixels as f64
    };
    if fits(1.0) {
        return sides;
    }
    let (mut low, mut high) = (0.0, 1.0);
    for _ in 0..32 {
        let mid = (low + high) / 2.0;
        if fits(mid) {
            low = mid;
        } else {
            high = mid;
        }
    }
    sides.map(|side| (f64::from(side) * low).floor() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(pairs: &[(&'static str, &str)]) -> PadParams {
        let mut params = PadParams::default();
        for (key, value) in pairs {
            assert!(params.set(key, value).unwrap());
        }
        params
    }

    #[test]
    fn sides_take_their_own_value_over_pad() {
        assert_eq!(parsed(&[("pad", "10")]).sides(), [10; 4]);
        assert_eq!(parsed(&[("pad", "10"), ("pad-left", "3")]).sides(), [10, 10, 10, 3]);
        assert_eq!(parsed(&[("pad-top", "4")]).sides(), [4, 0, 0, 0]);
        assert!(PadParams::default().is_zero() && parsed(&[("pad", "0")]).is_zero());
        assert_eq!(parsed(&[("pad", "2"), ("pad-top", "5")]).canonical_pairs(), [("pad", "5,2,2,2".to_string())]);
        let mut scaled = parsed(&[("pad", "10"), ("pad-left", "3")]);
        scaled.scale(2.0);
        assert_eq!(scaled.sides(), [20, 20, 20, 6]);
        let mut params = PadParams::default();
        assert!(params.set("pad", "-1").is_err() && params.set("pad-top", "x").is_err());
    }

    #[test]
    fn padding_shrinks_to_keep_the_output_within_the_limits() {
        assert_eq!(fitted(100, 100, [10; 4], 1_000_000), [10; 4]);
        let shrunk = fitted(100, 100, [100; 4], 200 * 200);
        assert_eq!(shrunk, [50; 4]);
        assert_eq!(fitted(8192, 10, [5; 4], u64::MAX), [0; 4], "no room across");
    }
}
