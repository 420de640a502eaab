//! A talk's state as a write answers it (REST and GraphQL name these fields alike), and the
//! GraphQL selection that asks for it.

use serde_json::{Value, json};

/// The GraphQL selection of a talk's state.
pub(crate) const STATE: &str =
    "id slug title location version resources { id title url description } embeds { id kind }";

/// A resource of a talk.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Res {
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) url: String,
    pub(crate) description: Option<String>,
}

/// An embed of a talk.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Emb {
    pub(crate) id: String,
    pub(crate) kind: String,
}

/// What a write answers (REST and GraphQL name these fields alike).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TalkState {
    pub(crate) id: String,
    pub(crate) slug: String,
    pub(crate) title: String,
    pub(crate) location: Option<String>,
    pub(crate) version: i64,
    pub(crate) resources: Vec<Res>,
    pub(crate) embeds: Vec<Emb>,
}

impl TalkState {
    /// The state in a JSON answer, or None when a field is missing.
    pub(crate) fn parse(v: &Value) -> Option<Self> {
        let text = |v: &Value, k: &str| v[k].as_str().map(str::to_owned);
        Some(Self {
            id: text(v, "id")?,
            slug: text(v, "slug")?,
            title: text(v, "title")?,
            location: text(v, "location"),
            version: v["version"].as_i64()?,
            resources: v["resources"]
                .as_array()?
                .iter()
                .map(|r| {
                    Some(Res {
                        id: text(r, "id")?,
                        title: text(r, "title")?,
                        url: text(r, "url")?,
                        description: text(r, "description"),
                    })
                })
                .collect::<Option<_>>()?,
            embeds: v["embeds"]
                .as_array()?
                .iter()
                .map(|e| {
                    Some(Emb {
                        id: text(e, "id")?,
                        kind: text(e, "kind")?,
                    })
                })
                .collect::<Option<_>>()?,
        })
    }

    /// The state as JSON, as `parse` reads it.
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "id": self.id, "slug": self.slug, "title": self.title, "location": self.location, "version": self.version,
            "resources": self.resources.iter().map(|r| json!({"id": r.id, "title": r.title, "url": r.url, "description": r.description})).collect::<Vec<_>>(),
            "embeds": self.embeds.iter().map(|e| json!({"id": e.id, "kind": e.kind})).collect::<Vec<_>>(),
        })
    }

    /// The `ETag` of this state (`"id.version"`), for `If-Match`.
    pub(crate) fn etag(&self) -> String {
        format!("\"{}.{}\"", self.id, self.version)
    }
}
