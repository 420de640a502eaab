//! The talk form: a talk as the editor sees and types it, read from a form post whose field
//! names are the API's field paths (`title`, `resources[2].url`), so that a validation message
//! of the service finds its field by its path.

use service::FieldError;
use service::talks::{NewEmbed, NewResource, NewTalk, TalkRecord};

use super::error::StudioError;
use crate::rest::problem::Problem;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceRow {
    pub title: String,
    pub url: String,
    pub description: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmbedRow {
    pub kind: String,
    pub html: String,
}

/// Every field of a talk, as text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TalkForm {
    pub slug: String,
    pub title: String,
    pub date: String,
    pub event: String,
    pub location: String,
    pub image: String,
    pub pdf: String,
    pub notist_id: String,
    pub body: String,
    /// The other front-matter keys, as a JSON object.
    pub extra: String,
    pub resources: Vec<ResourceRow>,
    pub embeds: Vec<EmbedRow>,
}

/// What else a form post carries besides the talk.
#[derive(Debug, Clone, Default)]
pub struct Posted {
    pub csrf: Option<String>,
    /// The version the form was read at.
    pub version: Option<i32>,
    /// "Save mine over theirs": the version the editor has seen and chooses to replace.
    pub overwrite: Option<i32>,
    /// A change to the form itself (add, remove, move a row), not a save.
    pub op: Option<String>,
}

/// The fields of a form post, decoded; text that is not UTF-8 is refused (400), never replaced.
pub fn pairs(body: &[u8]) -> Result<Vec<(String, String)>, StudioError> {
    let decode = |part: &[u8], index: usize| {
        let spaced: Vec<u8> = part
            .iter()
            .map(|&b| if b == b'+' { b' ' } else { b })
            .collect();
        percent_encoding::percent_decode(&spaced)
            .decode_utf8()
            .map(std::borrow::Cow::into_owned)
            .map_err(|_| {
                StudioError::from(Problem::bad_request(format!(
                    "the form is not UTF-8 text (field {})",
                    index + 1
                )))
            })
    };
    body.split(|&b| b == b'&')
        .filter(|part| !part.is_empty())
        .enumerate()
        .map(|(index, part)| {
            let (name, value) = match part.iter().position(|&b| b == b'=') {
                Some(at) => (&part[..at], &part[at + 1..]),
                None => (part, &b""[..]),
            };
            Ok((decode(name, index)?, decode(value, index)?))
        })
        .collect()
}

/// Rows one form may hold of each kind, as the service allows.
const MAX_ROWS: usize = service::talks::MAX_CHILDREN;

