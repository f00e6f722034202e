//! imgix's animation parameters (`frame`, `reverse`, `loop`) and the choice of frames they make.
//! An animated GIF or WebP keeps every frame, in order and with its delay, through the whole
//! pipeline when the output is GIF or WebP (the default for those sources); `frame` picks one
//! frame (a still, in any format) or a stretch of them, `reverse` plays them backwards, `loop`
//! sets how often the animation plays (0: for ever). Other output formats take the first frame.

use super::params::{number, ParamError};

/// The animation parameters a URL asks for; the default keeps the source's animation as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AnimationParams {
    /// `frame`: the frames kept, 1-based and inclusive (`frame=3` is `3..=3`, `frame=2-5`,
    /// `frame=4-` to the end, `frame=-3` from the start); `None` keeps them all.
    pub frames: Option<(u32, Option<u32>)>,
    /// `reverse`: the kept frames in the opposite order.
    pub reverse: bool,
    /// `loop`: times the animation repeats after it first plays (0: for ever), as GIF's
    /// NETSCAPE2.0 count; `None` keeps the source's.
    pub loop_count: Option<u32>,
}

/// The parameters this module reads (all in [`super::RENDERED_PARAMS`]).
#[cfg(test)]
pub(super) const ANIMATION_PARAMS: [&str; 3] = ["frame", "reverse", "loop"];

/// GIF stores its repeat count in 16 bits.
const MAX_LOOP: u32 = 65_535;

impl AnimationParams {
    /// Applies `key` (a canonical imgix name); false when it is not an animation parameter.
    pub(super) fn set(&mut self, key: &'static str, value: &str) -> Result<bool, ParamError> {
        match key {
            "frame" => self.frames = Some(frames(value)?),
            "reverse" => self.reverse = super::params::boolean(key, value)?,
            "loop" => {
                let n = number(key, value)?;
                if n < 0.0 {
                    return Err(ParamError::new(key, "must be 0 (for ever) or more"));
                }
                self.loop_count = Some(n.round().min(f64::from(MAX_LOOP)) as u32);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// `loop` as libvips counts (its `loop` field: how many times the animation plays, 0 for
    /// ever), `None` when the URL does not set it.
    pub fn plays(&self) -> Option<i32> {
        self.loop_count.map(|repeats| if repeats == 0 { 0 } else { i32::try_from(repeats + 1).unwrap_or(i32::MAX) })
    }

    /// Whether one frame is asked for: the result is a still.
    pub fn single_frame(&self) -> Option<u32> {
        match self.frames {
            Some((first, Some(last))) if first == last => Some(first),
            _ => None,
        }
    }

    /// The source's pages (0-based) the result is made of, in the order they play, out of
    /// `pages`: the `frame` stretch clamped to the pages there are (a stretch past the end keeps
    /// the last page), reversed by `reverse`.
    pub fn pages(&self, pages: u32) -> Vec<u32> {
        let pages = pages.max(1);
        let (first, last) = match self.frames {
            None => (1, pages),
            Some((first, last)) => {
                let last = last.unwrap_or(pages).min(pages);
                (first.min(last).max(1), last.max(1))
            }
        };
        let mut kept: Vec<u32> = (first - 1..last).collect();
        if self.reverse {
            kept.reverse();
        }
        kept
    }

    /// The cache-key pairs of the parameters that change something.
    pub fn canonical_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        match self.frames {
            None => {}
            Some((first, Some(last))) if first == last => pairs.push(("frame", first.to_string())),
            Some((first, last)) => {
                pairs.push(("frame", format!("{first}-{}", last.map(|l| l.to_string()).unwrap_or_default())))
            }
        }
        if self.reverse {
            pairs.push(("reverse", "1".into()));
        }
        if let Some(n) = self.loop_count {
            pairs.push(("loop", n.to_string()));
        }
        pairs
    }
}

/// `frame`: `N`, `A-B`, `A-` or `-B`, frames counted from 1.
fn frames(value: &str) -> Result<(u32, Option<u32>), ParamError> {
    let index = |text: &str| -> Result<u32, ParamError> {
        text.trim().parse::<u32>().ok().filter(|n| *n >= 1).ok_or_else(|| {
            ParamError::new("frame", format!("`{value}` is not a frame number (from 1) or a stretch A-B"))
        })
    };
    match value.split_once('-') {
        None => {
            let n = index(value)?;
            Ok((n, Some(n)))
        }
        Some((first, last)) => {
            let first = if first.trim().is_empty() { 1 } else { index(first)? };
            let last = if last.trim().is_empty() { None } else { Some(index(last)?) };
            if last.is_some_and(|l| l < first) {
                return Err(ParamError::new("frame", format!("`{value}` ends before it starts")));
            }
            Ok((first, last))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(pairs: &[(&'static str, &str)]) -> AnimationParams {
        let mut params = AnimationParams::default();
        for (key, value) in pairs {
            assert!(params.set(key, value).unwrap());
        }
        params
    }

    #[test]
    fn frame_picks_one_page_or_a_stretch_clamped_to_the_pages_there_are() {
        assert_eq!(AnimationParams::default().pages(4), vec![0, 1, 2, 3]);
        assert_eq!(parsed(&[("frame", "2")]).pages(4), vec![1]);
        assert_eq!(parsed(&[("frame", "2")]).single_frame(), Some(2));
        assert_eq!(parsed(&[("frame", "9")]).pages(4), vec![3]);
        assert_eq!(parsed(&[("frame", "2-3")]).pages(4), vec![1, 2]);
        assert_eq!(parsed(&[("frame", "3-")]).pages(4), vec![2, 3]);
        assert_eq!(parsed(&[("frame", "-2")]).pages(4), vec![0, 1]);
        assert_eq!(parsed(&[("frame", "6-9")]).pages(4), vec![3]);
        assert_eq!(parsed(&[("frame", "2-")]).single_frame(), None);
        assert_eq!(parsed(&[("reverse", "true")]).pages(3), vec![2, 1, 0]);
        assert_eq!(parsed(&[("frame", "1-2"), ("reverse", "1")]).pages(3), vec![1, 0]);
    }

    #[test]
    fn bad_values_are_refused() {
        let mut params = AnimationParams::default();
        for value in ["0", "x", "3-2", "1.5", "--"] {
            assert!(params.set("frame", value).is_err(), "{value}");
        }
        assert!(params.set("loop", "-1").is_err());
        assert!(params.set("reverse", "maybe").is_err());
        assert!(!params.set("fps", "10").unwrap());
    }

    #[test]
    fn the_key_names_what_changes_and_drops_defaults() {
        assert!(AnimationParams::default().canonical_pairs().is_empty());
        let pairs = parsed(&[("frame", "2-"), ("reverse", "1"), ("loop", "3")]).canonical_pairs();
        assert_eq!(pairs, vec![("frame", "2-".to_string()), ("reverse", "1".into()), ("loop", "3".into())]);
        assert_eq!(parsed(&[("frame", "4-4")]).canonical_pairs(), vec![("frame", "4".to_string())]);
    }

    #[test]
    fn loop_counts_repeats_and_libvips_plays() {
        assert_eq!(parsed(&[("loop", "0")]).plays(), Some(0));
        assert_eq!(parsed(&[("loop", "2")]).plays(), Some(3));
        assert_eq!(AnimationParams::default().plays(), None);
    }
}
