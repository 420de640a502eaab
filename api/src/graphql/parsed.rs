//! Parsed queries, kept by their text: a front end sends the same few queries again and again,
//! and parsing one costs more than the rest of answering a single talk from memory.
//!
//! Only the parse is kept. Everything that depends on the request or the schema (validation,
//! the depth and complexity limits, variables, the viewer) is done for every request, as it
//! would be without this.

use std::sync::OnceLock;

use async_graphql::Positioned;
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationDefinition};
use quick_cache::Weighter;
use quick_cache::sync::Cache;

/// What the kept documents may weigh in all, each counted as [`PER_TEXT_BYTE`] times its
/// query's text: 256 KiB of query text, hundreds of the queries a front end sends.
const KEPT_WEIGHT: u64 = 4 * 1024 * 1024;
/// A parsed document is counted as this many bytes per byte of its text (an estimate on the
/// safe side: every name, argument and position of the text becomes a node of its own).
const PER_TEXT_BYTE: u64 = 16;
/// A longer query is parsed each time rather than kept.
const LONGEST_KEPT: usize = 8 * 1024;

#[derive(Clone)]
struct Estimated;

impl Weighter<String, ExecutableDocument> for Estimated {
    fn weight(&self, query: &String, _: &ExecutableDocument) -> u64 {
        (query.len() as u64 + 1) * PER_TEXT_BYTE
    }
}

fn documents() -> &'static Cache<String, ExecutableDocument, Estimated> {
    static DOCUMENTS: OnceLock<Cache<String, ExecutableDocument, Estimated>> = OnceLock::new();
    DOCUMENTS.get_or_init(|| Cache::with_weighter(1024, KEPT_WEIGHT, Estimated))
}

/// Gives `request` its parsed query, from the documents kept when its text was seen before;
/// otherwise parses it (keeping the document when it parsed). A query that does not parse
/// is left to the schema, which reports the error as it always does.
pub fn prepare(request: &mut async_graphql::Request) {
    if request.query.len() > LONGEST_KEPT {
        return;
    }
    if let Some(document) = documents().get(request.query.as_str()) {
        request.set_parsed_query(document);
        return;
    }
    if let Ok(document) = request.parsed_query() {
        let document = document.clone();
        documents().insert(request.query.clone(), document);
    }
}

/// The operation a request runs in `document`: the one `name` names, or the only one. None
/// when the document does not hold it (`limits::check` refuses such a request).
pub fn operation<'a>(
    document: &'a ExecutableDocument,
    name: Option<&str>,
) -> Option<&'a Positioned<OperationDefinition>> {
    match (&document.operations, name) {
        (DocumentOperations::Single(operation), _) => Some(operation),
        (DocumentOperations::Multiple(operations), Some(name)) => operations.get(name),
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values().next()
        }
        (DocumentOperations::Multiple(_), None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_seen_before_is_given_the_same_document() {
        let query = "query Kept($slug: String) { talk(slug: $slug) { title } }";
        let mut first = async_graphql::Request::new(query);
        prepare(&mut first);
        let mut second = async_graphql::Request::new(query);
        // Nothing parsed it yet; `prepare` sets the kept document.
        prepare(&mut second);
        let (Ok(a), Ok(b)) = (first.parsed_query(), second.parsed_query()) else {
            panic!("the query parses");
        };
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
        assert!(documents().get(query).is_some());
    }

    #[test]
    fn the_operation_run_is_the_one_named_or_the_only_one() {
        let kind = |query: &str, name: Option<&str>| {
            let document = async_graphql::parser::parse_query(query).expect("the query parses");
            operation(&document, name).map(|operation| operation.node.ty)
        };
        use async_graphql::parser::types::OperationType::{Mutation, Query};
        assert_eq!(kind("{ talks { totalCount } }", None), Some(Query));
        assert_eq!(kind("query One { __typename }", None), Some(Query));
        let two = "query A { __typename } mutation B { logout }";
        assert_eq!(kind(two, Some("B")), Some(Mutation));
        assert_eq!(kind(two, Some("A")), Some(Query));
        assert_eq!(kind(two, None), None);
        assert_eq!(kind(two, Some("C")), None);
    }

    #[test]
    fn a_query_that_does_not_parse_is_not_kept() {
        let query = "{ talk(slug: ";
        let mut request = async_graphql::Request::new(query);
        prepare(&mut request);
        assert!(request.parsed_query().is_err());
        assert!(documents().get(query).is_none());
    }
}
