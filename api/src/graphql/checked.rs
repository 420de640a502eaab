//! The schema behind Lectern's own checks: the shape of a query before async-graphql validates
//! it ([`super::limits`]), codes for the errors async-graphql raises before any resolver runs
//! ([`super::errors`]), and each operation counted and timed ([`super::metrics`]).
//!
//! These run around the schema, not as an async-graphql extension: once a schema has any
//! extension, async-graphql passes every field's resolution through the extension chain (a
//! boxed future, and the field's type looked up by name), which costs about a tenth of
//! answering a single talk, though none of these checks needs to see fields.

use std::sync::Arc;
use std::time::Instant;

use async_graphql::{Data, Executor, Request, Response};
use futures_util::stream::{self, BoxStream, StreamExt};

use super::{RawSchema, errors, limits, metrics, parsed};

/// The schema every request goes through, checked first; cheap to clone.
#[derive(Clone)]
pub struct AppSchema {
    schema: RawSchema,
    /// Whether the schema answers `__schema` and `__type`.
    introspection: bool,
}

impl AppSchema {
    pub(super) fn new(schema: RawSchema, introspection: bool) -> Self {
        Self {
            schema,
            introspection,
        }
    }

    /// Runs a request: parsed (or its kept document taken), checked, executed, its errors
    /// coded, and the operation counted.
    pub async fn execute(&self, request: impl Into<Request>) -> Response {
        let mut request = request.into();
        parsed::prepare(&mut request);
        self.execute_prepared(request).await
    }

    /// [`Self::execute`] for a request [`parsed::prepare`] has seen.
    pub async fn execute_prepared(&self, mut request: Request) -> Response {
        let started = Instant::now();
        let kind = metrics::kind(&mut request);
        let response = match limits::check(&mut request, self.introspection) {
            Ok(()) => errors::coded_response(self.schema.execute(request).await),
            Err(refusal) => Response::from_errors(vec![refusal]),
        };
        metrics::answered(kind, started, &response);
        response
    }

    /// The schema in SDL.
    pub fn sdl(&self) -> String {
        self.schema.sdl()
    }
}

impl Executor for AppSchema {
    async fn execute(&self, request: Request) -> Response {
        AppSchema::execute(self, request).await
    }

    /// A subscription, or a query or mutation sent over a WebSocket: checked and coded as
    /// over HTTP, each of its responses too (a subscription's events are not counted as
    /// operations).
    fn execute_stream(
        &self,
        mut request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        parsed::prepare(&mut request);
        if let Err(refusal) = limits::check(&mut request, self.introspection) {
            return stream::once(async move { Response::from_errors(vec![refusal]) }).boxed();
        }
        self.schema
            .execute_stream_with_session_data(request, session_data.unwrap_or_default())
            .map(errors::coded_response)
            .boxed()
    }
}
