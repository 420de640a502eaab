//! GraphQL operations counted by type (query, mutation, subscription) and outcome, and timed.
//! Operation names are the clients' own words and are not used as labels.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextRequest,
};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{Response, ServerResult, Variables};

pub struct OperationMetrics;

impl ExtensionFactory for OperationMetrics {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Operation::default())
    }
}

/// One request's operations, as parsed; the name of the one to run comes with the request.
#[derive(Default)]
struct Operation {
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

#[async_graphql::async_trait::async_trait]
impl Extension for Operation {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let started = Instant::now();
        let response = next.run(ctx).await;
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
        response
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
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
        Ok(document)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        if let Ok(mut slot) = self.chosen.lock() {
            *slot = operation_name.map(str::to_owned);
        }
        next.run(ctx, operation_name).await
    }
}
