//! Lectern's HTTP service. For now the binary opens the database and applies migrations.

pub mod cli;
