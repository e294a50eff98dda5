//! Fresh stores for tests, one per test, so that tests run in parallel.

use std::ops::Deref;

use factum::projection::ProjectionDb;
use factum::{MemoryStore, StoreLimits};
use factum::{NatsConfig, NatsStore};
use factum::{PostgresConfig, PostgresStore};
use factum::{SqliteConfig, SqliteStore};
use sqlx::AssertSqlSafe;

/// A store under test plus whatever must live as long as it (a temporary directory, a
/// schema to drop afterwards).
pub struct TestStore<S> {
    store: S,
    _dir: Option<tempfile::TempDir>,
    pg_schema: Option<String>,
    _nats: Option<crate::nats_cluster::NatsCluster>,
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

/// A two-worker runtime for property tests, which run their cases with `block_on`.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A unique schema name for one test.
pub fn unique_schema(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

/// A memory store.
pub async fn memory(_test: &str, limits: StoreLimits) -> Option<TestStore<MemoryStore>> {
    Some(TestStore {
        store: MemoryStore::new().with_limits(limits),
        _dir: None,
        pg_schema: None,
        _nats: None,
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
        _nats: None,
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
        _nats: None,
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
        _nats: None,
    })
}

/// The NATS URL for tests, from `FACTUM_TEST_NATS`; unset, as [`pg_url`] does.
pub fn nats_url(test: &str) -> Option<String> {
    match std::env::var("FACTUM_TEST_NATS") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!("{test}: FACTUM_TEST_NATS is not set, but CI is: JetStream tests must run in CI")
        }
        _ => {
            eprintln!(
                "{test}: SKIPPED, needs NATS with JetStream: set FACTUM_TEST_NATS=nats://127.0.0.1:4222"
            );
            None
        }
    }
}

/// A JetStream store on a `nats-server` of its own, started for the test with
/// `max_payload` at its 64 MB maximum (an append is one message, so the server's limit
/// caps an append; its 1 MB default would refuse the suite's largest batches). `None`
/// (with a message) without `nats-server`, except under CI.
pub async fn nats(test: &str, limits: StoreLimits) -> Option<TestStore<NatsStore>> {
    let Some(server) = crate::nats_cluster::NatsCluster::start_with(1, "max_payload: 67108864")
        .expect("start nats-server")
    else {
        assert!(
            std::env::var_os("CI").is_none(),
            "{test}: nats-server is needed in CI"
        );
        return None;
    };
    let config = NatsConfig::new(server.urls()[0].clone()).limits(limits);
    let store = NatsStore::connect(config)
        .await
        .expect("connect to the test's nats-server");
    Some(TestStore {
        store,
        _dir: None,
        pg_schema: None,
        _nats: Some(server),
    })
}

impl TestStore<NatsStore> {
    /// Deletes the test's streams (call at the end of a passing test).
    pub async fn destroy(self) {
        let _ = self.store.destroy().await;
    }
}

/// The second database on the test server (`factum_read_models`, created if missing),
/// for read models kept apart from the events, or `None` without `FACTUM_TEST_PG`.
pub async fn second_pg_url(test: &str) -> Option<String> {
    let url = pg_url(test)?;
    let (server, rest) = url
        .rsplit_once('/')
        .expect("FACTUM_TEST_PG names a database");
    let query = rest
        .split_once('?')
        .map(|(_, q)| format!("?{q}"))
        .unwrap_or_default();
    let admin = sqlx::PgPool::connect(&url)
        .await
        .expect("connect to FACTUM_TEST_PG");
    let exists: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'factum_read_models')",
    )
    .fetch_one(&admin)
    .await
    .expect("list databases");
    if !exists {
        // Two tests creating it at once: the loser's error is harmless.
        let _ = sqlx::query("CREATE DATABASE factum_read_models")
            .execute(&admin)
            .await;
    }
    admin.close().await;
    Some(format!("{server}/factum_read_models{query}"))
}

/// A read-model database apart from the events, and what must live as long as it.
pub struct ReadModelsApart {
    /// The database.
    pub db: ProjectionDb,
    _dir: Option<tempfile::TempDir>,
}

