//! Where the pixels go: from the source size and the parameters to a [`Plan`], with no image in
//! sight, so every `fit`/`crop`/`ar`/`rect`/`dpr`/focal-point rule is tested as plain arithmetic.
//!
//! Coordinates are in the displayed orientation (after EXIF rotation). A plan is executed as:
//! take `region` of the source → resize it to `resized` → optionally smart-crop → optionally place
//! it on a canvas.

use super::{
    padding,
    params::{Fit, ParamError, TransformParams, MAX_DIMENSION},
};

/// A rectangle in whole pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelRect {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

/// How a canvas around the resized image is filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// `fit=fill`/`fillmax`: a solid colour (`bg`, or transparent/white).
    Solid,
    /// `fit=clamp`: the edge pixels stretched outwards.
    Edge,
}

/// The resized image placed at `left, top` on a `width` × `height` canvas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Canvas {
    pub width: u32,
    pub height: u32,
    pub left: u32,
    pub top: u32,
    pub padding: Padding,
}

/// A crop chosen from the pixels (libvips smartcrop), applied after resizing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmartCrop {
    pub width: u32,
    pub height: u32,
    /// libvips' attention model (`crop=edges`/`faces`) rather than entropy.
    pub attention: bool,
}

/// What to do to a source image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// The part of the source that is kept.
    pub region: PixelRect,
    /// The size `region` is resized to (exactly).
    pub resized: (u32, u32),
    pub smart_crop: Option<SmartCrop>,
    pub canvas: Option<Canvas>,
}

impl Plan {
    /// The size of the image this plan produces.
    pub fn output_size(&self) -> (u32, u32) {
        if let Some(canvas) = self.canvas {
            return (canvas.width, canvas.height);
        }
        if let Some(crop) = self.smart_crop {
            return (crop.width, crop.height);
        }
        self.resized
    }
}

