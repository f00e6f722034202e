//! `default_field_metadata` (spec §2.3): per-locale alt/title/custom_data plus one focal point and
//! one poster time per asset. Writes are patches and may come in either wire shape.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{CmaError, Locale};

const FIELD: &str = "default_field_metadata";
const FIELD_KEYS: [&str; 5] = ["alt", "title", "custom_data", "focal_point", "poster_time"];

/// Where the editor wants crops centred: fractions of width and height from the top-left, in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FocalPoint {
    pub x: f64,
    pub y: f64,
}

impl FocalPoint {
    pub fn new(x: f64, y: f64) -> Result<FocalPoint, String> {
        let in_range = |v: f64| v.is_finite() && (0.0..=1.0).contains(&v);
        if in_range(x) && in_range(y) {
            Ok(FocalPoint { x, y })
        } else {
            Err(format!("focal_point x and y must be numbers between 0 and 1, got x={x}, y={y}"))
        }
    }

    fn from_json(value: &Value) -> Result<Option<FocalPoint>, CmaError> {
        let field = format!("{FIELD}.focal_point");
        match value {
            Value::Null => Ok(None),
            Value::Object(map) => {
                if let Some(extra) = map.keys().find(|k| *k != "x" && *k != "y") {
                    return Err(CmaError::invalid_field(&field, "INVALID_FORMAT", format!("unknown key {extra:?}")));
                }
                let coordinate = |name: &str| {
                    map.get(name).and_then(Value::as_f64).ok_or_else(|| {
                        CmaError::invalid_field(
                            &field,
                            "INVALID_FORMAT",
                            format!("focal_point.{name} must be a number"),
                        )
                    })
                };
                let point = FocalPoint::new(coordinate("x")?, coordinate("y")?)
                    .map_err(|m| CmaError::invalid_field(&field, "VALIDATION_RANGE", m))?;
                Ok(Some(point))
            }
            _ => Err(CmaError::invalid_field(&field, "INVALID_FORMAT", "focal_point must be an object {x, y} or null")),
        }
    }
}

/// Seconds into a video used for its poster frame; finite and ≥ 0.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PosterTime(f64);

impl PosterTime {
    pub fn new(seconds: f64) -> Result<PosterTime, String> {
        if seconds.is_finite() && seconds >= 0.0 {
            Ok(PosterTime(seconds))
        } else {
            Err(format!("poster_time must be a number of seconds ≥ 0, got {seconds}"))
        }
    }

    pub fn seconds(self) -> f64 {
        self.0
    }

    fn from_json(value: &Value) -> Result<Option<PosterTime>, CmaError> {
        let field = format!("{FIELD}.poster_time");
        match value {
            Value::Null => Ok(None),
            Value::Number(n) => {
                let seconds = n.as_f64().unwrap_or(f64::NAN);
                PosterTime::new(seconds).map(Some).map_err(|m| CmaError::invalid_field(&field, "VALIDATION_RANGE", m))
            }
            _ => Err(CmaError::invalid_field(&field, "INVALID_FORMAT", "poster_time must be a number or null")),
        }
    }
}

/// A change to one value: keep what is stored, or set a new value (which may be `None` to clear).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub enum Change<T> {
    #[default]
    Keep,
    Set(T),
}

impl<T> Change<T> {
    pub fn is_keep(&self) -> bool {
        matches!(self, Change::Keep)
    }

    pub fn as_set(&self) -> Option<&T> {
        match self {
            Change::Keep => None,
            Change::Set(value) => Some(value),
        }
    }
}

/// A write to `default_field_metadata`: only the locales and keys named change.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MetadataPatch {
    pub alt: BTreeMap<Locale, Option<String>>,
    pub title: BTreeMap<Locale, Option<String>>,
    pub custom_data: BTreeMap<Locale, Map<String, Value>>,
    pub focal_point: Change<Option<FocalPoint>>,
    pub poster_time: Change<Option<PosterTime>>,
}

impl MetadataPatch {
    pub fn is_empty(&self) -> bool {
        self.alt.is_empty()
            && self.title.is_empty()
            && self.custom_data.is_empty()
            && self.focal_point.is_keep()
            && self.poster_time.is_keep()
    }

    /// Whether the patch sets something that only fits some kinds of file.
    pub fn needs_file_kind(&self) -> bool {
        matches!(self.focal_point, Change::Set(Some(_))) || matches!(self.poster_time, Change::Set(Some(_)))
    }

    /// A focal point only fits images, a poster time only videos.
    pub fn check_fits(&self, is_image: bool, is_video: bool) -> Result<(), CmaError> {
        if matches!(self.focal_point, Change::Set(Some(_))) && !is_image {
            return Err(CmaError::invalid_field(
                &format!("{FIELD}.focal_point"),
                "VALIDATION_NOT_AN_IMAGE",
                "a focal point can only be set on images",
            ));
        }
        if matches!(self.poster_time, Change::Set(Some(_))) && !is_video {
            return Err(CmaError::invalid_field(
                &format!("{FIELD}.poster_time"),
                "VALIDATION_NOT_A_VIDEO",
                "a poster time can only be set on videos",
            ));
        }
        Ok(())
    }