impl ReadModelsApart {
    /// Read models in a new SQLite file.
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let db = ProjectionDb::open_sqlite(dir.path().join("read_models.sqlite"))
            .await
            .expect("open the read-model file");
        ReadModelsApart {
            db,
            _dir: Some(dir),
        }
    }

    /// Read models in a new schema of the server's second database, or `None` without
    /// `FACTUM_TEST_PG`.
    pub async fn postgres(test: &str) -> Option<Self> {
        let url = second_pg_url(test).await?;
        let db = ProjectionDb::connect_postgres(&url, &unique_schema("rm"))
            .await
            .expect("connect to the read-model database");
        Some(ReadModelsApart { db, _dir: None })
    }

    /// Drops a PostgreSQL read-model schema (call at the end of a passing test).
    pub async fn cleanup(self) {
        if let Pools::Postgres { pool, schema } = pools(&self.db) {
            let sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
            let _ = sqlx::query(AssertSqlSafe(sql)).execute(&pool).await;
        }
    }
}

/// The pools of a projection database, for tests that check its tables with SQL of
/// their own.
pub enum Pools {
    /// A SQLite database.
    Sqlite {
        /// Its write connection.
        writer: sqlx::SqlitePool,
        /// Its read connections.
        reader: sqlx::SqlitePool,
    },
    /// A PostgreSQL database.
    Postgres {
        /// Its pool.
        pool: sqlx::PgPool,
        /// The schema its tables are in.
        schema: String,
    },
}

/// The pools of `db`.
pub fn pools(db: &ProjectionDb) -> Pools {
    if let Some(sqlite) = db.sqlite() {
        return Pools::Sqlite {
            writer: sqlite.writer().clone(),
            reader: sqlite.reader().clone(),
        };
    }
    let pg = db.postgres().expect("read models in SQLite or PostgreSQL");
    Pools::Postgres {
        pool: pg.writer().clone(),
        schema: pg.schema().unwrap_or("public").to_owned(),
    }
}

/// Instantiates each named `async fn test(store: &S)` of the calling file on a SQLite
/// file (`mod sqlite`) and on PostgreSQL (`mod postgres`, skipped without
/// `FACTUM_TEST_PG`, its schema dropped after a passing test), each a multi-threaded
/// tokio test.
#[macro_export]
macro_rules! sql_backend_tests {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let store = $crate::backends::sqlite_file(stringify!($test), Default::default())
                        .await
                        .unwrap();
                    super::$test(store.store()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let Some(store) = $crate::backends::postgres(stringify!($test), Default::default()).await else {
                        return;
                    };
                    super::$test(store.store()).await;
                    store.cleanup().await;
                }
            )*
        }
    };
}

