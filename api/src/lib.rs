//! Lectern's HTTP service: GraphQL for frontends, health and readiness for operators.

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
pub mod subscriptions;
pub mod telemetry;
