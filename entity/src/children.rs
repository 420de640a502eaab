//! A talk's resources and embeds written out as JSON: built by the database from their rows
//! when a read needs them whole, and stored on the talk's row (`talks.resources_json`,
//! `talks.embeds_json`) as readers are served them, so that a page of talks is read without
//! building them again.
//!
//! Each child is a JSON array: a resource is `[id, position, title, url, description, asset]`,
//! an embed `[id, position, kind, html, safe_html, tweet, video]`. The stored form leaves each
//! embed's markup as written out (`html` is `""`): readers are served its sanitized markup,
//! and the writes that need it read the rows. Every write of a talk's children rewrites both
//! columns from the rows in the same transaction ([`refresh`]); the migration that added
//! them filled them the same way.

use sea_orm::DatabaseBackend;
use sea_orm::sea_query::{Alias, Expr, Query, UpdateStatement};

/// The column of `talks` that holds its resources as [`Markup::Left`] writes them.
pub const RESOURCES_COLUMN: &str = "resources_json";
/// The column of `talks` that holds its embeds as [`Markup::Left`] writes them.
pub const EMBEDS_COLUMN: &str = "embeds_json";

/// A talk's resources or its embeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Resources,
    Embeds,
}

impl Part {
    /// The column of `talks` that stores this part.
    pub fn column(self) -> &'static str {
        match self {
            Self::Resources => RESOURCES_COLUMN,
            Self::Embeds => EMBEDS_COLUMN,
        }
    }
}

/// Whether each embed's markup as written is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Markup {
    AsWritten,
    /// Written out as an empty string: the stored form, for readers that serve only the
    /// sanitized markup.
    Left,
}

/// The subquery that writes a talk's resources or embeds as one JSON array of arrays, for a
/// statement whose table is `talks`. PostgreSQL builds the array in position order; SQLite in
/// the order of the `(talk_id, position)` index, which no statement promises (an ordering
/// subquery took a sixth of a page's time): readers sort each talk's children by position.
pub fn children_sql(backend: DatabaseBackend, part: Part, markup: Markup) -> String {
    let (table, columns) = match part {
        Part::Resources => ("resources", ["title", "url", "description"].as_slice()),
        Part::Embeds => ("embeds", ["kind", "html", "safe_html"].as_slice()),
    };
    let columns: Vec<String> = columns
        .iter()
        .map(|c| match (*c, markup) {
            ("html", Markup::Left) => "''".to_owned(),
            _ => format!("c.{c}"),
        })
        .collect();
    let columns = columns.join(", ");
    if backend == DatabaseBackend::Postgres {
        let (tail, asset) = match part {
            Part::Resources => ("", ", c.asset_id"),
            Part::Embeds => (", c.tweet, c.video", ""),
        };
        format!(
            "(SELECT coalesce(json_agg(json_build_array(c.id, c.position, {columns}{asset}{tail}) \
             ORDER BY c.position), '[]'::json)::text FROM {table} c WHERE c.talk_id = \"talks\".\"id\")"
        )
    } else {
        // SQLite holds a UUID as 16 bytes (a blob), which JSON cannot hold: it is written as hex.
        let hex = |column: &str| {
            format!(
                "CASE WHEN {column} IS NULL THEN NULL WHEN typeof({column}) = 'blob' \
                 THEN lower(hex({column})) ELSE {column} END"
            )
        };
        let (tail, asset) = match part {
            Part::Resources => (String::new(), format!(", {}", hex("c.asset_id"))),
            Part::Embeds => (", json(c.tweet), json(c.video)".to_owned(), String::new()),
        };
        format!(
            "(SELECT json_group_array(json_array({}, c.position, {columns}{asset}{tail})) \
             FROM {table} c WHERE c.talk_id = \"talks\".\"id\")",
            hex("c.id")
        )
    }
}

/// The statement that rewrites the stored children of talks from their rows: of every talk as
/// it is, of those the caller names with `and_where`.
pub fn refresh(backend: DatabaseBackend) -> UpdateStatement {
    Query::update()
        .table(Alias::new("talks"))
        .value(
            Alias::new(RESOURCES_COLUMN),
            Expr::cust(children_sql(backend, Part::Resources, Markup::Left)),
        )
        .value(
            Alias::new(EMBEDS_COLUMN),
            Expr::cust(children_sql(backend, Part::Embeds, Markup::Left)),
        )
        .to_owned()
}