    /// Parses either wire shape. `locales` are the environment's; any other locale is refused.
    pub fn from_json(value: &Value, locales: &[Locale]) -> Result<MetadataPatch, CmaError> {
        let Value::Object(map) = value else {
            return Err(CmaError::invalid_field(FIELD, "INVALID_FORMAT", "default_field_metadata must be an object"));
        };
        if map.keys().all(|k| FIELD_KEYS.contains(&k.as_str())) {
            return Self::from_field_keyed(map, locales);
        }
        let is_field_key = |k: &String| FIELD_KEYS.contains(&k.as_str());
        if !map.keys().any(is_field_key) && map.keys().all(|k| Locale::parse(k).is_ok()) {
            return Self::from_locale_keyed(map, locales);
        }
        Err(CmaError::invalid_format(
            "default_field_metadata must be keyed either by alt/title/custom_data/focal_point/poster_time \
             or by locale codes, not a mix",
        ))
    }

    fn from_field_keyed(map: &Map<String, Value>, locales: &[Locale]) -> Result<MetadataPatch, CmaError> {
        let mut patch = MetadataPatch::default();
        for (key, value) in map {
            match key.as_str() {
                "alt" | "title" | "custom_data" => {
                    let Value::Object(per_locale) = value else {
                        return Err(CmaError::invalid_field(
                            &format!("{FIELD}.{key}"),
                            "INVALID_FORMAT",
                            format!("{key} must be an object keyed by locale"),
                        ));
                    };
                    for (locale, value) in per_locale {
                        let locale = known_locale(locale, locales, key)?;
                        patch.set(key, locale, value)?;
                    }
                }
                "focal_point" => patch.focal_point = Change::Set(FocalPoint::from_json(value)?),
                "poster_time" => patch.poster_time = Change::Set(PosterTime::from_json(value)?),
                _ => unreachable!("keys were checked against FIELD_KEYS"),
            }
        }
        Ok(patch)
    }

    fn from_locale_keyed(map: &Map<String, Value>, locales: &[Locale]) -> Result<MetadataPatch, CmaError> {
        let mut patch = MetadataPatch::default();
        for (locale, entry) in map {
            let Value::Object(entry) = entry else {
                return Err(CmaError::invalid_format(format!(
                    "default_field_metadata.{locale} must be an object of alt/title/custom_data/focal_point/poster_time"
                )));
            };
            let locale = known_locale(locale, locales, "")?;
            for (key, value) in entry {
                match key.as_str() {
                    "alt" | "title" | "custom_data" => patch.set(key, locale.clone(), value)?,
                    "focal_point" => merge_single(&mut patch.focal_point, FocalPoint::from_json(value)?, key)?,
                    "poster_time" => merge_single(&mut patch.poster_time, PosterTime::from_json(value)?, key)?,
                    other => {
                        return Err(CmaError::invalid_format(format!(
                            "default_field_metadata.{locale}.{other} is not a metadata key"
                        )))
                    }
                }
            }
        }
        Ok(patch)
    }

    fn set(&mut self, key: &str, locale: Locale, value: &Value) -> Result<(), CmaError> {
        let field = format!("{FIELD}.{key}");
        match (key, value) {
            ("alt" | "title", Value::Null) => self.text_map(key).insert(locale, None),
            ("alt" | "title", Value::String(text)) => self.text_map(key).insert(locale, Some(text.clone())),
            ("alt" | "title", _) => {
                return Err(CmaError::invalid_field(
                    &field,
                    "INVALID_FORMAT",
                    format!("{key} must be a string or null"),
                ))
            }
            (_, Value::Null) => {
                self.custom_data.insert(locale, Map::new());
                None
            }
            (_, Value::Object(object)) => {
                self.custom_data.insert(locale, object.clone());
                None
            }
            _ => return Err(CmaError::invalid_field(&field, "INVALID_FORMAT", "custom_data must be an object")),
        };
        Ok(())
    }

    fn text_map(&mut self, key: &str) -> &mut BTreeMap<Locale, Option<String>> {
        if key == "alt" {
            &mut self.alt
        } else {
            &mut self.title
        }
    }
}

fn known_locale(raw: &str, locales: &[Locale], key: &str) -> Result<Locale, CmaError> {
    match locales.iter().find(|l| l.as_str() == raw) {
        Some(locale) => Ok(locale.clone()),
        None => {
            let field = if key.is_empty() { format!("{FIELD}.{raw}") } else { format!("{FIELD}.{key}.{raw}") };
            let known: Vec<&str> = locales.iter().map(Locale::as_str).collect();
            Err(CmaError::invalid_field(
                &field,
                "INVALID_LOCALE",
                format!("{raw:?} is not a locale of this environment ({})", known.join(", ")),
            ))
        }
    }
}