/// Computes the plan for a `width` × `height` source. `focal_point` is the point `crop=focalpoint`
/// centres on when `fp-x`/`fp-y` are not given (the upload's stored one, or the centre), as
/// fractions of the image after `rect`. `max_output_pixels` bounds the result's area, and
/// `max_upscale` (0: no bound) its width and height as multiples of the source's after `rect`.
pub fn plan(
    width: u32,
    height: u32,
    params: &TransformParams,
    focal_point: (f64, f64),
    max_output_pixels: u64,
    max_upscale: f64,
) -> Result<Plan, ParamError> {
    if !params.pad.is_zero() {
        let inner = plan(width, height, &padding::inner_request(params), focal_point, max_output_pixels, max_upscale)?;
        return Ok(padding::around(inner, params.pad.sides(), max_output_pixels));
    }
    let region = source_region(width, height, params)?;
    let (sw, sh) = (f64::from(region.width), f64::from(region.height));
    // The most the source may be enlarged. Without a canvas this bounds the scale, applied where
    // the scale is chosen so that sizes round once; a canvas is bounded with the output below.
    let max_scale = if max_upscale > 0.0 { max_upscale } else { f64::INFINITY };
    let dpr = params.dpr.unwrap_or(1.0);
    let shrink = dpr.min(1.0);
    let mut tw = params.w.map(|l| l.resolve(sw) * dpr);
    let mut th = params.h.map(|l| l.resolve(sh) * dpr);
    if let (true, Some(ar)) = (params.fit.crops(), params.ar) {
        match (tw, th) {
            (Some(w), None) => th = Some(w / ar),
            (None, Some(h)) => tw = Some(h * ar),
            (None, None) if sw / sh > ar => (tw, th) = (Some(sh * ar * shrink), Some(sh * shrink)),
            (None, None) => (tw, th) = (Some(sw * shrink), Some(sw / ar * shrink)),
            (Some(_), Some(_)) => {}
        }
    }
    // Without a size, a `dpr` below 1 shrinks the source itself (the srcset of `responsiveImage`
    // uses it); above 1 it does not enlarge it (react-datocms's fallback srcset relies on that).
    if tw.is_none() && th.is_none() && shrink < 1.0 {
        tw = Some(sw * shrink);
    }

    let mut plan = match (params.fit, tw, th) {
        (fit, Some(ow), Some(oh)) if fit.crops() => {
            // A smart crop resizes the whole region first: no larger than the source or the output limit.
            let max_resized = (u64::from(region.width) * u64::from(region.height)).max(max_output_pixels);
            crop_plan(region, (ow, oh), params, focal_point, max_resized, max_scale)
        }
        (Fit::Scale, _, _) => {
            let sx = tw.map(|w| w / sw).or(th.map(|h| h / sh)).unwrap_or(1.0);
            let sy = th.map(|h| h / sh).unwrap_or(sx);
            // Beyond the bound, both axes shrink alike: the stretch stays as asked.
            let f = (max_scale / sx).min(max_scale / sy).min(1.0);
            Plan { region, resized: (px(sw * sx * f), px(sh * sy * f)), smart_crop: None, canvas: None }
        }
        (fit, _, _) => {
            let padding = match fit {
                Fit::Fill | Fit::FillMax => Some(Padding::Solid),
                Fit::Clamp => Some(Padding::Edge),
                _ => None,
            };
            let mut s = [tw.map(|w| w / sw), th.map(|h| h / sh)].into_iter().flatten().fold(f64::INFINITY, f64::min);
            if !s.is_finite() {
                s = 1.0;
            }
            s = match fit {
                Fit::Max | Fit::FillMax | Fit::Min => s.min(1.0),
                _ if padding.is_none() => s.min(max_scale),
                _ => s,
            };
            let resized = (px(sw * s), px(sh * s));
            let canvas = match (padding, tw, th) {
                (Some(padding), Some(w), Some(h)) => {
                    let (width, height) = (px(w).max(resized.0), px(h).max(resized.1));
                    let (left, top) = ((width - resized.0) / 2, (height - resized.1) / 2);
                    Some(Canvas { width, height, left, top, padding })
                }
                _ => None,
            };
            Plan { region, resized, smart_crop: None, canvas }
        }
    };

    let (ow, oh) = plan.output_size();
    let (ow, oh) = (f64::from(ow), f64::from(oh));
    let mut bound = 1.0_f64;
    if let Some(max_w) = params.max_w {
        bound = bound.min(f64::from(max_w) / ow);
    }
    if let Some(max_h) = params.max_h {
        bound = bound.min(f64::from(max_h) / oh);
    }
    let limit = f64::from(MAX_DIMENSION);
    bound = bound.min(limit / ow).min(limit / oh);
    if max_upscale > 0.0 {
        // Enlarging adds pixels but no detail: the output (canvas included) is at most
        // `max_upscale` times the source a side (in whole pixels), so a tiny file cannot ask for
        // a huge render.
        let most = |side: f64| (max_upscale * side).round().max(1.0);
        bound = bound.min(most(sw) / ow).min(most(sh) / oh);
    }
    let pixels = ow * oh * bound * bound;
    if pixels > max_output_pixels as f64 {
        bound *= (max_output_pixels as f64 / pixels).sqrt();
    }
    if bound < 1.0 {
        plan = scaled(plan, bound);
    }
    Ok(plan)
}

/// `fit=crop` (and `min`, `facearea`) with a known output size: cover the box, then cut the window.
/// A smart crop whose cover-resize would exceed `max_resized` pixels is cut at the anchors instead.
/// A cover needing a scale above `max_scale` (1 for `min`) gets a box shrunk to that scale.
fn crop_plan(
    region: PixelRect,
    (ow, oh): (f64, f64),
    params: &TransformParams,
    focal_point: (f64, f64),
    max_resized: u64,
    max_scale: f64,
) -> Plan {
    let (sw, sh) = (f64::from(region.width), f64::from(region.height));
    let (mut ow, mut oh) = (ow, oh);
    let mut s = (ow / sw).max(oh / sh);
    let most = if params.fit == Fit::Min { 1.0 } else { max_scale };
    if s > most {
        (ow, oh, s) = (ow * most / s, oh * most / s, most);
    }
    if let Some(attention) = params.crop.smart {
        let resized = (px(sw * s).max(px(ow)), px(sh * s).max(px(oh)));
        // Covering a square with a 1×8192 source would mean a 400×3,276,800 image (found by the
        // transform_params fuzz target): libvips would grind on it until the transform timeout.
        if u64::from(resized.0) * u64::from(resized.1) <= max_resized {
            let smart_crop = SmartCrop { width: px(ow), height: px(oh), attention };
            return Plan { region, resized, smart_crop: Some(smart_crop), canvas: None };
        }
    }
    let focal = params.crop.focalpoint || params.fp_x.is_some() || params.fp_y.is_some();
    let zoom = if focal { params.fp_z.unwrap_or(1.0) } else { 1.0 };
    let window_w = (ow / (s * zoom)).min(sw);
    let window_h = (oh / (s * zoom)).min(sh);
    let (left, top) = if focal {
        let fx = params.fp_x.unwrap_or(focal_point.0);
        let fy = params.fp_y.unwrap_or(focal_point.1);
        (fx * sw - window_w / 2.0, fy * sh - window_h / 2.0)
    } else {
        let ax = params.crop.x.unwrap_or(0.5);
        let ay = params.crop.y.unwrap_or(0.5);
        (ax * (sw - window_w), ay * (sh - window_h))
    };
    let width = px(window_w).min(region.width);
    let height = px(window_h).min(region.height);
    let left = (left.round().max(0.0) as u32).min(region.width - width);
    let top = (top.round().max(0.0) as u32).min(region.height - height);
    let window = PixelRect { x: region.x + left, y: region.y + top, width, height };
    Plan { region: window, resized: (px(ow), px(oh)), smart_crop: None, canvas: None }
}

