//! Talk documents in and out of Lectern: parsing, text repair, importing and exporting.
//! The binaries `lectern-import` and `lectern-export` are thin wrappers around [`import`] and
//! [`export`].

pub mod document;
pub mod export;
pub mod fix;
pub mod import;
pub mod repair;
