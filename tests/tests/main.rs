//! All black-box tests, compiled into one binary.

#![allow(clippy::unwrap_used)]

mod assets;
mod assets_graphql;
mod assets_s3;
mod auth;
mod browser;
mod cache;
mod changes;
mod contract;
mod derived;
mod editing;
mod events;
mod export;
mod follow;
mod graphql;
mod hostile;
mod import_assets;
mod import_corpus;
mod import_errors;
mod import_updates;
mod introspection;
mod openapi_responses;
mod operations;
mod reads;
mod relay;
mod rest;
mod studio;
mod studio_media;
mod support;
mod webhooks;
