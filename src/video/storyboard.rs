//! Storyboards (Mux's `storyboard.{jpg,png,webp}` and `storyboard.{vtt,json}`): one image of
//! evenly spaced frames in a grid, made by the transcode from the frames it decodes anyway, and
//! the cues players read to show a frame above their timeline. As Mux: 50 tiles for a video
//! shorter than 15 minutes, 100 for a longer one. Pure.

use serde::{Deserialize, Serialize};
use serde_json::json;

/// Tiles per row of the grid.
const COLUMNS: u32 = 10;
/// The long side of a tile, pixels.
const TILE_SIDE: u32 = 256;

/// A storyboard's layout: `tiles` frames, one every `interval` seconds from 0, `columns` a row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Storyboard {
    pub tiles: u32,
    pub columns: u32,
    pub rows: u32,
    pub tile_width: u32,
    pub tile_height: u32,
    pub interval: f64,
    pub duration: f64,
}

/// The image formats a storyboard is stored in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoryboardImage {
    Jpg,
    Png,
    Webp,
}

impl StoryboardImage {
    pub const ALL: [StoryboardImage; 3] = [StoryboardImage::Jpg, StoryboardImage::Png, StoryboardImage::Webp];

    pub fn extension(self) -> &'static str {
        match self {
            StoryboardImage::Jpg => "jpg",
            StoryboardImage::Png => "png",
            StoryboardImage::Webp => "webp",
        }
    }

    pub fn from_extension(extension: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.extension() == extension)
    }

    pub fn content_type(self) -> &'static str {
        match self {
            StoryboardImage::Jpg => "image/jpeg",
            StoryboardImage::Png => "image/png",
            StoryboardImage::Webp => "image/webp",
        }
    }

    /// Its file in the generation.
    pub fn file_name(self) -> String {
        format!("storyboard.{}", self.extension())
    }
}

/// The storyboard of a `width`×`height` video of `duration` seconds; `None` without a duration.
pub fn plan(width: u32, height: u32, duration: Option<f64>) -> Option<Storyboard> {
    let duration = duration.filter(|d| d.is_finite() && *d > 0.0)?;
    let tiles: u32 = if duration < 15.0 * 60.0 { 50 } else { 100 };
    let (width, height) = (f64::from(width.max(1)), f64::from(height.max(1)));
    let even = |v: f64| ((v / 2.0).round() as u32 * 2).max(2);
    let side = f64::from(TILE_SIDE);
    let (tile_width, tile_height) = if width >= height {
        (TILE_SIDE, even(side * height / width))
    } else {
        (even(side * width / height), TILE_SIDE)
    };
    Some(Storyboard {
        tiles,
        columns: COLUMNS,
        rows: tiles.div_ceil(COLUMNS),
        tile_width,
        tile_height,
        interval: duration / f64::from(tiles),
        duration,
    })
}

impl Storyboard {
    /// The ffmpeg filters that make the grid from the decoded frames.
    pub fn filter(&self) -> String {
        format!(
            "fps=fps={:.6}:start_time=0,scale={}:{}:flags=bicubic,setsar=1,tile={}x{}",
            1.0 / self.interval,
            self.tile_width,
            self.tile_height,
            self.columns,
            self.rows
        )
    }

    /// Each tile's time range and place in the grid: (start, end, x, y).
    fn cues(&self) -> impl Iterator<Item = (f64, f64, u32, u32)> + '_ {
        (0..self.tiles).map(move |i| {
            let start = f64::from(i) * self.interval;
            let end = (f64::from(i + 1) * self.interval).min(self.duration);
            (start, end, (i % self.columns) * self.tile_width, (i / self.columns) * self.tile_height)
        })
    }

    /// The WebVTT metadata track (`storyboard.vtt`): one cue per tile naming `image_url` with
    /// a `#xywh=` media fragment, as Mux writes it.
    pub fn vtt(&self, image_url: &str) -> String {
        let mut out = String::from("WEBVTT\n");
        for (start, end, x, y) in self.cues() {
            out.push_str(&format!(
                "\n{} --> {}\n{image_url}#xywh={x},{y},{},{}\n",
                vtt_time(start),
                vtt_time(end),
                self.tile_width,
                self.tile_height
            ));
        }
        out
    }

    /// The same as JSON (`storyboard.json`), in Mux's shape.
    pub fn json(&self, image_url: &str) -> serde_json::Value {
        let tiles: Vec<_> = self
            .cues()
            .map(|(start, _, x, y)| json!({ "start": (start * 1000.0).round() / 1000.0, "x": x, "y": y }))
            .collect();
        json!({
            "url": image_url,
            "tile_width": self.tile_width,
            "tile_height": self.tile_height,
            "duration": self.duration,
            "tiles": tiles,
        })
    }
}

/// `hh:mm:ss.mmm`.
fn vtt_time(seconds: f64) -> String {
    let millis = (seconds * 1000.0).round() as u64;
    format!("{:02}:{:02}:{:02}.{:03}", millis / 3_600_000, millis / 60_000 % 60, millis / 1000 % 60, millis % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifty_tiles_under_fifteen_minutes_and_a_hundred_above() {
        let board = plan(1920, 1080, Some(60.0)).unwrap();
        assert_eq!((board.tiles, board.columns, board.rows), (50, 10, 5));
        assert_eq!((board.tile_width, board.tile_height), (256, 144));
        assert!((board.interval - 1.2).abs() < 1e-9);
        let long = plan(1080, 1920, Some(3600.0)).unwrap();
        assert_eq!((long.tiles, long.rows, long.tile_width, long.tile_height), (100, 10, 144, 256));
        assert_eq!(plan(1920, 1080, None), None);
        assert!(board.filter().contains("tile=10x5"), "{}", board.filter());
    }

    #[test]
    fn cues_cover_the_video_tile_by_tile() {
        let board = plan(1280, 720, Some(6.0)).unwrap();
        let vtt = board.vtt("https://image.example.com/pb/storyboard.jpg");
        assert!(vtt.starts_with(
            "WEBVTT\n\n00:00:00.000 --> 00:00:00.120\nhttps://image.example.com/pb/storyboard.jpg#xywh=0,0,256,144\n"
        ));
        assert!(vtt.contains(
            "\n00:00:01.200 --> 00:00:01.320\nhttps://image.example.com/pb/storyboard.jpg#xywh=0,144,256,144\n"
        ));
        assert!(vtt.trim_end().ends_with(
            "00:00:05.880 --> 00:00:06.000\nhttps://image.example.com/pb/storyboard.jpg#xywh=2304,576,256,144"
        ));
        assert_eq!(vtt.matches(" --> ").count(), 50);
        let json = board.json("u");
        assert_eq!(json["tiles"].as_array().unwrap().len(), 50);
        assert_eq!(json["tiles"][11], json!({ "start": 1.32, "x": 256, "y": 144 }));
        assert_eq!(vtt_time(3723.5), "01:02:03.500");
    }
}
