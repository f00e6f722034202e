//! Locale codes as DatoCMS validates them (spec §2.3).

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// A locale code such as `en`, `it` or `pt-BR`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Locale(String);

impl Locale {
    /// Accepts `^[a-z]{1,3}(-[A-Za-z]+)?(-[A-Z]{1,3})?$` (the documented pattern, minus empty parts).
    pub fn parse(value: &str) -> Result<Locale, String> {
        let mut parts = value.split('-');
        let language = parts.next().unwrap_or_default();
        let ok_language = (1..=3).contains(&language.len()) && language.bytes().all(|b| b.is_ascii_lowercase());
        let rest: Vec<&str> = parts.collect();
        let ok_rest = match rest.as_slice() {
            [] => true,
            [script] => !script.is_empty() && script.len() <= 8 && script.bytes().all(|b| b.is_ascii_alphabetic()),
            [script, region] => {
                !script.is_empty()
                    && script.len() <= 8
                    && script.bytes().all(|b| b.is_ascii_alphabetic())
                    && (1..=3).contains(&region.len())
                    && region.bytes().all(|b| b.is_ascii_uppercase())
            }
            _ => false,
        };
        if ok_language && ok_rest {
            Ok(Locale(value.to_owned()))
        } else {
            Err(format!("{value:?} is not a valid locale code"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Locale {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Locale::parse(value.trim())
    }
}

impl TryFrom<String> for Locale {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Locale::parse(&value)
    }
}

impl From<Locale> for String {
    fn from(locale: Locale) -> String {
        locale.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_documented_forms() {
        for ok in ["en", "it", "pt-BR", "zh-Hans", "zh-Hans-CN"] {
            assert!(Locale::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "EN", "english", "en-", "en_US", "en-US-x-y", "../x"] {
            assert!(Locale::parse(bad).is_err(), "{bad}");
        }
    }
}
