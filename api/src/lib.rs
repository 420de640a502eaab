//! Lectern's HTTP service, `lectern`: GraphQL (queries, mutations and subscriptions over a
//! websocket) and the REST API under `/api/v1` for frontends and editors, the change feed and
//! signed webhooks for integrators, login and tokens, GraphiQL, and health, readiness and
//! metrics for operators; with the commands that migrate, back up and restore the database and
//! manage accounts and tokens.

pub mod admin;
pub mod auth;
pub mod cache;
pub mod changes;
pub mod cli;
pub mod configuration;
pub mod dispatch;
pub mod graphql;
pub mod rest;
pub mod routes;
pub mod runtime;
pub mod startup;
pub mod static_files;
pub mod studio;
pub mod subscriptions;
pub mod telemetry;
