//! The rendition ladder of one source, and the MP4 renditions picked from it: pure arithmetic,
//! tested without ffmpeg.

use serde::{Deserialize, Serialize};

/// One rung of the HLS ladder: a size and the bitrate its encoder is held to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rung {
    /// `720p`: its short side's lines. Names the rung's folder and playlist.
    pub name: String,
    pub width: u32,
    pub height: u32,
    /// The encoder's `maxrate`, in kbit/s (the quality is constant, `crf`, within it).
    pub max_kbps: u32,
}

/// The MP4 renditions, named as Mux names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mp4Rendition {
    Low,
    Medium,
    High,
}

impl Mp4Rendition {
    pub const ALL: [Mp4Rendition; 3] = [Mp4Rendition::Low, Mp4Rendition::Medium, Mp4Rendition::High];

    /// `low`, `medium`, `high` (`mux_mp4_highest_res`; the file is `<name>.mp4`).
    pub fn name(self) -> &'static str {
        match self {
            Mp4Rendition::Low => "low",
            Mp4Rendition::Medium => "medium",
            Mp4Rendition::High => "high",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// Lines at and below which a rung is standard definition (`medium` at most).
const SD_LINES: u32 = 540;

/// The ladder for a `width`×`height` source: every rung of `lines` (highest first) not above
/// the source's short side, scaled to keep the aspect ratio (even sizes, as H.264 4:2:0 wants);
/// a source smaller than every rung gets one rung of its own size.
pub fn plan(width: u32, height: u32, lines: &[u32]) -> Vec<Rung> {
    let (width, height) = (width.max(2), height.max(2));
    let short = width.min(height);
    let mut rungs: Vec<Rung> = lines.iter().copied().filter(|&l| l <= short).map(|l| rung(width, height, l)).collect();
    if rungs.is_empty() {
        rungs.push(rung(width, height, short - short % 2));
    }
    rungs
}

fn rung(width: u32, height: u32, lines: u32) -> Rung {
    // The long side in proportion, rounded to the nearest even number.
    let short = u64::from(width.min(height));
    let scale = |side: u32| -> u32 {
        let half = (u64::from(side) * u64::from(lines) + short) / (2 * short);
        u32::try_from(half * 2).unwrap_or(u32::MAX).max(2)
    };
    let (w, h) = if width >= height { (scale(width), lines) } else { (lines, scale(height)) };
    // About 5 Mbit/s at 1080p, in proportion to the pixels, never below 300 kbit/s.
    let pixels = u64::from(w) * u64::from(h);
    let max_kbps = u32::try_from((pixels * 5000 / (1920 * 1080)).max(300)).unwrap_or(u32::MAX);
    Rung { name: format!("{lines}p"), width: w, height: h, max_kbps }
}

/// Which rungs the MP4 renditions are made of (a copy of the rung's stream, no second encode):
/// `low` is the lowest rung; `medium` the highest standard-definition rung (540 lines or fewer)
/// when that is not the lowest; `high` the top rung when it is high definition.
pub fn mp4_renditions(rungs: &[Rung]) -> Vec<(Mp4Rendition, usize)> {
    let Some(lowest) = rungs.len().checked_sub(1) else { return Vec::new() };
    let lines = |rung: &Rung| rung.width.min(rung.height);
    let mut picked = vec![(Mp4Rendition::Low, lowest)];
    if let Some(sd) = rungs.iter().position(|r| lines(r) <= SD_LINES).filter(|&i| i != lowest) {
        picked.push((Mp4Rendition::Medium, sd));
    }
    if lines(&rungs[0]) > SD_LINES && lowest > 0 {
        picked.push((Mp4Rendition::High, 0));
    }
    picked
}

#[cfg(test)]
mod tests {
    use super::*;

    const LADDER: [u32; 4] = [1080, 720, 480, 360];

    fn sizes(rungs: &[Rung]) -> Vec<(u32, u32)> {
        rungs.iter().map(|r| (r.width, r.height)).collect()
    }

    #[test]
    fn the_ladder_never_goes_above_the_source() {
        assert_eq!(sizes(&plan(1920, 1080, &LADDER)), [(1920, 1080), (1280, 720), (854, 480), (640, 360)]);
        assert_eq!(sizes(&plan(1280, 720, &LADDER)), [(1280, 720), (854, 480), (640, 360)]);
        assert_eq!(sizes(&plan(3840, 2160, &LADDER))[0], (1920, 1080));
        // Portrait: the short side is the width.
        assert_eq!(sizes(&plan(1080, 1920, &LADDER)), [(1080, 1920), (720, 1280), (480, 854), (360, 640)]);
        // Smaller than every rung: its own size, made even.
        assert_eq!(plan(321, 241, &LADDER), [Rung { name: "240p".into(), width: 320, height: 240, max_kbps: 300 }]);
        assert_eq!(plan(1920, 1080, &LADDER)[0].name, "1080p");
    }

    #[test]
    fn bitrates_follow_the_pixels() {
        let rungs = plan(1920, 1080, &LADDER);
        assert_eq!(rungs[0].max_kbps, 5000);
        assert!(rungs.windows(2).all(|w| w[0].max_kbps > w[1].max_kbps));
        assert_eq!(rungs[3].max_kbps, 555);
    }

    #[test]
    fn mp4_renditions_are_only_those_the_source_allows() {
        let picked = |w, h| -> Vec<(&'static str, u32)> {
            let rungs = plan(w, h, &LADDER);
            mp4_renditions(&rungs).into_iter().map(|(r, i)| (r.name(), rungs[i].height)).collect()
        };
        assert_eq!(picked(1920, 1080), [("low", 360), ("medium", 480), ("high", 1080)]);
        assert_eq!(picked(1280, 720), [("low", 360), ("medium", 480), ("high", 720)]);
        assert_eq!(picked(854, 480), [("low", 360), ("medium", 480)]);
        assert_eq!(picked(640, 360), [("low", 360)]);
        assert_eq!(picked(320, 240), [("low", 240)]);
        assert!(mp4_renditions(&[]).is_empty());
        assert!(Mp4Rendition::High > Mp4Rendition::Medium && Mp4Rendition::Medium > Mp4Rendition::Low);
        assert_eq!(Mp4Rendition::from_name("medium"), Some(Mp4Rendition::Medium));
        assert_eq!(Mp4Rendition::from_name("capped-1080p"), None);
    }
}
