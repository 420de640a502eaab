//! Lectern's HTTP service: GraphQL for frontends, health and readiness for operators.

pub mod cli;
pub mod graphql;
pub mod html;
pub mod routes;
pub mod startup;