/// In the locale-keyed shape every locale repeats the single focal point / poster time: they must agree.
fn merge_single<T: PartialEq>(slot: &mut Change<T>, value: T, key: &str) -> Result<(), CmaError> {
    match slot {
        Change::Set(existing) if *existing != value => Err(CmaError::invalid_field(
            &format!("{FIELD}.{key}"),
            "VALIDATION_CONFLICT",
            format!("{key} is one value per asset: every locale must give the same one"),
        )),
        _ => {
            *slot = Change::Set(value);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn locales() -> Vec<Locale> {
        vec![Locale::parse("en").unwrap(), Locale::parse("it").unwrap()]
    }

    fn en() -> Locale {
        Locale::parse("en").unwrap()
    }

    #[test]
    fn field_keyed_patch() {
        let patch = MetadataPatch::from_json(
            &json!({"alt": {"en": "A cat"}, "custom_data": {"it": {"k": "v"}}, "focal_point": {"x": 0.1, "y": 1}}),
            &locales(),
        )
        .unwrap();
        assert_eq!(patch.alt.get(&en()), Some(&Some("A cat".to_owned())));
        assert!(patch.title.is_empty());
        assert_eq!(patch.custom_data.len(), 1);
        assert_eq!(patch.focal_point, Change::Set(Some(FocalPoint { x: 0.1, y: 1.0 })));
        assert!(patch.poster_time.is_keep());
    }

    #[test]
    fn locale_keyed_patch_from_the_documented_example() {
        let patch = MetadataPatch::from_json(
            &json!({"en": {"title": "this is the default title", "alt": "alt text",
                           "custom_data": {"foo": "bar"}, "focal_point": {"x": 0.5, "y": 0.5}}}),
            &locales(),
        )
        .unwrap();
        assert_eq!(patch.title.get(&en()), Some(&Some("this is the default title".to_owned())));
        assert_eq!(patch.focal_point, Change::Set(Some(FocalPoint { x: 0.5, y: 0.5 })));
    }

    #[test]
    fn explicit_null_clears() {
        let patch = MetadataPatch::from_json(&json!({"alt": {"en": null}, "focal_point": null}), &locales()).unwrap();
        assert_eq!(patch.alt.get(&en()), Some(&None));
        assert_eq!(patch.focal_point, Change::Set(None));
    }

    #[test]
    fn rejections() {
        let cases = [
            (json!({"focal_point": {"x": 1.5, "y": 0.5}}), "INVALID_FIELD"),
            (json!({"focal_point": {"x": "0.5", "y": 0.5}}), "INVALID_FIELD"),
            (json!({"focal_point": {"x": 0.5}}), "INVALID_FIELD"),
            (json!({"poster_time": -1}), "INVALID_FIELD"),
            (json!({"poster_time": "3"}), "INVALID_FIELD"),
            (json!({"alt": {"fr": "x"}}), "INVALID_FIELD"),
            (json!({"alt": "x"}), "INVALID_FIELD"),
            (json!({"alt": {"en": 3}}), "INVALID_FIELD"),
            (json!({"custom_data": {"en": "x"}}), "INVALID_FIELD"),
            (json!({"alt": {"en": "x"}, "en": {"alt": "y"}}), "INVALID_FORMAT"),
            (json!({"en": {"colour": "x"}}), "INVALID_FORMAT"),
            (json!({"en": "x"}), "INVALID_FORMAT"),
            (
                json!({"en": {"focal_point": {"x": 0.1, "y": 0.1}}, "it": {"focal_point": {"x": 0.2, "y": 0.1}}}),
                "INVALID_FIELD",
            ),
            (json!(["alt"]), "INVALID_FIELD"),
        ];
        for (input, code) in cases {
            let error = MetadataPatch::from_json(&input, &locales()).expect_err(&input.to_string());
            assert_eq!(error.code, code, "{input}");
            assert_eq!(error.status, 422, "{input}");
        }
    }

    #[test]
    fn agreeing_locales_may_repeat_the_focal_point() {
        let patch = MetadataPatch::from_json(
            &json!({"en": {"focal_point": {"x": 0.1, "y": 0.1}}, "it": {"focal_point": {"x": 0.1, "y": 0.1}}}),
            &locales(),
        )
        .unwrap();
        assert_eq!(patch.focal_point, Change::Set(Some(FocalPoint { x: 0.1, y: 0.1 })));
    }

    #[test]
    fn patch_round_trips_through_json() {
        let patch = MetadataPatch::from_json(&json!({"alt": {"en": null}, "poster_time": 2.5}), &locales()).unwrap();
        let back: MetadataPatch = serde_json::from_value(serde_json::to_value(&patch).unwrap()).unwrap();
        assert_eq!(back, patch);
    }
}
