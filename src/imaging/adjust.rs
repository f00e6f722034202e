//! imgix's adjustment parameters (`bri`, `con`, `exp`, `gam`, `sat`, `hue`, `invert`, `sharp`,
//! `usm`, `usmrad`)
//! and its stylize group but the halftone (`sepia`, `monochrome`, `duotone`, `duotone-alpha`,
//! `px`): parsed here, applied to the resized image in one fixed order (tone, colour, inversion,
//! colour effects, sharpening, the unsharp mask, pixelation), each a libvips operation that
//! `tests/api/imgix_rendering.rs` repeats with the `vips` command. imgix publishes ranges but not
//! formulas; the formulas assetd uses are in the README's API notes.

use super::{
    params::{boolean, number, Color, ParamError},
    vips::{Image, VipsError},
};

/// Rec. 601 luma: the grey the colour effects start from.
const LUMA: [f64; 3] = [0.299, 0.587, 0.114];

/// imgix's default `usmrad`.
const DEFAULT_USM_RADIUS: f64 = 2.5;

/// The classic sepia tone matrix (rows: red, green, blue out of red, green, blue in).
const SEPIA: [[f64; 3]; 3] = [[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]];

/// The adjustments a URL asks for; the default changes nothing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Adjustments {
    /// Brightness, −100–100: adds `bri`% of white.
    pub bri: i32,
    /// Contrast, −100–100: scales the distance from mid-grey by `1 + con/100`.
    pub con: i32,
    /// Exposure, −100–100: multiplies by `2^(exp/50)` (±2 stops).
    pub exp: i32,
    /// Gamma, −100–100: raises to `1 / 2^(gam/100)` (positive lightens the mid-tones).
    pub gam: i32,
    /// Saturation, −100–100: scales LCh chroma by `1 + sat/100` (−100 is grey).
    pub sat: i32,
    /// Hue, 0–359: turns the LCh hue by `hue` degrees.
    pub hue: i32,
    pub invert: bool,
    /// Sharpening, 0–100: libvips' unsharp mask with a slope of `sharp/10`.
    pub sharp: f64,
    /// Unsharp mask, −100–100: adds `usm/100` of the difference from a Gaussian blur of sigma
    /// `usmrad` (negative softens).
    pub usm: i32,
    /// `usmrad`: the unsharp mask's radius (Gaussian sigma), 0.1–100, default 2.5.
    pub usmrad: Option<f64>,
    /// Pixelation, 0–100: blocks of `px` × `px` pixels, each its average.
    pub px: u32,
    /// Sepia, 0–100: how far towards the sepia tone matrix.
    pub sepia: u32,
    /// Monochrome: the luma mapped from black to this colour; its alpha is the effect's strength.
    pub monochrome: Option<Color>,
    /// Duotone: the luma mapped from the first colour (shadows) to the second (highlights).
    pub duotone: Option<(Color, Color)>,
    /// `duotone-alpha`, 0–100 (default 100): the duotone's strength.
    pub duotone_alpha: Option<u32>,
}

/// The parameters this module reads (all in [`super::RENDERED_PARAMS`]).
#[cfg(test)]
pub(super) const ADJUSTMENT_PARAMS: [&str; 15] = [
    "bri",
    "con",
    "exp",
    "gam",
    "sat",
    "hue",
    "invert",
    "sharp",
    "usm",
    "usmrad",
    "px",
    "sepia",
    "monochrome",
    "duotone",
    "duotone-alpha",
];

