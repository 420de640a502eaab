//! GraphQL operations counted by type (query, mutation, subscription) and outcome, and timed.
//! Operation names are the clients' own words and are not used as labels.

use std::sync::Mutex;
use std::time::Instant;

use async_graphql::Response;
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};

/// One request's operations, as parsed; the name of the one to run comes with the request.
#[derive(Default)]
pub(super) struct Operation {
    kinds: Mutex<Vec<(Option<String>, OperationType)>>,
    /// The operation name the request chose, when it runs.
    chosen: Mutex<Option<String>>,
}

fn label(kind: OperationType) -> &'static str {
    match kind {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    }
}

impl Operation {
    /// Counts and times the request's operation, once `response` is its answer.
    pub(super) fn answered(&self, started: Instant, response: &Response) {
        let kind = {
            let kinds = self.kinds.lock().map(|k| k.clone()).unwrap_or_default();
            match kinds.as_slice() {
                [(_, kind)] => label(*kind),
                [] => "unknown",
                many => {
                    let chosen = self.chosen.lock().map(|c| c.clone()).unwrap_or_default();
                    many.iter()
                        .find(|(name, _)| name.is_some() && *name == chosen)
                        .map_or("unknown", |(_, kind)| label(*kind))
                }
            }
        };
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

    /// Notes the operations of the parsed document.
    pub(super) fn parsed(&self, document: &ExecutableDocument) {
        let kinds = match &document.operations {
            DocumentOperations::Single(operation) => vec![(None, operation.node.ty)],
            DocumentOperations::Multiple(operations) => operations
                .iter()
                .map(|(name, operation)| (Some(name.to_string()), operation.node.ty))
                .collect(),
        };
        if let Ok(mut slot) = self.kinds.lock() {
            *slot = kinds;
        }
    }

    /// Notes the name of the operation that runs.
    pub(super) fn chosen(&self, operation_name: Option<&str>) {
        if let Ok(mut slot) = self.chosen.lock() {
            *slot = operation_name.map(str::to_owned);
        }
    }
}
