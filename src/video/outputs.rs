//! What one transcode made (stored as JSON on the upload's row), the names of its files in the
//! blob store, and the master playlist players read first.

use m3u8_rs::{AlternativeMedia, AlternativeMediaType, MasterPlaylist, Resolution, VariantStream};
use serde::{Deserialize, Serialize};

use crate::db::TrackRow;

use super::{
    ladder::Mp4Rendition,
    storyboard::{Storyboard, StoryboardImage},
};

/// The outputs of one transcode (one generation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoOutputs {
    /// The HLS rungs, highest first.
    pub rungs: Vec<RungOutput>,
    /// The MP4 renditions made, lowest first.
    pub mp4: Vec<Mp4Output>,
    /// The storyboard's layout, when one was made (`storyboard.{jpg,png,webp}`).
    #[serde(default)]
    pub storyboard: Option<Storyboard>,
}

/// One HLS rung: what its `EXT-X-STREAM-INF` says, and how many segments it has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RungOutput {
    /// `720p`: its folder in the generation.
    pub name: String,
    pub width: u32,
    pub height: u32,
    /// Peak bits per second (BANDWIDTH).
    pub bandwidth: u64,
    /// RFC 6381 codecs (`avc1.64001f,mp4a.40.2`), as ffmpeg reported them.
    pub codecs: Option<String>,
    pub frame_rate: Option<f64>,
    /// Its initialisation segment's name (ffmpeg says `init.mp4` for a single rung, else
    /// `init_<i>.mp4`).
    pub init: String,
    /// Segments `seg_00000.m4s` … of the rung.
    pub segments: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mp4Output {
    pub rendition: Mp4Rendition,
    pub width: u32,
    pub height: u32,
    pub size: u64,
}

/// A file of one generation that a stream URL may name. Only these map to storage keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputFile {
    /// A rung's media playlist (`<rung>/index.m3u8`).
    MediaPlaylist { rung: usize },
    /// A rung's initialisation segment (`<rung>/<init>`).
    Init { rung: usize },
    /// A rung's media segment (`<rung>/seg_<n>.m4s`).
    Segment { rung: usize, index: u32 },
    /// An MP4 rendition (`<name>.mp4`).
    Mp4(Mp4Rendition),
    /// The storyboard image (`storyboard.<ext>`).
    Storyboard(StoryboardImage),
}

impl OutputFile {
    /// Its name inside the generation (what ffmpeg wrote).
    pub fn relative_name(&self, outputs: &VideoOutputs) -> String {
        // Built by `VideoOutputs::file`, so the rung exists.
        let rung = |i: usize| outputs.rungs.get(i).map_or("", |r| r.name.as_str());
        match *self {
            OutputFile::MediaPlaylist { rung: i } => format!("{}/index.m3u8", rung(i)),
            OutputFile::Init { rung: i } => {
                format!("{}/{}", rung(i), outputs.rungs.get(i).map_or("", |r| r.init.as_str()))
            }
            OutputFile::Segment { rung: i, index } => format!("{}/{}", rung(i), segment_name(index)),
            OutputFile::Mp4(rendition) => format!("{}.mp4", rendition.name()),
            OutputFile::Storyboard(image) => image.file_name(),
        }
    }

    pub fn content_type(&self) -> &'static str {
        match self {
            OutputFile::MediaPlaylist { .. } => PLAYLIST_CONTENT_TYPE,
            OutputFile::Segment { .. } => "video/iso.segment",
            OutputFile::Init { .. } | OutputFile::Mp4(_) => "video/mp4",
            OutputFile::Storyboard(image) => image.content_type(),
        }
    }
}

/// The `GROUP-ID` of a stream's subtitle tracks.
const SUBTITLE_GROUP: &str = "subs";

/// What HLS playlists are served as.
pub const PLAYLIST_CONTENT_TYPE: &str = "application/vnd.apple.mpegurl";

/// Whether `name` is one ffmpeg gives an initialisation segment (`-hls_fmp4_init_filename
/// init.mp4`: `init.mp4`, or `init_<i>.mp4` with several variant streams).
pub fn is_init_name(name: &str) -> bool {
    name == "init.mp4"
        || name
            .strip_prefix("init_")
            .and_then(|n| n.strip_suffix(".mp4"))
            .is_some_and(|n| !n.is_empty() && n.len() <= 3 && n.bytes().all(|b| b.is_ascii_digit()))
}

/// ffmpeg's name for a media segment (`-hls_segment_filename %v/seg_%05d.m4s`).
pub fn segment_name(index: u32) -> String {
    format!("seg_{index:05}.m4s")
}