/// The part of the source `rect` selects, clamped to the image.
fn source_region(width: u32, height: u32, params: &TransformParams) -> Result<PixelRect, ParamError> {
    let full = PixelRect { x: 0, y: 0, width, height };
    let Some(rect) = params.rect else { return Ok(full) };
    let (w, h) = (f64::from(width), f64::from(height));
    let x = rect.x.resolve(w).round();
    let y = rect.y.resolve(h).round();
    let right = (x + rect.w.resolve(w).round()).min(w);
    let bottom = (y + rect.h.resolve(h).round()).min(h);
    if x >= w || y >= h || right - x < 1.0 || bottom - y < 1.0 {
        return Err(ParamError::new("rect", format!("lies outside the {width}x{height} image")));
    }
    Ok(PixelRect { x: x as u32, y: y as u32, width: (right - x) as u32, height: (bottom - y) as u32 })
}

/// The plan shrunk by `f` < 1, rounding down so the bounds hold.
fn scaled(plan: Plan, f: f64) -> Plan {
    let s = |v: u32| px((f64::from(v) * f + 1e-6).floor());
    let resized = (s(plan.resized.0), s(plan.resized.1));
    let smart_crop = plan.smart_crop.map(|c| SmartCrop {
        width: s(c.width).min(resized.0),
        height: s(c.height).min(resized.1),
        ..c
    });
    let canvas = plan.canvas.map(|c| {
        let (width, height) = (s(c.width).max(resized.0), s(c.height).max(resized.1));
        Canvas { width, height, left: (width - resized.0) / 2, top: (height - resized.1) / 2, ..c }
    });
    Plan { region: plan.region, resized, smart_crop, canvas }
}

