//! Factum's cross-crate test suites.
//!
//! * [`conformance`]: one set of event-store tests, generic over the backend, instantiated
//!   for every backend by [`store_conformance_tests!`] in `tests/store_conformance.rs`.
//! * [`repository_suite`]: the repository over every backend, with the bank account of
//!   [`domain`].
//! * [`projections`]: projections over that domain, for the projection suites and the
//!   crash test's child process (`src/bin/projector.rs`).
//! * [`backends`]: how each suite gets a fresh store (a temporary SQLite file, a private
//!   PostgreSQL schema), and the rule for tests that need PostgreSQL: the URL comes from
//!   `FACTUM_TEST_PG`; when it is unset the test says so and passes, unless `CI` is set,
//!   in which case it fails.

pub mod backends;
pub mod conformance;
pub mod domain;
pub mod nats_cluster;
pub mod projections;
pub mod repository_suite;