impl Adjustments {
    /// Applies `key` (a canonical imgix name); false when it is not an adjustment.
    pub(super) fn set(&mut self, key: &'static str, value: &str) -> Result<bool, ParamError> {
        let percent = |value: &str| number(key, value).map(|n| n.round().clamp(-100.0, 100.0) as i32);
        match key {
            "bri" => self.bri = percent(value)?,
            "con" => self.con = percent(value)?,
            "exp" => self.exp = percent(value)?,
            "gam" => self.gam = percent(value)?,
            "sat" => self.sat = percent(value)?,
            "hue" => self.hue = number(key, value)?.round().rem_euclid(360.0) as i32,
            "invert" => self.invert = boolean(key, value)?,
            "sharp" => self.sharp = number(key, value)?.clamp(0.0, 100.0),
            "usm" => self.usm = percent(value)?,
            "usmrad" => self.usmrad = Some(number(key, value)?.clamp(0.1, 100.0)),
            "px" => self.px = number(key, value)?.round().clamp(0.0, 100.0) as u32,
            "sepia" => self.sepia = number(key, value)?.round().clamp(0.0, 100.0) as u32,
            "monochrome" => self.monochrome = Some(Color::parse(key, value)?),
            "duotone" => {
                let Some((shadows, highlights)) = value.split_once(',') else {
                    return Err(ParamError::new(key, "expected two colours, shadows,highlights"));
                };
                self.duotone = Some((Color::parse(key, shadows.trim())?, Color::parse(key, highlights.trim())?));
            }
            "duotone-alpha" => self.duotone_alpha = Some(number(key, value)?.round().clamp(0.0, 100.0) as u32),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The cache-key pairs of the adjustments that change something, by name.
    pub fn canonical_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        for (name, value) in
            [("bri", self.bri), ("con", self.con), ("exp", self.exp), ("gam", self.gam), ("hue", self.hue)]
        {
            if value != 0 {
                pairs.push((name, value.to_string()));
            }
        }
        if self.invert {
            pairs.push(("invert", "1".into()));
        }
        if let Some((shadows, highlights)) = self.duotone {
            pairs.push(("duotone", format!("{shadows},{highlights}")));
            if let Some(alpha) = self.duotone_alpha.filter(|a| *a != 100) {
                pairs.push(("duotone-alpha", alpha.to_string()));
            }
        }
        if let Some(color) = self.monochrome {
            pairs.push(("monochrome", color.to_string()));
        }
        if self.px > 1 {
            pairs.push(("px", self.px.to_string()));
        }
        if self.sat != 0 {
            pairs.push(("sat", self.sat.to_string()));
        }
        if self.sepia > 0 {
            pairs.push(("sepia", self.sepia.to_string()));
        }
        if self.sharp > 0.0 {
            pairs.push(("sharp", format!("{}", self.sharp)));
        }
        if self.usm != 0 {
            pairs.push(("usm", self.usm.to_string()));
            if let Some(radius) = self.usmrad.filter(|r| *r != DEFAULT_USM_RADIUS) {
                pairs.push(("usmrad", format!("{radius}")));
            }
        }
        pairs
    }

    /// Whether applying them changes nothing.
    pub fn is_identity(&self) -> bool {
        self.canonical_pairs().is_empty()
    }

    /// Applies them to an 8-bit sRGB `image` (alpha untouched).
    pub(super) fn apply(&self, image: Image) -> Result<Image, VipsError> {
        let mut image = image;
        let (bands, alpha_band) = (image.bands() as usize, image.has_alpha().then(|| image.bands() as usize - 1));
        // One value per band: `colour` for the colour bands, `alpha` for the alpha band.
        let per_band = |colour: f64, alpha: f64| -> Vec<f64> {
            (0..bands).map(|band| if Some(band) == alpha_band { alpha } else { colour }).collect()
        };
        if self.exp != 0 {
            let factor = 2f64.powf(f64::from(self.exp) / 50.0);
            image = image.linear(&per_band(factor, 1.0), &per_band(0.0, 0.0))?;
        }
        if self.bri != 0 {
            image = image.linear(&per_band(1.0, 1.0), &per_band(2.55 * f64::from(self.bri), 0.0))?;
        }
        if self.con != 0 {
            let factor = 1.0 + f64::from(self.con) / 100.0;
            image = image.linear(&per_band(factor, 1.0), &per_band(128.0 * (1.0 - factor), 0.0))?;
        }
        if self.gam != 0 {
            let exponent = 2f64.powf(f64::from(self.gam) / 100.0);
            image = image.on_colour_bands(|colour| colour.gamma(exponent))?;
        }
        if self.sat != 0 || self.hue != 0 {
            let chroma = 1.0 + f64::from(self.sat) / 100.0;
            let lch = image.to_lch()?;
            let bands = lch.bands() as usize;
            let mut a = vec![1.0, chroma, 1.0];
            let mut b = vec![0.0, 0.0, f64::from(self.hue)];
            a.resize(bands, 1.0);
            b.resize(bands, 0.0);
            image = lch.linear_float(&a, &b)?.lch_to_srgb()?;
        }
        if self.invert {
            image = image.linear(&per_band(-1.0, 1.0), &per_band(255.0, 0.0))?;
        }
        for (matrix, offset) in self.colour_effects() {
            image = image.on_colour_bands(|colour| colour.recomb(&matrix)?.linear(&[1.0; 3], &offset))?;
        }
        if self.sharp > 0.0 {
            let slope = self.sharp / 10.0;
            image = image.on_colour_bands(|colour| colour.sharpen(1.0, slope))?;
        }
        if self.usm != 0 {
            let (amount, sigma) = (f64::from(self.usm) / 100.0, self.usmrad.unwrap_or(DEFAULT_USM_RADIUS));
            image = image.on_colour_bands(|colour| colour.unsharp_mask(amount, sigma))?;
        }
        if self.px > 1 {
            image = pixelate(image, self.px)?;
        }
        Ok(image)
    }
}

impl Adjustments {
    /// `sepia`, then `monochrome`, then `duotone`, each as `matrix × rgb + offset`, mixed with the
    /// unchanged colour by its strength `k`: `((1 − k)·I + k·M) × rgb + k·offset`.
    fn colour_effects(&self) -> Vec<([[f64; 3]; 3], [f64; 3])> {
        let mut effects = Vec::new();
        let mix = |k: f64, effect: [[f64; 3]; 3], offset: [f64; 3]| {
            let mut matrix = [[0.0; 3]; 3];
            for (i, row) in matrix.iter_mut().enumerate() {
                for (j, value) in row.iter_mut().enumerate() {
                    *value = (1.0 - k) * f64::from(u8::from(i == j)) + k * effect[i][j];
                }
            }
            (matrix, offset.map(|o| k * o))
        };
        // Each output channel: `low + (high − low) × luma / 255`.
        let ramp = |low: [f64; 3], high: [f64; 3]| {
            let matrix: [[f64; 3]; 3] = std::array::from_fn(|i| LUMA.map(|w| w * (high[i] - low[i]) / 255.0));
            (matrix, low)
        };
        if self.sepia > 0 {
            effects.push(mix(f64::from(self.sepia) / 100.0, SEPIA, [0.0; 3]));
        }
        if let Some(color) = self.monochrome {
            let (matrix, offset) = ramp([0.0; 3], color.rgb());
            effects.push(mix(f64::from(color.a) / 255.0, matrix, offset));
        }
        if let Some((shadows, highlights)) = self.duotone {
            let (matrix, offset) = ramp(shadows.rgb(), highlights.rgb());
            effects.push(mix(f64::from(self.duotone_alpha.unwrap_or(100)) / 100.0, matrix, offset));
        }
        effects
    }
}

/// Blocks of `size` × `size` pixels, each its average; the size does not change (edge blocks
/// that do not fill a whole block repeat the last full one's row or column).
fn pixelate(image: Image, size: u32) -> Result<Image, VipsError> {
    let (width, height) = (image.width(), image.height());
    let size = size.min(width).min(height).max(1);
    let blocks = image.shrink(size)?.zoom(size)?;
    let (w, h) = (blocks.width().min(width), blocks.height().min(height));
    let cropped = blocks.extract(0, 0, w, h)?;
    if (w, h) == (width, height) {
        return Ok(cropped);
    }
    cropped.embed(0, 0, width, height, None)
}
