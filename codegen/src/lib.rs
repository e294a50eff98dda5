//! Factum's build-time step: from a domain crate's registry of events and read models it
//! will emit the AsyncAPI event catalog, the GraphQL SDL of the read-model API and the
//! read-model DDL for SQLite and PostgreSQL.
//!
//! It depends on `factum` (without store backends) because the registry it reads is
//! defined there; nothing is generated yet.