/// Instantiates every test of [`crate::conformance`] for one backend.
///
/// `$open` is an `async fn(&str, StoreLimits) -> Option<TestStore<S>>`; `$cleanup` is run
/// with the store after a passing test. A backend without appends inside the caller's
/// transaction ([`TransactionalStore`](factum::TransactionalStore), which the SQL
/// backends and the memory store have) says `without_transactions`, and runs the rest.
#[macro_export]
macro_rules! store_conformance_tests {
    ($backend:ident, $open:path, $cleanup:expr) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;
            $crate::store_conformance_tests!(@contract $open, $cleanup);
            $crate::store_conformance_tests!(@tests $open, $cleanup;
                rolled_back_transaction_stores_nothing,
                committed_transaction_stores_everything,
                refused_append_leaves_the_transaction_usable,
                locked_stream_holds_other_writers_until_commit,
                claims_in_an_open_transaction_hold_off_other_claimers,
            );
        }
    };
    ($backend:ident, $open:path, $cleanup:expr, without_transactions) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;
            $crate::store_conformance_tests!(@contract $open, $cleanup);
        }
    };
    (@contract $open:path, $cleanup:expr) => {
        $crate::store_conformance_tests!(@tests $open, $cleanup;
            expected_version_any,
            expected_version_no_stream,
            expected_version_stream_exists,
            expected_version_exact,
            racing_exact_appends_have_one_winner,
            idempotent_reappend,
            reused_ids_elsewhere_are_refused,
            retry_with_changed_events_is_refused,
            exact_retry_of_a_full_batch_is_recognised,
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
            racing_claims_have_one_winner,
            failed_appends_leave_no_claims,
            released_values_can_be_claimed_again,
            bad_unique_values_are_refused,
        );
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

/// Instantiates every test of [`crate::repository_suite`] for one backend; a backend
/// without [`TransactionalStore`](factum::TransactionalStore) says `without_transactions`
/// and skips the pessimistic writers' test, which locks streams in a transaction.
#[macro_export]
macro_rules! repository_tests {
    ($backend:ident, $open:path, $cleanup:expr) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;
            $crate::repository_tests!(@all $open, $cleanup);
            $crate::repository_tests!(@tests $open, $cleanup; pessimistic_writers_take_turns,);
        }
    };
    ($backend:ident, $open:path, $cleanup:expr, without_transactions) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;
            $crate::repository_tests!(@all $open, $cleanup);
        }
    };
    (@all $open:path, $cleanup:expr) => {
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
                cached_state_catches_up_after_another_writer,
                single_writer_decides_in_arrival_order,
                failed_batch_append_retries_its_commands,
                claims_fail_only_their_own_command,
                a_reused_key_with_another_intent_is_refused,
            );
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

/// A table of the caller's own, written in a store's transaction beside its appends (an
/// outbox), for the transaction tests. The memory store has no tables: `None` there.
pub trait CallerRows: factum::TransactionalStore {
    /// Creates the caller's table.
    fn create_table(&self) -> impl std::future::Future<Output = ()> + Send;
    /// Writes a row with `key` in the transaction; `false` if the backend has no tables.
    fn write_row(
        tx: &mut Self::Transaction,
        key: &str,
    ) -> impl std::future::Future<Output = bool> + Send;
    /// Committed rows with `key`, or `None` if the backend has no tables.
    fn count_rows(&self, key: &str) -> impl std::future::Future<Output = Option<i64>> + Send;
}

impl CallerRows for MemoryStore {
    async fn create_table(&self) {}
    async fn write_row(_: &mut Self::Transaction, _: &str) -> bool {
        false
    }
    async fn count_rows(&self, _: &str) -> Option<i64> {
        None
    }
}

impl CallerRows for SqliteStore {
    async fn create_table(&self) {
        sqlx::query("CREATE TABLE IF NOT EXISTS outbox (key TEXT NOT NULL)")
            .execute(self.write_pool())
            .await
            .expect("create the caller's table");
    }
    async fn write_row(tx: &mut Self::Transaction, key: &str) -> bool {
        sqlx::query("INSERT INTO outbox (key) VALUES (?1)")
            .bind(key)
            .execute(&mut **tx)
            .await
            .expect("write the caller's row");
        true
    }
    async fn count_rows(&self, key: &str) -> Option<i64> {
        let n = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE key = ?1")
            .bind(key)
            .fetch_one(self.read_pool())
            .await
            .expect("count the caller's rows");
        Some(n)
    }
}

impl CallerRows for PostgresStore {
    async fn create_table(&self) {
        sqlx::query("CREATE TABLE IF NOT EXISTS outbox (key text NOT NULL)")
            .execute(self.pool())
            .await
            .expect("create the caller's table");
    }
    async fn write_row(tx: &mut Self::Transaction, key: &str) -> bool {
        sqlx::query("INSERT INTO outbox (key) VALUES ($1)")
            .bind(key)
            .execute(&mut **tx)
            .await
            .expect("write the caller's row");
        true
    }
    async fn count_rows(&self, key: &str) -> Option<i64> {
        let n = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE key = $1")
            .bind(key)
            .fetch_one(self.pool())
            .await
            .expect("count the caller's rows");
        Some(n)
    }
}