impl VideoOutputs {
    /// The best MP4 rendition made (`mux_mp4_highest_res`).
    pub fn highest_mp4(&self) -> Option<Mp4Rendition> {
        self.mp4.iter().map(|m| m.rendition).max()
    }

    /// The file a request inside a generation names: `<rung>/<file>` (`rung` set) or `<file>`;
    /// `None` for anything this generation does not hold.
    pub fn file(&self, rung: Option<&str>, file: &str) -> Option<OutputFile> {
        let Some(rung) = rung else {
            if let Some(extension) = file.strip_prefix("storyboard.") {
                let image = StoryboardImage::from_extension(extension)?;
                return self.storyboard.is_some().then_some(OutputFile::Storyboard(image));
            }
            let rendition = Mp4Rendition::from_name(file.strip_suffix(".mp4")?)?;
            return self.mp4.iter().any(|m| m.rendition == rendition).then_some(OutputFile::Mp4(rendition));
        };
        let i = self.rungs.iter().position(|r| r.name == rung)?;
        if file == "index.m3u8" {
            return Some(OutputFile::MediaPlaylist { rung: i });
        }
        if file == self.rungs[i].init {
            return Some(OutputFile::Init { rung: i });
        }
        let digits = file.strip_prefix("seg_")?.strip_suffix(".m4s")?;
        let index: u32 =
            digits.parse().ok().filter(|_| digits.len() == 5 && digits.bytes().all(|b| b.is_ascii_digit()))?;
        (index < self.rungs[i].segments).then_some(OutputFile::Segment { rung: i, index })
    }