fn optional(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

impl TalkForm {
    /// The form for a talk as stored.
    pub fn of(record: &TalkRecord) -> Self {
        let talk = &record.talk;
        let extra = match &talk.extra {
            serde_json::Value::Object(map) if map.is_empty() => String::new(),
            other => serde_json::to_string_pretty(other).unwrap_or_default(),
        };
        Self {
            slug: talk.slug.clone(),
            title: talk.title.clone(),
            date: talk.date.clone(),
            event: talk.event.clone().unwrap_or_default(),
            location: talk.location.clone().unwrap_or_default(),
            image: talk.image.clone().unwrap_or_default(),
            pdf: talk.pdf.clone().unwrap_or_default(),
            notist_id: talk.notist_id.clone().unwrap_or_default(),
            body: talk.body.clone(),
            extra,
            resources: record
                .resources
                .iter()
                .map(|r| ResourceRow {
                    title: r.title.clone(),
                    url: r.url.clone(),
                    description: r.description.clone().unwrap_or_default(),
                })
                .collect(),
            embeds: record
                .embeds
                .iter()
                .map(|e| EmbedRow {
                    kind: e.kind.clone(),
                    html: e.html.clone(),
                })
                .collect(),
        }
    }

    /// Reads a form post (`application/x-www-form-urlencoded`). Unknown fields are refused
    /// (422), naming the field, as the API refuses unknown members.
    pub fn parse(body: &[u8]) -> Result<(Self, Posted), StudioError> {
        let pairs = pairs(body)?;
        let mut form = TalkForm::default();
        let mut posted = Posted::default();
        let number = |name: &str, value: &str| {
            value
                .trim()
                .parse::<i32>()
                .map_err(|_| StudioError::from(Problem::invalid(name, "must be a whole number")))
        };
        for (name, value) in pairs {
            match name.as_str() {
                "csrf" => posted.csrf = Some(value),
                "version" => posted.version = Some(number("version", &value)?),
                "overwrite" => posted.overwrite = Some(number("overwrite", &value)?),
                "op" => posted.op = Some(value),
                "slug" => form.slug = value,
                "title" => form.title = value,
                "date" => form.date = value,
                "event" => form.event = value,
                "location" => form.location = value,
                "image" => form.image = value,
                "pdf" => form.pdf = value,
                "notist_id" => form.notist_id = value,
                "body" => form.body = value,
                "extra" => form.extra = value,
                _ => form.set_row(&name, value)?,
            }
        }
        Ok((form, posted))
    }

    /// `resources[i].field` or `embeds[i].field`.
    fn set_row(&mut self, name: &str, value: String) -> Result<(), StudioError> {
        let unknown = || StudioError::from(Problem::invalid(name, "is not a field of a talk"));
        let (list, rest) = name.split_once('[').ok_or_else(unknown)?;
        let (index, field) = rest.split_once("].").ok_or_else(unknown)?;
        let index: usize = index.parse().map_err(|_| unknown())?;
        if index >= MAX_ROWS {
            return Err(
                Problem::invalid(list, &format!("a talk has at most {MAX_ROWS} of these")).into(),
            );
        }
        match list {
            "resources" => {
                if self.resources.len() <= index {
                    self.resources.resize(index + 1, ResourceRow::default());
                }
                let row = &mut self.resources[index];
                match field {
                    "title" => row.title = value,
                    "url" => row.url = value,
                    "description" => row.description = value,
                    _ => return Err(unknown()),
                }
            }
            "embeds" => {
                if self.embeds.len() <= index {
                    self.embeds.resize(index + 1, EmbedRow::default());
                }
                let row = &mut self.embeds[index];
                match field {
                    "kind" => row.kind = value,
                    "html" => row.html = value,
                    _ => return Err(unknown()),
                }
            }
            _ => return Err(unknown()),
        }
        Ok(())
    }

    /// Applies a change to the form's rows: `resources.add`, `resources.remove.2`,
    /// `resources.up.2`, `resources.down.2`, and the same for `embeds`; `restore` changes
    /// nothing (a draft kept in the browser, shown again). Returns the id of the
    /// field to focus afterwards, or an error for an op that names no row.
    pub fn apply(&mut self, op: &str) -> Result<String, StudioError> {
        let bad = || StudioError::from(Problem::bad_request(format!("unknown form action {op:?}")));
        // The browser's kept draft, sent back to be shown as a form: nothing to change.
        if op == "restore" {
            return Ok("title".into());
        }
        let mut parts = op.split('.');
        let (Some(list), Some(action)) = (parts.next(), parts.next()) else {
            return Err(bad());
        };
        let index = parts
            .next()
            .map(str::parse::<usize>)
            .transpose()
            .map_err(|_| bad())?;
        if parts.next().is_some() {
            return Err(bad());
        }
        fn change<T: Default>(
            rows: &mut Vec<T>,
            action: &str,
            index: Option<usize>,
        ) -> Option<Option<usize>> {
            match (action, index) {
                ("add", None) if rows.len() < MAX_ROWS => {
                    rows.push(T::default());
                    Some(Some(rows.len() - 1))
                }
                ("remove", Some(i)) if i < rows.len() => {
                    rows.remove(i);
                    Some(None)
                }
                ("up", Some(i)) if i > 0 && i < rows.len() => {
                    rows.swap(i - 1, i);
                    Some(Some(i - 1))
                }
                ("down", Some(i)) if i + 1 < rows.len() => {
                    rows.swap(i, i + 1);
                    Some(Some(i + 1))
                }
                _ => None,
            }
        }
        let (moved, first) = match list {
            "resources" => (change(&mut self.resources, action, index), "title"),
            "embeds" => (change(&mut self.embeds, action, index), "kind"),
            _ => return Err(bad()),
        };
        match moved {
            Some(Some(row)) if action == "add" => Ok(format!("{list}[{row}].{first}")),
            // After a move, the same button of the moved row keeps the focus.
            Some(Some(row)) => Ok(format!("{list}.{action}.{row}")),
            Some(None) => Ok(format!("{list}.add")),
            None => Err(bad()),
        }
    }

    /// The input the service validates. `extra` must be a JSON object (or empty).
    pub fn to_new_talk(&self) -> Result<NewTalk, ServiceErrorOrField> {
        let extra = if self.extra.trim().is_empty() {
            serde_json::Map::new()
        } else {
            match serde_json::from_str::<serde_json::Value>(&self.extra) {
                Ok(serde_json::Value::Object(map)) => map,
                Ok(_) => {
                    return Err(vec![FieldError::new("extra", "must be a JSON object")]);
                }
                Err(e) => {
                    return Err(vec![FieldError::new("extra", format!("is not JSON: {e}"))]);
                }
            }
        };
        Ok(NewTalk {
            slug: self.slug.trim().to_owned(),
            title: self.title.clone(),
            date: self.date.trim().to_owned(),
            event: optional(&self.event),
            location: optional(&self.location),
            image: optional(&self.image),
            pdf: optional(&self.pdf),
            notist_id: optional(&self.notist_id),
            body: self.body.clone(),
            extra,
            resources: self
                .resources
                .iter()
                .map(|r| NewResource {
                    title: r.title.clone(),
                    url: r.url.trim().to_owned(),
                    description: optional(&r.description),
                })
                .collect(),
            embeds: self
                .embeds
                .iter()
                .map(|e| NewEmbed {
                    kind: e.kind.trim().to_owned(),
                    html: e.html.clone(),
                })
                .collect(),
        })
    }

    /// Each field whose value differs from `other`'s, with the two values (this form's first):
    /// the talk's fields by name, then resources and embeds row by row.
    pub fn differences(&self, other: &TalkForm) -> Vec<Difference> {
        let mut out = Vec::new();
        let mut field = |path: String, mine: &str, theirs: &str| {
            if mine != theirs {
                out.push(Difference {
                    path,
                    before: mine.to_owned(),
                    after: theirs.to_owned(),
                });
            }
        };
        for (name, a, b) in [
            ("slug", &self.slug, &other.slug),
            ("title", &self.title, &other.title),
            ("date", &self.date, &other.date),
            ("event", &self.event, &other.event),
            ("location", &self.location, &other.location),
            ("image", &self.image, &other.image),
            ("pdf", &self.pdf, &other.pdf),
            ("notist_id", &self.notist_id, &other.notist_id),
            ("body", &self.body, &other.body),
            ("extra", &self.extra, &other.extra),
        ] {
            field(name.into(), a, b);
        }
        let empty_resource = ResourceRow::default();
        for i in 0..self.resources.len().max(other.resources.len()) {
            let a = self.resources.get(i).unwrap_or(&empty_resource);
            let b = other.resources.get(i).unwrap_or(&empty_resource);
            field(format!("resources[{i}].title"), &a.title, &b.title);
            field(format!("resources[{i}].url"), &a.url, &b.url);
            field(
                format!("resources[{i}].description"),
                &a.description,
                &b.description,
            );
        }
        let empty_embed = EmbedRow::default();
        for i in 0..self.embeds.len().max(other.embeds.len()) {
            let a = self.embeds.get(i).unwrap_or(&empty_embed);
            let b = other.embeds.get(i).unwrap_or(&empty_embed);
            field(format!("embeds[{i}].kind"), &a.kind, &b.kind);
            field(format!("embeds[{i}].html"), &a.html, &b.html);
        }
        out
    }
}

/// Field errors found before the service is asked.
pub type ServiceErrorOrField = Vec<FieldError>;

/// One field that differs between two versions of a talk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The field's path, as the API names it.
    pub path: String,
    pub before: String,
    pub after: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_post_is_read_by_the_apis_field_paths() {
        let body =
            b"csrf=t&version=3&title=Hello&slug=hello&date=2024-01-02&body=%3Cp%3Ex%3C%2Fp%3E\
&resources%5B1%5D.url=https%3A%2F%2Fb&resources%5B0%5D.title=A&embeds%5B0%5D.kind=video";
        let (form, posted) = TalkForm::parse(body).unwrap();
        assert_eq!(posted.version, Some(3));
        assert_eq!(posted.csrf.as_deref(), Some("t"));
        assert_eq!(form.title, "Hello");
        assert_eq!(form.resources.len(), 2);
        assert_eq!(form.resources[0].title, "A");
        assert_eq!(form.resources[1].url, "https://b");
        assert_eq!(form.embeds[0].kind, "video");
    }

    #[test]
    fn form_text_is_decoded_strictly() {
        let pairs = pairs(b"a=x+y%2B%C3%A9&b&&c=").unwrap();
        assert_eq!(
            pairs,
            [
                ("a".to_owned(), "x y+é".to_owned()),
                ("b".to_owned(), String::new()),
                ("c".to_owned(), String::new())
            ]
        );
        assert!(super::pairs(b"a=%FF").is_err());
    }

    #[test]
    fn unknown_fields_and_huge_indexes_are_refused_by_name() {
        for body in [
            &b"nope=1"[..],
            b"resources%5B0%5D.nope=1",
            b"resources%5Bx%5D.title=1",
            b"talks%5B0%5D.title=1",
            b"version=abc",
        ] {
            let error = TalkForm::parse(body).unwrap_err();
            assert!(matches!(error, StudioError::Problem(_)), "{error:?}");
        }
        let StudioError::Problem(problem) =
            TalkForm::parse(b"resources%5B100000000%5D.title=1").unwrap_err()
        else {
            panic!("not a problem");
        };
        assert_eq!(problem.errors[0].path, "resources");
        assert!(problem.errors[0].message.contains("at most"), "{problem:?}");
    }

    #[test]
    fn rows_are_added_moved_and_removed() {
        let mut form = TalkForm::default();
        assert_eq!(form.apply("resources.add").unwrap(), "resources[0].title");
        form.resources[0].title = "a".into();
        form.apply("resources.add").unwrap();
        form.resources[1].title = "b".into();
        assert_eq!(form.apply("resources.up.1").unwrap(), "resources.up.0");
        assert_eq!(form.resources[0].title, "b");
        form.apply("resources.down.0").unwrap();
        assert_eq!(form.resources[0].title, "a");
        form.apply("resources.remove.0").unwrap();
        assert_eq!(form.resources.len(), 1);
        assert!(form.apply("resources.up.0").is_err());
        assert!(form.apply("resources.remove.5").is_err());
        assert!(form.apply("nothing").is_err());
        assert!(form.apply("embeds.add.3").is_err());
    }

    #[test]
    fn differences_name_each_changed_field() {
        let mut a = TalkForm {
            title: "A".into(),
            ..TalkForm::default()
        };
        a.resources.push(ResourceRow {
            title: "r".into(),
            ..ResourceRow::default()
        });
        let mut b = a.clone();
        b.title = "B".into();
        b.resources.clear();
        let diff = a.differences(&b);
        let paths: Vec<_> = diff.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(paths, ["title", "resources[0].title"]);
        assert_eq!(diff[0].before, "A");
        assert_eq!(diff[0].after, "B");
    }

    #[test]
    fn extra_must_be_a_json_object() {
        let mut form = TalkForm {
            extra: "[1]".into(),
            ..TalkForm::default()
        };
        assert_eq!(form.to_new_talk().unwrap_err()[0].path, "extra");
        form.extra = "{".into();
        assert!(form.to_new_talk().unwrap_err()[0].message.contains("JSON"));
        form.extra = "{\"tags\": [\"x\"]}".into();
        assert_eq!(form.to_new_talk().unwrap().extra.len(), 1);
    }
}
