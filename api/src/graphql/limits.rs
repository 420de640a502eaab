//! Checks of a query's shape before async-graphql validates it: its depth (introspection
//! fields may nest deeper than others, as the standard introspection query needs), its size
//! with fragments expanded (validation expands every spread, so a few fragments that each spread the next one
//! twice would take exponential time), the operation it names, and, when introspection is
//! turned off, that it does not ask for `__schema` or `__type` (which async-graphql would
//! answer with a silent null).

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Field, Selection, SelectionSet,
};
use async_graphql::{Pos, Positioned, Request, ServerError, ServerResult};
use std::collections::{HashMap, HashSet};

use super::errors::coded;
use super::{MAX_COMPLEXITY, MAX_DEPTH};

/// The most selections, directives and arguments a query may hold with its fragments
/// expanded; no query within the complexity limit needs more.
pub const MAX_NODES: usize = MAX_COMPLEXITY;

/// Refuses queries larger than [`MAX_NODES`], nested too deep, asking for introspection where it
/// is turned off, or naming an operation the query does not define; runs before async-graphql
/// validates the request. `introspection` says whether the schema answers `__schema` and
/// `__type`.
pub(super) fn check(request: &mut Request, introspection: bool) -> ServerResult<()> {
    let operation_name = request.operation_name.clone();
    // A query that does not parse is refused as async-graphql parses it again, with the
    // parser's own words; a parsed one is kept and not parsed twice.
    if let Ok(document) = request.parsed_query() {
        check_operation(document, operation_name.as_deref())?;
        if !introspection && let Some((name, pos)) = introspection_field(document) {
            return Err(refusal(
                &format!("introspection ({name}) is turned off on this server"),
                "NOT_SUPPORTED",
                Some(pos),
            ));
        }
        let Ok(Measure { nodes, too_deep }) = measure(document, introspection) else {
            return Err(refusal(
                &format!(
                    "the query is nested too deep: more than {MAX_NESTING} levels of \
                     selections once its fragments are expanded"
                ),
                "LIMIT_EXCEEDED",
                None,
            ));
        };
        if let Some((depth, limit, name)) = too_deep {
            return Err(refusal(
                &format!(
                    "the query is nested too deep: {depth} levels of fields under \
                     {name}; at most {limit} are allowed"
                ),
                "LIMIT_EXCEEDED",
                None,
            ));
        }
        if nodes > MAX_NODES {
            return Err(refusal(
                &format!(
                    "the query is too large: {nodes} fields, fragments, directives and arguments \
                     once its fragments are expanded; at most {MAX_NODES} are allowed"
                ),
                "LIMIT_EXCEEDED",
                None,
            ));
        }
    }
    Ok(())
}

fn refusal(message: &str, code: &'static str, pos: Option<Pos>) -> ServerError {
    coded(message, code).into_server_error(pos.unwrap_or_default())
}

/// The operation to run must be in the document: the one named, or the only one.
fn check_operation(document: &ExecutableDocument, name: Option<&str>) -> ServerResult<()> {
    match (&document.operations, name) {
        (DocumentOperations::Multiple(operations), Some(name)) if operations.contains_key(name) => {
            Ok(())
        }
        (DocumentOperations::Multiple(_) | DocumentOperations::Single(_), Some(name)) => {
            Err(refusal(
                &format!("the query has no operation named {name:?} (operationName)"),
                "BAD_USER_INPUT",
                None,
            ))
        }
        (DocumentOperations::Multiple(operations), None) if operations.len() > 1 => Err(refusal(
            &format!(
                "the query has {} operations; name the one to run with operationName",
                operations.len()
            ),
            "BAD_USER_INPUT",
            None,
        )),
        _ => Ok(()),
    }
}

/// The first `__schema` or `__type` field among the root fields of the document's operations,
/// fragments included, with its position.
fn introspection_field(document: &ExecutableDocument) -> Option<(&str, Pos)> {
    fn root<'a>(
        document: &'a ExecutableDocument,
        set: &'a Positioned<SelectionSet>,
        seen: &mut HashSet<&'a str>,
    ) -> Option<(&'a str, Pos)> {
        set.node
            .items
            .iter()
            .find_map(|selection| match &selection.node {
                Selection::Field(field) => {
                    let name = field.node.name.node.as_str();
                    matches!(name, "__schema" | "__type").then_some((name, field.pos))
                }
                Selection::InlineFragment(fragment) => {
                    root(document, &fragment.node.selection_set, seen)
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    let fragment = document.fragments.get(name)?;
                    seen.insert(name)
                        .then(|| root(document, &fragment.node.selection_set, seen))
                        .flatten()
                }
            })
    }
    let mut seen = HashSet::new();
    document
        .operations
        .iter()
        .find_map(|(_, operation)| root(document, &operation.node.selection_set, &mut seen))
}

/// The deepest an introspection field (`__schema`, `__type`) may nest: the standard query of
/// GraphiQL, graphql-codegen and Apollo's tools (graphql-js's `getIntrospectionQuery()`, with
/// type references nesting `ofType` nine levels) reaches 15. Every other field keeps
/// [`MAX_DEPTH`].
pub const MAX_INTROSPECTION_DEPTH: usize = 20;

