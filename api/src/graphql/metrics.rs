//! GraphQL operations counted by type (query, mutation, subscription) and outcome, and timed.
//! Operation names are the clients' own words and are not used as labels.

use std::time::Instant;

use async_graphql::parser::types::OperationType;
use async_graphql::{Request, Response};

/// The type of the operation `request` runs, as a label: "unknown" when its query does not
/// parse or does not hold the operation it names.
pub(super) fn kind(request: &mut Request) -> &'static str {
    let name = request.operation_name.clone();
    let Ok(document) = request.parsed_query() else {
        return "unknown";
    };
    let operation = super::parsed::operation(document, name.as_deref());
    operation.map_or("unknown", |operation| match operation.node.ty {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    })
}

/// Counts and times an operation of type `kind` (see [`kind`]), once `response` is its answer.
pub(super) fn answered(kind: &'static str, started: Instant, response: &Response) {
    let outcome = if response.errors.is_empty() {
        "ok"
    } else {
        "error"
    };
    metrics::counter!(
        "lectern_graphql_operations_total",
        "type" => kind,
        "outcome" => outcome
    )
    .increment(1);
    metrics::histogram!("lectern_graphql_operation_duration_seconds", "type" => kind)
        .record(started.elapsed().as_secs_f64());
}