/// Whole pixels, at least one.
fn px(v: f64) -> u32 {
    if v.is_finite() {
        v.round().clamp(1.0, f64::from(u32::MAX)) as u32
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imaging::params::{Crop, Length, SourceRect};

    const CENTRE: (f64, f64) = (0.5, 0.5);
    const NO_LIMIT: u64 = u64::MAX;
    /// `ASSETD_MAX_UPSCALE=0`: enlarging is bounded only by the output limits.
    const ANY_UPSCALE: f64 = 0.0;

    fn params(query: &str) -> TransformParams {
        TransformParams::parse(query).unwrap().unwrap()
    }

    fn plan_for(w: u32, h: u32, query: &str) -> Plan {
        plan(w, h, &params(query), CENTRE, NO_LIMIT, ANY_UPSCALE).unwrap()
    }

    fn rect(x: u32, y: u32, width: u32, height: u32) -> PixelRect {
        PixelRect { x, y, width, height }
    }

    #[test]
    fn clip_fits_inside_the_box_and_may_upscale() {
        assert_eq!(plan_for(4000, 3000, "w=720").resized, (720, 540));
        assert_eq!(plan_for(4000, 3000, "w=720&h=100").resized, (133, 100));
        assert_eq!(plan_for(400, 300, "w=800").resized, (800, 600));
        assert_eq!(plan_for(400, 300, "w=800&fit=max").resized, (400, 300));
        assert_eq!(plan_for(400, 300, "w=0.5").resized, (200, 150));
        assert_eq!(plan_for(400, 300, "fm=png").resized, (400, 300));
    }

    #[test]
    fn without_a_size_dpr_scales_the_source() {
        assert_eq!(plan_for(1000, 800, "dpr=0.25").output_size(), (250, 200));
        assert_eq!(plan_for(1000, 800, "dpr=0.5&fit=clip").output_size(), (500, 400));
        assert_eq!(plan_for(1000, 800, "dpr=2&fit=max").output_size(), (1000, 800), "max never enlarges");
        assert_eq!(plan_for(1000, 800, "dpr=1.5").output_size(), (1000, 800), "without a size, dpr never enlarges");
        assert_eq!(plan_for(800, 800, "ar=2%3A1&dpr=0.5&fit=crop").output_size(), (400, 200));
    }

    #[test]
    fn dpr_multiplies_w_and_h_but_not_max_w() {
        assert_eq!(plan_for(4000, 3000, "w=750&dpr=0.25").resized, (188, 141));
        assert_eq!(plan_for(4000, 3000, "w=750&dpr=2").resized, (1500, 1125));
        assert_eq!(plan_for(4000, 3000, "w=750&dpr=2&max-w=1000").resized, (1000, 750));
        assert_eq!(plan_for(4000, 3000, "max-w=800&dpr=2").resized, (800, 600));
    }

    #[test]
    fn crop_covers_the_box_and_keeps_the_centre_by_default() {
        let p = plan_for(4000, 3000, "w=400&h=400&fit=crop");
        assert_eq!(p.region, rect(500, 0, 3000, 3000));
        assert_eq!(p.resized, (400, 400));
        assert_eq!(p.output_size(), (400, 400));
    }

    #[test]
    fn crop_anchors_move_the_window() {
        assert_eq!(plan_for(4000, 3000, "w=400&h=400&fit=crop&crop=left").region, rect(0, 0, 3000, 3000));
        assert_eq!(plan_for(4000, 3000, "w=400&h=400&fit=crop&crop=right").region, rect(1000, 0, 3000, 3000));
        assert_eq!(plan_for(3000, 4000, "w=400&h=400&fit=crop&crop=bottom").region, rect(0, 1000, 3000, 3000));
        assert_eq!(plan_for(3000, 4000, "w=400&h=400&fit=crop&crop=top,right").region, rect(0, 0, 3000, 3000));
    }

    #[test]
    fn focal_point_crops_centre_on_the_point_within_the_image() {
        // The window is 3000 wide; centred on x = 0.9 × 4000 = 3600 it would overflow: it stops at the edge.
        let p = plan_for(4000, 3000, "w=400&h=400&fit=crop&crop=focalpoint&fp-x=0.9&fp-y=0.1");
        assert_eq!(p.region, rect(1000, 0, 3000, 3000));
        // Wide output from a tall window: the window follows fp-y.
        let p = plan_for(4000, 3000, "w=800&h=200&fit=crop&crop=focalpoint&fp-x=0.5&fp-y=0.3");
        assert_eq!(p.region, rect(0, 400, 4000, 1000));
        // Zoom 2 halves the window around the point.
        let p = plan_for(4000, 3000, "w=400&h=400&fit=crop&crop=focalpoint&fp-x=0.25&fp-y=0.5&fp-z=2");
        assert_eq!(p.region, rect(250, 750, 1500, 1500));
        assert_eq!(p.resized, (400, 400));
    }

    #[test]
    fn the_stored_focal_point_is_used_without_fp_parameters() {
        let p = plan(4000, 3000, &params("w=800&h=200&fit=crop&crop=focalpoint"), (0.5, 0.9), NO_LIMIT, ANY_UPSCALE)
            .unwrap();
        assert_eq!(p.region, rect(0, 2000, 4000, 1000));
        // An explicit fp-y wins over the stored one.
        let p =
            plan(4000, 3000, &params("w=800&h=200&fit=crop&crop=focalpoint&fp-y=0"), (0.5, 0.9), NO_LIMIT, ANY_UPSCALE)
                .unwrap();
        assert_eq!(p.region, rect(0, 0, 4000, 1000));
    }

    #[test]
    fn aspect_ratio_completes_the_missing_side() {
        let p = plan_for(4000, 3000, "fit=crop&ar=16:9&w=750");
        assert_eq!(p.resized, (750, 422));
        assert_eq!(p.region, rect(0, 375, 4000, 2250));
        let p = plan_for(4000, 3000, "fit=crop&ar=1:1");
        assert_eq!(p.region, rect(500, 0, 3000, 3000));
        assert_eq!(p.resized, (3000, 3000));
        // Without a cropping fit, ar does nothing.
        assert_eq!(plan_for(4000, 3000, "ar=1:1&w=400").resized, (400, 300));
    }

    #[test]
    fn react_datocms_srcset_widths() {
        for (dpr, width) in [(0.25, 188), (0.5, 375), (0.75, 563), (1.0, 750), (1.5, 1125), (2.0, 1500), (3.0, 2250)] {
            let p = plan_for(4000, 3000, &format!("ar=16%3A9&dpr={dpr}&fit=crop&w=750"));
            assert_eq!(p.output_size().0, width, "dpr {dpr}");
            let ratio = f64::from(p.output_size().0) / f64::from(p.output_size().1);
            assert!((ratio - 16.0 / 9.0).abs() < 0.02, "dpr {dpr}: {ratio}");
        }
    }

    #[test]
    fn min_crops_without_upscaling() {
        let p = plan_for(400, 300, "w=800&h=800&fit=min");
        assert_eq!(p.resized, (300, 300));
        assert_eq!(p.region, rect(50, 0, 300, 300));
    }

    #[test]
    fn scale_stretches() {
        assert_eq!(plan_for(400, 300, "w=100&h=100&fit=scale").resized, (100, 100));
        assert_eq!(plan_for(400, 300, "w=100&fit=scale").resized, (100, 75));
    }

    #[test]
    fn fill_pads_to_the_box() {
        let p = plan_for(400, 200, "w=100&h=100&fit=fill");
        assert_eq!(p.resized, (100, 50));
        assert_eq!(p.canvas, Some(Canvas { width: 100, height: 100, left: 0, top: 25, padding: Padding::Solid }));
        let p = plan_for(40, 20, "w=100&h=100&fit=fillmax");
        assert_eq!(p.resized, (40, 20));
        assert_eq!(p.canvas.unwrap().left, 30);
        assert_eq!(plan_for(400, 200, "w=100&h=100&fit=clamp").canvas.unwrap().padding, Padding::Edge);
    }

    #[test]
    fn rect_selects_the_source_first() {
        let p = plan_for(4000, 3000, "rect=1000,1000,2000,1000&w=200");
        assert_eq!(p.region, rect(1000, 1000, 2000, 1000));
        assert_eq!(p.resized, (200, 100));
        let p = plan_for(4000, 3000, "rect=3000,2000,5000,5000");
        assert_eq!(p.region, rect(3000, 2000, 1000, 1000));
        let err = plan(400, 300, &params("rect=500,0,10,10"), CENTRE, NO_LIMIT, ANY_UPSCALE).unwrap_err();
        assert_eq!(err.param, "rect");
    }

    #[test]
    fn smart_crops_resize_to_cover_then_crop() {
        let p = plan_for(4000, 3000, "w=400&h=400&fit=crop&crop=entropy");
        assert_eq!(p.resized, (533, 400));
        assert_eq!(p.smart_crop, Some(SmartCrop { width: 400, height: 400, attention: false }));
        assert_eq!(p.output_size(), (400, 400));
    }

    #[test]
    fn smart_crops_of_extreme_shapes_fall_back_to_the_anchors() {
        let p = plan(1, 8192, &params("w=400&h=400&fit=crop&crop=entropy"), CENTRE, 40_000_000, ANY_UPSCALE).unwrap();
        assert_eq!(p.smart_crop, None);
        assert_eq!((p.region, p.resized), (PixelRect { x: 0, y: 4096, width: 1, height: 1 }, (400, 400)));
        // A panorama is only resized down: still a smart crop.
        let p = plan(12_000, 2000, &params("w=2000&h=2000&fit=crop&crop=entropy"), CENTRE, 40_000_000, ANY_UPSCALE)
            .unwrap();
        assert_eq!((p.resized, p.smart_crop.map(|c| c.width)), ((12_000, 2000), Some(2000)));
    }

    #[test]
    fn output_is_bounded() {
        assert_eq!(plan_for(100, 100, "w=8192&h=8192&fit=scale").resized, (8192, 8192));
        let p = plan(100, 100, &params("w=8000&h=8000&fit=scale"), CENTRE, 1_000_000, ANY_UPSCALE).unwrap();
        assert_eq!(p.resized, (1000, 1000));
        let p = plan(1000, 750, &params("w=1000"), CENTRE, 10_000, ANY_UPSCALE).unwrap();
        assert_eq!(p.resized, (115, 86));
        let p = plan_for(4000, 3000, "w=400&h=400&fit=crop&max-w=100");
        assert_eq!(p.output_size(), (100, 100));
    }

    /// A 400×300 source with `ASSETD_MAX_UPSCALE=2`: no output side beyond 800×600.
    fn capped(query: &str) -> Plan {
        plan(400, 300, &params(query), CENTRE, NO_LIMIT, 2.0).unwrap()
    }

    #[test]
    fn enlarging_stops_at_max_upscale_and_the_output_keeps_its_shape() {
        let cases = [
            ("w=800", (800, 600), "clip at exactly the bound"),
            ("w=2000", (800, 600), "clip"),
            ("w=400&dpr=5", (800, 600), "dpr counts like w"),
            ("h=0.5&dpr=5", (800, 600), "a fraction × dpr too"),
            ("h=8000", (800, 600), "by height, rounded once"),
            ("w=2000&h=100", (133, 100), "a box the image fits without enlarging is untouched"),
            ("w=1000&h=1000&fit=crop", (600, 600), "crop: the square stays square"),
            ("w=2000&h=300&fit=crop", (800, 120), "crop: the requested 20:3 is kept"),
            ("w=1000&h=1000&fit=crop&crop=entropy", (600, 600), "smart crop"),
            ("w=1000&h=1000&fit=facearea", (600, 600), "facearea (a crop)"),
            ("w=1600&h=300&fit=scale", (800, 150), "scale: the stretch is kept"),
            ("w=1200&h=1200&fit=fill", (600, 600), "fill: the canvas counts"),
            ("w=1200&h=1200&fit=clamp", (600, 600), "clamp: the canvas counts"),
            ("w=1200&h=1200&fit=fillmax", (600, 600), "fillmax: the canvas counts"),
            ("w=2000&fit=max", (400, 300), "max never enlarges"),
            ("w=2000&h=2000&fit=min", (300, 300), "min never enlarges"),
            ("rect=0,0,100,100&w=1000", (200, 200), "the source is the rect"),
            ("w=8192&h=8192&fit=scale&max-w=500", (500, 500), "the tighter max-w wins"),
        ];
        for (query, size, why) in cases {
            assert_eq!(capped(query).output_size(), size, "{query}: {why}");
        }
    }

    #[test]
    fn a_capped_output_shows_what_the_full_request_would() {
        // The crop keeps its window; only the resize shrinks.
        let p = capped("w=1000&h=1000&fit=crop");
        assert_eq!((p.region, p.resized), (rect(50, 0, 300, 300), (600, 600)));
        let p = capped("w=2000&h=300&fit=crop&crop=top");
        assert_eq!((p.region, p.resized), (rect(0, 0, 400, 60), (800, 120)));
        // The padding keeps its proportions.
        let p = capped("w=1200&h=1200&fit=fill");
        assert_eq!(p.resized, (600, 450));
        assert_eq!(p.canvas, Some(Canvas { width: 600, height: 600, left: 0, top: 75, padding: Padding::Solid }));
        let p = capped("w=1200&h=1200&fit=fillmax");
        assert_eq!((p.resized, p.canvas.map(|c| (c.width, c.left, c.top))), ((200, 150), Some((600, 200, 225))));
    }

    #[test]
    fn max_upscale_and_the_pixel_limit_both_bound_the_output() {
        assert_eq!(plan(400, 300, &params("w=800"), CENTRE, NO_LIMIT, 1.0).unwrap().resized, (400, 300));
        assert_eq!(plan(400, 300, &params("w=8000"), CENTRE, 10_000, 2.0).unwrap().resized, (115, 86));
        assert_eq!(plan(400, 300, &params("w=8000"), CENTRE, NO_LIMIT, 0.0).unwrap().resized, (8000, 6000));
    }

    #[test]
    fn explicit_lengths_build_params() {
        let p = TransformParams {
            w: Some(Length::Pixels(10.0)),
            crop: Crop::default(),
            rect: Some(SourceRect {
                x: Length::Pixels(0.0),
                y: Length::Pixels(0.0),
                w: Length::Fraction(0.5),
                h: Length::Fraction(0.5),
            }),
            ..TransformParams::default()
        };
        assert_eq!(plan(100, 100, &p, CENTRE, NO_LIMIT, ANY_UPSCALE).unwrap().resized, (10, 10));
    }
}