/// Selection sets nested deeper than this, fragments expanded, are refused here (before
/// async-graphql, whose limit is lower, counts them), so that counting never recurses deeply.
const MAX_NESTING: usize = 64;

/// The query holds selection sets nested deeper than [`MAX_NESTING`].
struct TooDeep;

/// What a query holds once its fragments are expanded.
struct Measure {
    /// Selections, directives and arguments, in all its operations.
    nodes: usize,
    /// The first root field that nests deeper than its limit: its depth (the root field being
    /// 1), the limit, and its name.
    too_deep: Option<(usize, usize, String)>,
}

/// The size and depth of a selection set with its fragments expanded.
#[derive(Debug, Clone, Copy, Default)]
struct Extent {
    nodes: usize,
    depth: usize,
}

/// Measures the operations: their size, and the depth of each root field against its limit
/// (introspection root fields have [`MAX_INTROSPECTION_DEPTH`] when `introspection` is on, the
/// others [`MAX_DEPTH`]). Each fragment is measured once (memoized), so that this takes time
/// linear in the document.
fn measure(document: &ExecutableDocument, introspection: bool) -> Result<Measure, TooDeep> {
    let mut fragments: HashMap<&str, Option<Extent>> = HashMap::new();
    let mut nodes: usize = 0;
    let mut roots = Vec::new();
    let mut seen = HashSet::new();
    for (_, operation) in document.operations.iter() {
        let operation = &operation.node;
        let own = operation.directives.len() + operation.variable_definitions.len();
        let inner = extent(document, &operation.selection_set, &mut fragments, 0)?;
        nodes = nodes.saturating_add(own).saturating_add(inner.nodes);
        root_fields(document, &operation.selection_set, &mut seen, &mut roots, 0)?;
    }
    let mut too_deep = None;
    for field in roots {
        let name = field.name.node.as_str();
        let limit = if introspection && matches!(name, "__schema" | "__type") {
            MAX_INTROSPECTION_DEPTH
        } else {
            MAX_DEPTH
        };
        let depth = 1 + extent(document, &field.selection_set, &mut fragments, 1)?.depth;
        if depth > limit {
            too_deep = Some((depth, limit, name.to_owned()));
            break;
        }
    }
    Ok(Measure { nodes, too_deep })
}

/// The root fields of a selection set, through its fragments (each fragment once).
fn root_fields<'a>(
    document: &'a ExecutableDocument,
    set: &'a Positioned<SelectionSet>,
    seen: &mut HashSet<&'a str>,
    roots: &mut Vec<&'a Field>,
    nesting: usize,
) -> Result<(), TooDeep> {
    if nesting > MAX_NESTING {
        return Err(TooDeep);
    }
    for selection in &set.node.items {
        match &selection.node {
            Selection::Field(field) => roots.push(&field.node),
            Selection::InlineFragment(fragment) => root_fields(
                document,
                &fragment.node.selection_set,
                seen,
                roots,
                nesting + 1,
            )?,
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.as_str();
                if let Some(fragment) = document.fragments.get(name)
                    && seen.insert(name)
                {
                    root_fields(
                        document,
                        &fragment.node.selection_set,
                        seen,
                        roots,
                        nesting + 1,
                    )?;
                }
            }
        }
    }
    Ok(())
}

/// How many selections, directives and arguments a selection set holds with every fragment
/// spread replaced by the fragment, and how many levels of fields. A spread of a fragment that
/// is being expanded (a cycle, which validation reports) counts 1 and adds no depth; an unknown
/// one (validation says so too) likewise.
fn extent<'a>(
    document: &'a ExecutableDocument,
    set: &'a Positioned<SelectionSet>,
    fragments: &mut HashMap<&'a str, Option<Extent>>,
    nesting: usize,
) -> Result<Extent, TooDeep> {
    if nesting > MAX_NESTING {
        return Err(TooDeep);
    }
    let mut total = Extent::default();
    for selection in &set.node.items {
        let (own, inner, levels) = match &selection.node {
            Selection::Field(field) => {
                let field = &field.node;
                let inner = extent(document, &field.selection_set, fragments, nesting + 1)?;
                (1 + field.directives.len() + field.arguments.len(), inner, 1)
            }
            Selection::InlineFragment(fragment) => {
                let fragment = &fragment.node;
                let inner = extent(document, &fragment.selection_set, fragments, nesting + 1)?;
                (1 + fragment.directives.len(), inner, 0)
            }
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.as_str();
                let inner = match fragments.get(name) {
                    Some(known) => known.unwrap_or_default(),
                    None => match document.fragments.get(name) {
                        Some(fragment) => {
                            fragments.insert(name, None);
                            let inner = extent(
                                document,
                                &fragment.node.selection_set,
                                fragments,
                                nesting + 1,
                            )?;
                            fragments.insert(name, Some(inner));
                            inner
                        }
                        None => Extent::default(),
                    },
                };
                (1 + spread.node.directives.len(), inner, 0)
            }
        };
        total.nodes = total.nodes.saturating_add(own).saturating_add(inner.nodes);
        total.depth = total.depth.max(levels + inner.depth);
    }
    Ok(total)
}
