//! Named colour buckets for the `colors` filter (spec §3.3): each dominant colour of an image
//! falls in one of twelve buckets, by its hue, saturation and lightness.

/// Every bucket the `colors` filter takes.
pub const COLOR_BUCKETS: [&str; 12] =
    ["black", "blue", "brown", "cyan", "green", "grey", "orange", "pink", "purple", "red", "white", "yellow"];

/// The bucket of an sRGB colour.
pub fn color_bucket(red: u8, green: u8, blue: u8) -> &'static str {
    let (r, g, b) = (f64::from(red) / 255.0, f64::from(green) / 255.0, f64::from(blue) / 255.0);
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let lightness = (max + min) / 2.0;
    let chroma = max - min;
    if lightness < 0.12 {
        return "black";
    }
    if lightness > 0.92 {
        return "white";
    }
    let saturation = if chroma == 0.0 { 0.0 } else { chroma / (1.0 - (2.0 * lightness - 1.0).abs()) };
    if saturation < 0.15 || chroma < 0.08 {
        return if lightness < 0.25 {
            "black"
        } else if lightness > 0.85 {
            "white"
        } else {
            "grey"
        };
    }
    let hue = if max == r {
        60.0 * ((g - b) / chroma).rem_euclid(6.0)
    } else if max == g {
        60.0 * ((b - r) / chroma + 2.0)
    } else {
        60.0 * ((r - g) / chroma + 4.0)
    };
    match hue {
        h if !(12.0..345.0).contains(&h) => {
            if lightness > 0.75 {
                "pink"
            } else {
                "red"
            }
        }
        h if h < 45.0 => {
            if lightness < 0.4 || (saturation < 0.5 && lightness < 0.55) {
                "brown"
            } else {
                "orange"
            }
        }
        h if h < 70.0 => {
            if lightness < 0.3 {
                "brown"
            } else {
                "yellow"
            }
        }
        h if h < 165.0 => "green",
        h if h < 195.0 => "cyan",
        h if h < 255.0 => "blue",
        h if h < 290.0 => "purple",
        _ => "pink",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets() {
        let cases = [
            ((0, 0, 0), "black"),
            ((20, 20, 25), "black"),
            ((255, 255, 255), "white"),
            ((240, 240, 235), "white"),
            ((128, 128, 128), "grey"),
            ((220, 30, 30), "red"),
            ((224, 112, 32), "orange"),
            ((120, 70, 30), "brown"),
            ((240, 220, 40), "yellow"),
            ((48, 160, 64), "green"),
            ((40, 200, 210), "cyan"),
            ((32, 80, 192), "blue"),
            ((130, 50, 200), "purple"),
            ((240, 120, 200), "pink"),
            ((255, 182, 193), "pink"),
        ];
        for ((r, g, b), bucket) in cases {
            assert_eq!(color_bucket(r, g, b), bucket, "rgb({r}, {g}, {b})");
            assert!(COLOR_BUCKETS.contains(&bucket));
        }
    }
}