    /// The master playlist of the stream, as served at `…/<playback_id>.m3u8`: every rung,
    /// highest first, at `<playback_id>/<generation>/<rung>/index.m3u8`, relative to the master's
    /// own folder so that it resolves under `/video/` and on the stream host alike.
    /// Ready subtitle `tracks` are listed as one `SUBTITLES` group (at
    /// `<playback_id>/tracks/<track id>.m3u8`) that every rung names.
    pub fn master_playlist(
        &self,
        playback_id: &str,
        generation: &str,
        tracks: &[TrackRow],
    ) -> std::io::Result<Vec<u8>> {
        let tracks: Vec<&TrackRow> = tracks.iter().filter(|t| t.status == "ready" && t.kind == "subtitles").collect();
        let group = (!tracks.is_empty()).then(|| SUBTITLE_GROUP.to_owned());
        let alternatives = tracks
            .iter()
            .map(|track| AlternativeMedia {
                media_type: AlternativeMediaType::Subtitles,
                uri: Some(format!("{playback_id}/tracks/{}.m3u8", track.id)),
                group_id: SUBTITLE_GROUP.into(),
                language: Some(track.language_code.clone()),
                name: track.name.clone(),
                default: false,
                autoselect: true,
                forced: false,
                characteristics: (track.closed_captions == Some(true))
                    .then(|| super::tracks::CLOSED_CAPTIONS_CHARACTERISTICS.to_owned()),
                ..AlternativeMedia::default()
            })
            .collect();
        let variants = self
            .rungs
            .iter()
            .map(|rung| VariantStream {
                uri: format!("{playback_id}/{generation}/{}/index.m3u8", rung.name),
                bandwidth: rung.bandwidth,
                codecs: rung.codecs.clone(),
                resolution: Some(Resolution { width: rung.width.into(), height: rung.height.into() }),
                frame_rate: rung.frame_rate,
                subtitles: group.clone(),
                ..VariantStream::default()
            })
            .collect();
        let playlist = MasterPlaylist {
            version: Some(7),
            independent_segments: true,
            variants,
            alternatives,
            ..MasterPlaylist::default()
        };
        let mut out = Vec::new();
        playlist.write_to(&mut out)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outputs() -> VideoOutputs {
        let rung = |name: &str, width, height, bandwidth| RungOutput {
            name: name.into(),
            width,
            height,
            bandwidth,
            codecs: Some("avc1.64001f,mp4a.40.2".into()),
            frame_rate: Some(30.0),
            init: format!("init_{}.mp4", if width == 854 { 0 } else { 1 }),
            segments: 3,
        };
        VideoOutputs {
            rungs: vec![rung("480p", 854, 480, 1_680_800), rung("360p", 640, 360, 1_020_800)],
            mp4: vec![
                Mp4Output { rendition: Mp4Rendition::Low, width: 640, height: 360, size: 10 },
                Mp4Output { rendition: Mp4Rendition::Medium, width: 854, height: 480, size: 20 },
            ],
            storyboard: super::super::storyboard::plan(854, 480, Some(12.0)),
        }
    }

    #[test]
    fn only_files_of_the_generation_are_named() {
        let outputs = outputs();
        assert_eq!(outputs.file(Some("480p"), "index.m3u8"), Some(OutputFile::MediaPlaylist { rung: 0 }));
        assert_eq!(outputs.file(Some("360p"), "init_1.mp4"), Some(OutputFile::Init { rung: 1 }));
        assert_eq!(outputs.file(Some("360p"), "seg_00002.m4s"), Some(OutputFile::Segment { rung: 1, index: 2 }));
        assert_eq!(outputs.file(None, "medium.mp4"), Some(OutputFile::Mp4(Mp4Rendition::Medium)));
        assert_eq!(outputs.file(None, "storyboard.webp"), Some(OutputFile::Storyboard(StoryboardImage::Webp)));
        assert_eq!(outputs.file(None, "storyboard.gif"), None);
        let without = VideoOutputs { storyboard: None, ..outputs.clone() };
        assert_eq!(without.file(None, "storyboard.jpg"), None);
        for (rung, file) in [
            (Some("360p"), "seg_00003.m4s"),
            (Some("360p"), "seg_0002.m4s"),
            (Some("360p"), "seg_+0002.m4s"),
            (Some("360p"), "init_0.mp4"),
            (Some("720p"), "index.m3u8"),
            (Some("../x"), "index.m3u8"),
            (None, "high.mp4"),
            (None, "index.m3u8"),
        ] {
            assert_eq!(outputs.file(rung, file), None, "{rung:?} {file}");
        }
        let segment = outputs.file(Some("360p"), "seg_00002.m4s").unwrap();
        assert_eq!(segment.relative_name(&outputs), "360p/seg_00002.m4s");
        assert_eq!(OutputFile::Init { rung: 0 }.relative_name(&outputs), "480p/init_0.mp4");
        assert_eq!(outputs.highest_mp4(), Some(Mp4Rendition::Medium));
        assert!(is_init_name("init.mp4") && is_init_name("init_12.mp4"));
        for bad in ["init_.mp4", "init_x.mp4", "../init.mp4", "init_1.mp4/x", "seg_00000.m4s"] {
            assert!(!is_init_name(bad), "{bad}");
        }
    }

    #[test]
    fn the_master_playlist_resolves_inside_the_video_path() {
        let master = String::from_utf8(outputs().master_playlist("pb1", "g1", &[]).unwrap()).unwrap();
        let parsed = m3u8_rs::parse_master_playlist_res(master.as_bytes()).unwrap();
        assert_eq!(parsed.variants.len(), 2);
        assert_eq!(parsed.variants[0].uri, "pb1/g1/480p/index.m3u8");
        assert_eq!(parsed.variants[0].bandwidth, 1_680_800);
        assert_eq!(parsed.variants[0].codecs.as_deref(), Some("avc1.64001f,mp4a.40.2"));
        assert_eq!(parsed.variants[1].resolution, Some(Resolution { width: 640, height: 360 }));
        assert!(master.starts_with("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n"), "{master}");
        assert!(parsed.alternatives.is_empty() && parsed.variants[0].subtitles.is_none());
    }

    #[test]
    fn ready_subtitle_tracks_are_a_group_every_rung_names() {
        let track = |id: &str, status: &str, closed_captions| TrackRow {
            id: id.into(),
            upload_id: "u".into(),
            kind: "subtitles".into(),
            name: format!("Track {id}"),
            language_code: "it".into(),
            closed_captions,
            status: status.into(),
            error: None,
            blob_key: None,
            created_at: 0,
        };
        let tracks = [track("t1", "ready", Some(true)), track("t2", "preparing", None), track("t3", "ready", None)];
        let master = outputs().master_playlist("pb1", "g1", &tracks).unwrap();
        let parsed = m3u8_rs::parse_master_playlist_res(&master).unwrap();
        assert_eq!(parsed.alternatives.len(), 2, "only ready tracks");
        let first = &parsed.alternatives[0];
        assert_eq!(first.media_type, AlternativeMediaType::Subtitles);
        assert_eq!(first.uri.as_deref(), Some("pb1/tracks/t1.m3u8"));
        assert_eq!(
            (first.group_id.as_str(), first.language.as_deref(), first.name.as_str()),
            ("subs", Some("it"), "Track t1")
        );
        assert!(first.characteristics.as_deref().is_some_and(|c| c.contains("transcribes-spoken-dialog")));
        assert_eq!(parsed.alternatives[1].characteristics, None);
        assert!(parsed.variants.iter().all(|v| v.subtitles.as_deref() == Some("subs")));
    }
}
