//! The schema's one extension: the checks of a query's shape before it is validated
//! ([`super::limits`]), codes for the errors async-graphql raises before any resolver runs
//! ([`super::errors`]), and each operation counted and timed ([`super::metrics`]). One extension
//! rather than one for each: async-graphql passes every field's resolution through every
//! extension, each pass a boxed future, and none of these needs to see fields.

use std::sync::Arc;
use std::time::Instant;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest,
    NextRequest, NextValidation,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Request, Response, ServerError, ServerResult, ValidationResult, Variables};

use super::{errors, limits, metrics};

pub struct Hooks;

impl ExtensionFactory for Hooks {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RequestHooks::default())
    }
}

/// One request's hooks.
#[derive(Default)]
struct RequestHooks {
    operation: metrics::Operation,
}

#[async_graphql::async_trait::async_trait]
impl Extension for RequestHooks {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let started = Instant::now();
        let response = next.run(ctx).await;
        self.operation.answered(started, &response);
        response
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        limits::check(ctx, &mut request)?;
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next
            .run(ctx, query, variables)
            .await
            .map_err(errors::coded_parse_error)?;
        self.operation.parsed(&document);
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(errors::coded_validation)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        self.operation.chosen(operation_name);
        errors::coded_execution(next.run(ctx, operation_name).await)
    }
}
