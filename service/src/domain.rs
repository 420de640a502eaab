//! Domain values with rules. Each is built only through `parse`, which says what is wrong.

use std::fmt;

use serde::Serialize;

/// Why a value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DomainError(String);

impl DomainError {
    fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// The longest slug accepted.
pub const MAX_SLUG_LEN: usize = 200;
/// The longest title accepted, in characters.
pub const MAX_TITLE_LEN: usize = 300;

/// A talk's unique, URL-safe name: ASCII letters, digits and `-`, at most 200 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Slug(String);

impl Slug {
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        if value.is_empty() {
            return Err(DomainError::new("must not be empty"));
        }
        if value.len() > MAX_SLUG_LEN {
            return Err(DomainError::new(format!(
                "is {} characters long; at most {MAX_SLUG_LEN} are allowed",
                value.len()
            )));
        }
        if let Some(bad) = value
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(DomainError::new(format!(
                "contains {bad:?}; only ASCII letters, digits and '-' are allowed"
            )));
        }
        if value.starts_with('-') || value.ends_with('-') {
            return Err(DomainError::new("must not start or end with '-'"));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A talk's title: not blank, at most 300 characters, kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Title(String);

impl Title {
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        if value.trim().is_empty() {
            return Err(DomainError::new("must not be empty"));
        }
        let len = value.chars().count();
        if len > MAX_TITLE_LEN {
            return Err(DomainError::new(format!(
                "is {len} characters long; at most {MAX_TITLE_LEN} are allowed"
            )));
        }
        if value.chars().any(|c| c.is_control()) {
            return Err(DomainError::new("must not contain control characters"));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A talk's date as written: an ISO 8601 date (`2019-10-24`) or date and time
/// (`2019-10-24T08:00:00`, optionally with fractions of a second and an offset or `Z`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct TalkDate(String);

impl TalkDate {
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        use chrono::{DateTime, NaiveDate, NaiveDateTime};
        let ok = NaiveDate::parse_from_str(value, "%Y-%m-%d").is_ok()
            || NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S%.f").is_ok()
            || NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M").is_ok()
            || DateTime::parse_from_rfc3339(value).is_ok();
        if ok && value.len() >= 10 {
            Ok(Self(value.to_owned()))
        } else {
            Err(DomainError::new(format!(
                "{value:?} is not an ISO 8601 date (YYYY-MM-DD) or date and time (YYYY-MM-DDTHH:MM:SS)"
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A link target as written. Empty is allowed (a placeholder, such as a recording to come);
/// otherwise, once surrounding spaces are ignored, it must be an absolute `http`, `https` or
/// `mailto` URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct LinkUrl(String);

impl LinkUrl {
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        let trimmed = value.trim();
        if !trimmed.is_empty() {
            let url = url::Url::parse(trimmed)
                .map_err(|e| DomainError::new(format!("{trimmed:?} is not a URL: {e}")))?;
            if !matches!(url.scheme(), "http" | "https" | "mailto") {
                return Err(DomainError::new(format!(
                    "scheme {:?} is not allowed; use http, https or mailto",
                    url.scheme()
                )));
            }
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_of_the_corpus_form_are_accepted() {
        assert!(Slug::parse("the-changing-face-of-etl-A4pLsH").is_ok());
        assert!(Slug::parse("bio").is_ok());
    }

    #[test]
    fn slugs_with_spaces_slashes_or_nothing_are_refused() {
        for bad in [
            "",
            "a b",
            "../etc",
            "-lead",
            "trail-",
            "naïve",
            "snake_case",
        ] {
            assert!(Slug::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(Slug::parse(&"a".repeat(201)).is_err());
    }

    #[test]
    fn dates_are_iso_8601_and_kept_as_written() {
        for good in [
            "2019-10-24",
            "2019-10-24T08:00:00",
            "2019-10-24T08:00",
            "2019-10-24T08:00:00.5",
            "2019-10-24T08:00:00Z",
            "2019-10-24T08:00:00+02:00",
        ] {
            assert_eq!(TalkDate::parse(good).map(|d| d.0), Ok(good.to_owned()));
        }
        for bad in [
            "",
            "24/10/2019",
            "2019-13-01",
            "2019-02-30",
            "yesterday",
            "2019",
        ] {
            assert!(TalkDate::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn titles_must_have_text() {
        assert!(Title::parse("  ").is_err());
        assert!(Title::parse("a\u{0}b").is_err());
        assert!(Title::parse(&"x".repeat(301)).is_err());
        assert!(Title::parse(&"é".repeat(300)).is_ok());
        assert_eq!(
            Title::parse(" Øredev ").map(|t| t.0),
            Ok(" Øredev ".to_owned())
        );
    }

    #[test]
    fn links_are_absolute_web_urls_or_empty() {
        assert!(LinkUrl::parse("").is_ok());
        assert!(LinkUrl::parse(" https://confluent.cloud").is_ok());
        assert!(LinkUrl::parse("mailto:a@example.com").is_ok());
        assert!(LinkUrl::parse("javascript:alert(1)").is_err());
        assert!(LinkUrl::parse("/relative/path").is_err());
    }
}

/// The longest an embed's kind (`tweet`, `video`, …) may be, in characters.
pub const MAX_EMBED_KIND_LEN: usize = 64;

/// The rule for an embed's kind, in documents (`type`) and in the API (`kind`): 1 to
/// [`MAX_EMBED_KIND_LEN`] characters, not only spaces.
pub fn check_embed_kind(kind: &str) -> Result<(), DomainError> {
    if kind.trim().is_empty() || kind.chars().count() > MAX_EMBED_KIND_LEN {
        return Err(DomainError::new(format!(
            "must be 1 to {MAX_EMBED_KIND_LEN} characters"
        )));
    }
    Ok(())
}

/// What a text holding a NUL character is told. No column can keep one (PostgreSQL refuses
/// them), so no talk holds one, and no lookup or filter may send one to the database.
pub const NUL_MESSAGE: &str = "must not contain NUL characters";

/// The names (behind `prefix`) of the texts that hold a NUL character, in the order given.
pub fn nul_fields<'a>(
    prefix: &str,
    fields: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
) -> Vec<String> {
    fields
        .into_iter()
        .filter(|(_, text)| text.is_some_and(|t| t.contains('\0')))
        .map(|(name, _)| format!("{prefix}{name}"))
        .collect()
}

/// The paths (`title`, `resources[0].url`, `extra.key`; below `path`) of the strings and member
/// names in a JSON value that hold a NUL character. A member name's NUL is written `\u0000`.
pub fn nul_paths(value: &serde_json::Value, path: &str) -> Vec<String> {
    let join = |name: &str| {
        if path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    match value {
        serde_json::Value::String(text) if text.contains('\0') => vec![path.to_owned()],
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .flat_map(|(i, item)| nul_paths(item, &format!("{path}[{i}]")))
            .collect(),
        serde_json::Value::Object(members) => members
            .iter()
            .flat_map(|(name, member)| {
                if name.contains('\0') {
                    vec![join(&name.replace('\0', "\\u0000"))]
                } else {
                    nul_paths(member, &join(name))
                }
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod rule_tests {
    use super::*;

    #[test]
    fn an_embed_kind_is_1_to_64_characters_not_only_spaces() {
        assert!(check_embed_kind("tweet").is_ok());
        assert!(check_embed_kind(&"é".repeat(64)).is_ok());
        assert!(check_embed_kind(&"é".repeat(65)).is_err());
        assert!(check_embed_kind("").is_err());
        assert!(check_embed_kind("  ").is_err());
    }

    #[test]
    fn nul_paths_name_strings_and_member_names_with_nul() {
        let value = serde_json::json!({
            "title": "a\u{0}b",
            "ok": "fine",
            "resources": [{"url": "x"}, {"url": "\u{0}"}],
            "extra": {"k\u{0}": 1},
        });
        assert_eq!(
            nul_paths(&value, ""),
            ["title", "resources[1].url", "extra.k\\u0000"]
        );
        assert_eq!(
            nul_paths(&serde_json::json!({"k": "\u{0}"}), "extra"),
            ["extra.k"]
        );
        assert!(nul_paths(&serde_json::json!({"k": ["a", 1, null]}), "").is_empty());
    }

    #[test]
    fn nul_fields_are_named_with_their_prefix() {
        assert_eq!(
            nul_fields("embeds[0].", [("kind", Some("a\u{0}")), ("html", None)]),
            ["embeds[0].kind"]
        );
    }
}
