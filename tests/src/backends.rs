//! Fresh stores for tests, one per test, so that tests run in parallel.

use std::ops::Deref;

use factum::store::postgres::{PostgresConfig, PostgresStore};
use factum::store::sqlite::{SqliteConfig, SqliteStore};
use factum::{MemoryStore, StoreLimits};
use sqlx::AssertSqlSafe;

/// A store under test plus whatever must live as long as it (a temporary directory, a
/// schema to drop afterwards).
pub struct TestStore<S> {
    store: S,
    _dir: Option<tempfile::TempDir>,
    pg_schema: Option<String>,
}

impl<S> Deref for TestStore<S> {
    type Target = S;
    fn deref(&self) -> &S {
        &self.store
    }
}

impl<S> TestStore<S> {
    /// The store itself.
    pub fn store(&self) -> &S {
        &self.store
    }
}

impl TestStore<PostgresStore> {
    /// Drops the test's schema (call at the end of a passing test).
    pub async fn cleanup(self) {
        if let Some(schema) = &self.pg_schema {
            let sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
            let _ = sqlx::query(AssertSqlSafe(sql))
                .execute(self.store.pool())
                .await;
        }
    }
}

/// The PostgreSQL URL for tests, from `FACTUM_TEST_PG`.
///
/// Unset: prints why the test is skipped and returns `None`, or panics when `CI` is set,
/// because CI must never pass a PostgreSQL test that did not run.
pub fn pg_url(test: &str) -> Option<String> {
    match std::env::var("FACTUM_TEST_PG") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!("{test}: FACTUM_TEST_PG is not set, but CI is: PostgreSQL tests must run in CI")
        }
        _ => {
            eprintln!(
                "{test}: SKIPPED, needs PostgreSQL: set FACTUM_TEST_PG=postgres://postgres@127.0.0.1:5432/test"
            );
            None
        }
    }
}

/// A unique schema name for one test.
pub fn unique_schema(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

/// A memory store.
pub async fn memory(_test: &str, limits: StoreLimits) -> Option<TestStore<MemoryStore>> {
    Some(TestStore {
        store: MemoryStore::with_limits(limits),
        _dir: None,
        pg_schema: None,
    })
}

/// A SQLite store in a new temporary file.
pub async fn sqlite_file(_test: &str, limits: StoreLimits) -> Option<TestStore<SqliteStore>> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut config = SqliteConfig::file(dir.path().join("events.sqlite"));
    config.limits = limits;
    let store = SqliteStore::open_with(config).await.expect("open SQLite");
    Some(TestStore {
        store,
        _dir: Some(dir),
        pg_schema: None,
    })
}

/// A SQLite store in memory.
pub async fn sqlite_memory(_test: &str, limits: StoreLimits) -> Option<TestStore<SqliteStore>> {
    let mut config = SqliteConfig::memory();
    config.limits = limits;
    let store = SqliteStore::open_with(config).await.expect("open SQLite");
    Some(TestStore {
        store,
        _dir: None,
        pg_schema: None,
    })
}

/// A PostgreSQL store in a new schema, or `None` (with a message) without `FACTUM_TEST_PG`.
pub async fn postgres(test: &str, limits: StoreLimits) -> Option<TestStore<PostgresStore>> {
    let url = pg_url(test)?;
    let schema = unique_schema("t");
    let mut config = PostgresConfig::new(url).schema(&schema).max_connections(12);
    config.limits = limits;
    let store = PostgresStore::connect_with(config)
        .await
        .expect("connect to PostgreSQL at FACTUM_TEST_PG");
    Some(TestStore {
        store,
        _dir: None,
        pg_schema: Some(schema),
    })
}

/// Instantiates every test of [`crate::conformance`] for one backend.
///
/// `$open` is an `async fn(&str, StoreLimits) -> Option<TestStore<S>>`; `$cleanup` is run
/// with the store after a passing test.
#[macro_export]
macro_rules! store_conformance_tests {
    ($backend:ident, $open:path, $cleanup:expr) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;
            $crate::store_conformance_tests!(@tests $open, $cleanup;
                expected_version_any,
                expected_version_no_stream,
                expected_version_stream_exists,
                expected_version_exact,
                racing_exact_appends_have_one_winner,
                idempotent_reappend,
                reused_ids_elsewhere_are_refused,
                read_forward_with_paging,
                read_backward_with_paging,
                read_missing_stream_is_empty,
                read_all_in_order_with_filters,
                read_all_beyond_head_is_an_error,
                tombstones,
                bad_input_is_refused_and_nothing_is_written,
                failed_batch_is_atomic,
                unicode_and_large_payloads,
                stream_info_and_listing,
                metadata_and_envelope_round_trip,
                eight_concurrent_appenders_all_succeed,
                large_events_read_in_order,
                scan_matches_read,
                listing_is_in_byte_order,
                zero_limit_reads_nothing,
            );
        }
    };
    (@tests $open:path, $cleanup:expr; $($test:ident,)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $test() {
                let name = concat!(module_path!(), "::", stringify!($test));
                let Some(store) = $open(name, $crate::conformance::limits()).await else {
                    return;
                };
                $crate::conformance::$test(store.store()).await;
                ($cleanup)(store).await;
            }
        )*
    };
}

/// Instantiates every test of [`crate::repository_suite`] for one backend.
#[macro_export]
macro_rules! repository_tests {
    ($backend:ident, $open:path, $cleanup:expr) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;
            $crate::repository_tests!(@tests $open, $cleanup;
                execute_and_load,
                concurrent_commands_lose_nothing,
                time_travel,
                tombstoned_aggregates,
                rejections_are_recorded,
                old_versions_are_upcast_on_load,
                unreadable_events_are_typed_errors,
                metadata_flows_into_events,
                snapshots_follow_the_policy,
                stale_or_broken_snapshots_are_ignored,
            );
        }
    };
    (@tests $open:path, $cleanup:expr; $($test:ident,)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $test() {
                let name = concat!(module_path!(), "::", stringify!($test));
                let Some(store) = $open(name, $crate::conformance::limits()).await else {
                    return;
                };
                $crate::repository_suite::$test(store.store().clone()).await;
                ($cleanup)(store).await;
            }
        )*
    };
}
