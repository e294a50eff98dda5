//! Raw-sqlx baselines shared by the benchmarks: the same work as Factum, written by hand
//! on the same tables.

#![allow(dead_code)]

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, Row};
use uuid::Uuid;

/// The payload the benchmarks append.
pub fn payload(i: usize) -> serde_json::Value {
    serde_json::json!({ "account": "acct-42", "cents": 1000 + i, "memo": "monthly transfer" })
}

/// The columns a decoded event has, as the raw baselines read them.
#[allow(dead_code)]
pub struct RawEvent {
    pub position: i64,
    event_id: Uuid,
    stream_id: String,
    version: i64,
    event_type: String,
    schema_version: i64,
    payload: String,
    metadata: Option<String>,
    recorded_at: DateTime<Utc>,
}

/// The payload of the benchmarks' events, as a hand-written loader decodes it.
#[derive(serde::Deserialize)]
pub struct Amount {
    pub cents: i64,
}

/// Folds `(event_type, payload)` rows the way a hand-written loader would: decode the
/// known type with serde and add it up.
fn fold<'a>(rows: impl Iterator<Item = (&'a str, &'a str)>) -> (i64, u64) {
    let mut total = 0;
    let mut count = 0;
    for (event_type, payload) in rows {
        if event_type == "Deposited" {
            let amount: Amount = serde_json::from_str(payload).expect("payload decodes");
            total += amount.cents;
        }
        count += 1;
    }
    (total, count)
}

pub mod sqlite_raw {
    use super::*;
    use sqlx::SqlitePool;

    /// Load one stream's events and fold them.
    pub async fn load_fold(pool: &SqlitePool, stream: &str) -> (i64, u64) {
        let rows = sqlx::query(
            "SELECT event_type, payload FROM factum_events WHERE stream_id = ?1 ORDER BY stream_version",
        )
        .bind(stream)
        .fetch_all(pool)
        .await
        .unwrap();
        fold(
            rows.iter()
                .map(|r| (r.get::<&str, _>(0), r.get::<&str, _>(1))),
        )
    }

    /// `INSERT … VALUES (…), (…)` for `rows` rows, built once per size.
    fn insert_sql(rows: usize) -> std::sync::Arc<str> {
        static SQL: std::sync::OnceLock<Vec<std::sync::Arc<str>>> = std::sync::OnceLock::new();
        let all = SQL.get_or_init(|| {
            (0..=64)
                .map(|n| {
                    let values = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?)"; n].join(", ");
                    std::sync::Arc::from(format!(
                        "INSERT INTO factum_events (event_id, stream_id, stream_version, category, \
                         event_type, schema_version, payload, metadata, recorded_at) VALUES {values}"
                    ))
                })
                .collect()
        });
        all[rows].clone()
    }

    /// Append with expected version, by hand: the same statements Factum runs.
    pub async fn append(pool: &SqlitePool, stream: &str, expected: i64, n: usize) -> i64 {
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
        let version: Option<i64> =
            sqlx::query_scalar("SELECT version FROM factum_streams WHERE stream_id = ?1")
                .bind(stream)
                .fetch_optional(&mut *tx)
                .await
                .unwrap();
        assert_eq!(version.unwrap_or(0), expected);
        let now = Utc::now().timestamp_micros();
        let mut done = 0;
        while done < n {
            let chunk = [64, 16, 4, 1].into_iter().find(|&s| s <= n - done).unwrap();
            let mut q = sqlx::query(AssertSqlSafe(insert_sql(chunk)));
            for i in done..done + chunk {
                q = q
                    .bind(Uuid::now_v7())
                    .bind(stream)
                    .bind(expected + i as i64 + 1)
                    .bind("bench")
                    .bind("Deposited")
                    .bind(1i64)
                    .bind(payload(i).to_string())
                    .bind(None::<String>)
                    .bind(now);
            }
            q.execute(&mut *tx).await.unwrap();
            done += chunk;
        }
        sqlx::query(
            "INSERT INTO factum_streams (stream_id, category, version, created_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version",
        )
        .bind(stream)
        .bind("bench")
        .bind(expected + n as i64)
        .bind(now)
        .execute(&mut *tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
        expected + n as i64
    }

    fn decode(row: &sqlx::sqlite::SqliteRow) -> RawEvent {
        RawEvent {
            position: row.get(0),
            event_id: row.get(1),
            stream_id: row.get(2),
            version: row.get(3),
            event_type: row.get(4),
            schema_version: row.get(5),
            payload: row.get(6),
            metadata: row.get(7),
            recorded_at: DateTime::from_timestamp_micros(row.get(8)).unwrap(),
        }
    }

    pub async fn read_stream(pool: &SqlitePool, stream: &str) -> Vec<RawEvent> {
        sqlx::query(
            "SELECT position, event_id, stream_id, stream_version, event_type, schema_version, \
             payload, metadata, recorded_at FROM factum_events WHERE stream_id = ?1 ORDER BY stream_version",
        )
        .bind(stream)
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(decode)
        .collect()
    }

    pub async fn read_all(pool: &SqlitePool, limit: i64) -> Vec<RawEvent> {
        sqlx::query(
            "SELECT position, event_id, stream_id, stream_version, event_type, schema_version, \
             payload, metadata, recorded_at FROM factum_events WHERE position >= ?1 ORDER BY position LIMIT ?2",
        )
        .bind(0i64)
        .bind(limit)
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(decode)
        .collect()
    }
}

pub mod pg_raw {
    use super::*;
    use sqlx::PgPool;

    /// Load one stream's events and fold them.
    pub async fn load_fold(pool: &PgPool, stream: &str) -> (i64, u64) {
        let rows = sqlx::query(
            "SELECT event_type, payload::text FROM events WHERE stream_id = $1 ORDER BY stream_version",
        )
        .bind(stream)
        .fetch_all(pool)
        .await
        .unwrap();
        fold(
            rows.iter()
                .map(|r| (r.get::<&str, _>(0), r.get::<&str, _>(1))),
        )
    }

    /// Append with expected version, by hand: one statement that bumps the stream row if
    /// it is at the expected version and inserts the events with gap-free positions.
    pub async fn append(pool: &PgPool, stream: &str, expected: i64, n: usize) -> i64 {
        let ids: Vec<Uuid> = (0..n).map(|_| Uuid::now_v7()).collect();
        let types = vec!["Deposited"; n];
        let versions = vec![1i32; n];
        let payloads: Vec<String> = (0..n).map(|i| payload(i).to_string()).collect();
        let metadata: Vec<Option<String>> = vec![None; n];
        let sql = if expected == 0 {
            "WITH s AS (INSERT INTO streams (stream_id, category, version) SELECT $1, $2, $3 \
             WHERE $4::bigint = 0 ON CONFLICT (stream_id) DO NOTHING RETURNING version)"
        } else {
            "WITH s AS (UPDATE streams SET version = version + $3 \
             WHERE stream_id = $1 AND version = $4 RETURNING version)"
        };
        let sql = format!(
            "{sql}, a AS (INSERT INTO events (position, event_id, stream_id, stream_version, category, \
             event_type, schema_version, payload, metadata) \
             SELECT (pg_current_xact_id()::text::bigint << 20) | (e.ord - 1), e.id, $1, s.version - $3 + e.ord, $2, \
             e.t, e.v, e.p::json, e.m::json FROM s, unnest($5::uuid[], $6::text[], $7::int4[], $8::text[], $9::text[]) \
             WITH ORDINALITY AS e (id, t, v, p, m, ord) RETURNING position, stream_version) \
             SELECT position, stream_version FROM a ORDER BY stream_version"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(stream)
            .bind("bench")
            .bind(n as i64)
            .bind(expected)
            .bind(ids)
            .bind(types)
            .bind(versions)
            .bind(payloads)
            .bind(metadata)
            .fetch_all(pool)
            .await
            .unwrap();
        assert_eq!(rows.len(), n);
        expected + n as i64
    }

    fn decode(row: &sqlx::postgres::PgRow) -> RawEvent {
        RawEvent {
            position: row.get(0),
            event_id: row.get(1),
            stream_id: row.get(2),
            version: row.get(3),
            event_type: row.get(4),
            schema_version: row.get::<i32, _>(5) as i64,
            payload: row.get(6),
            metadata: row.get(7),
            recorded_at: row.get(8),
        }
    }

    pub async fn read_stream(pool: &PgPool, stream: &str) -> Vec<RawEvent> {
        sqlx::query(
            "SELECT position, event_id, stream_id, stream_version, event_type, schema_version, \
             payload::text, metadata::text, recorded_at FROM events WHERE stream_id = $1 ORDER BY stream_version",
        )
        .bind(stream)
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(decode)
        .collect()
    }

    /// The gap-free read: only below the oldest running transaction.
    pub async fn read_all(pool: &PgPool, limit: i64) -> Vec<RawEvent> {
        sqlx::query(
            "SELECT position, event_id, stream_id, stream_version, event_type, schema_version, \
             payload::text, metadata::text, recorded_at FROM events WHERE position >= $1 \
             AND position < (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint << 20) \
             ORDER BY position LIMIT $2",
        )
        .bind(0i64)
        .bind(limit)
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(decode)
        .collect()
    }
}

/// The hand-written command path of `commands.rs`: what a developer writes without a
/// framework. Plain tables of its own in the store's database (no trigger, no advisory
/// lock, no stream table):
/// `raw_events(stream_id, version, payload, PRIMARY KEY (stream_id, version))`. A command
/// loads the stream, folds it, and INSERTs at the next version; the primary key is the
/// concurrency check, and a unique violation means "someone else appended first: load and
/// decide again", at once and for as long as it takes.
pub mod commands {
    use super::*;
    use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
    use sqlx::sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
    };
    use sqlx::{PgPool, SqlitePool};
    use std::str::FromStr;
    use std::time::Duration;

    /// One backend's raw command path.
    #[derive(Clone)]
    pub enum RawCommands {
        /// A pool of its own, as large as the store's (10), on the store's schema.
        Postgres(PgPool),
        /// One write connection (callers queue for it, as Factum's do) and four read
        /// connections, with the store's settings (WAL, `synchronous = FULL`). A pool of
        /// writers would instead race for the file lock and sleep in SQLite's busy
        /// handler, a slower baseline that would flatter Factum.
        Sqlite {
            /// Loads.
            reader: SqlitePool,
            /// INSERTs.
            writer: SqlitePool,
        },
    }

    fn unique_violation(err: &sqlx::Error) -> bool {
        err.as_database_error()
            .is_some_and(|e| e.is_unique_violation())
    }

    impl RawCommands {
        /// Connects to `url` with `schema` (which must exist) first on the search path.
        pub async fn postgres(url: &str, schema: &str) -> Self {
            let options = PgConnectOptions::from_str(url)
                .unwrap()
                .options([("search_path", schema)]);
            let pool = PgPoolOptions::new()
                .max_connections(10)
                .connect_with(options)
                .await
                .unwrap();
            sqlx::query(
                "CREATE TABLE raw_events (stream_id text NOT NULL, version bigint NOT NULL, \
                 payload json NOT NULL, PRIMARY KEY (stream_id, version))",
            )
            .execute(&pool)
            .await
            .unwrap();
            RawCommands::Postgres(pool)
        }

        /// Opens the SQLite file at `path` (the store's).
        pub async fn sqlite(path: &std::path::Path) -> Self {
            let base = SqliteConnectOptions::new()
                .filename(path)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(30));
            let writer = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .acquire_timeout(Duration::from_secs(300))
                .connect_with(base.clone())
                .await
                .unwrap();
            sqlx::query(
                "CREATE TABLE raw_events (stream_id TEXT NOT NULL, version INTEGER NOT NULL, \
                 payload TEXT NOT NULL, PRIMARY KEY (stream_id, version))",
            )
            .execute(&writer)
            .await
            .unwrap();
            let reader = SqlitePoolOptions::new()
                .max_connections(4)
                .acquire_timeout(Duration::from_secs(300))
                .connect_with(base.read_only(true))
                .await
                .unwrap();
            RawCommands::Sqlite { reader, writer }
        }

        /// Gives every stream `events` deposits (versions 1 to `events`) in one
        /// transaction.
        pub async fn seed(&self, streams: &[String], events: usize) {
            let rows: Vec<(String, i64, String)> = streams
                .iter()
                .flat_map(|s| {
                    (0..events).map(move |i| (s.clone(), i as i64 + 1, payload(i).to_string()))
                })
                .collect();
            match self {
                RawCommands::Postgres(pool) => {
                    let (s, v, p): (Vec<_>, Vec<_>, Vec<_>) = rows.into_iter().fold(
                        (Vec::new(), Vec::new(), Vec::new()),
                        |(mut s, mut v, mut p), (a, b, c)| {
                            s.push(a);
                            v.push(b);
                            p.push(c);
                            (s, v, p)
                        },
                    );
                    sqlx::query(
                        "INSERT INTO raw_events (stream_id, version, payload) \
                         SELECT s, v, p::json FROM unnest($1::text[], $2::bigint[], $3::text[]) AS r (s, v, p)",
                    )
                    .bind(s)
                    .bind(v)
                    .bind(p)
                    .execute(pool)
                    .await
                    .unwrap();
                }
                RawCommands::Sqlite { writer, .. } => {
                    let mut tx = writer.begin().await.unwrap();
                    for (s, v, p) in rows {
                        sqlx::query(
                            "INSERT INTO raw_events (stream_id, version, payload) VALUES (?1, ?2, ?3)",
                        )
                        .bind(s)
                        .bind(v)
                        .bind(p)
                        .execute(&mut *tx)
                        .await
                        .unwrap();
                    }
                    tx.commit().await.unwrap();
                }
            }
        }

        /// Loads `stream` and folds it: (balance, version).
        async fn load(&self, stream: &str) -> (i64, i64) {
            let mut total = 0;
            let mut version = 0;
            let mut fold = |v: i64, payload: &str| {
                let amount: Amount = serde_json::from_str(payload).expect("payload decodes");
                total += amount.cents;
                version = v;
            };
            match self {
                RawCommands::Postgres(pool) => {
                    let rows = sqlx::query(
                        "SELECT version, payload::text FROM raw_events WHERE stream_id = $1 ORDER BY version",
                    )
                    .bind(stream)
                    .fetch_all(pool)
                    .await
                    .unwrap();
                    rows.iter().for_each(|r| fold(r.get(0), r.get(1)));
                }
                RawCommands::Sqlite { reader, .. } => {
                    let rows = sqlx::query(
                        "SELECT version, payload FROM raw_events WHERE stream_id = ?1 ORDER BY version",
                    )
                    .bind(stream)
                    .fetch_all(reader)
                    .await
                    .unwrap();
                    rows.iter().for_each(|r| fold(r.get(0), r.get(1)));
                }
            }
            (total, version)
        }

        /// INSERTs one deposit at `version`; `false` if another writer took that version.
        async fn insert(&self, stream: &str, version: i64, payload: &str) -> bool {
            let done = match self {
                RawCommands::Postgres(pool) => {
                    sqlx::query(
                        "INSERT INTO raw_events (stream_id, version, payload) VALUES ($1, $2, $3::json)",
                    )
                    .bind(stream)
                    .bind(version)
                    .bind(payload)
                    .execute(pool)
                    .await
                    .map(drop)
                }
                RawCommands::Sqlite { writer, .. } => {
                    sqlx::query(
                        "INSERT INTO raw_events (stream_id, version, payload) VALUES (?1, ?2, ?3)",
                    )
                    .bind(stream)
                    .bind(version)
                    .bind(payload)
                    .execute(writer)
                    .await
                    .map(drop)
                }
            };
            match done {
                Ok(_) => true,
                Err(err) if unique_violation(&err) => false,
                Err(err) => panic!("raw INSERT failed: {err}"),
            }
        }

        /// One deposit command: load, fold, decide, INSERT at the next version, and on a
        /// conflict start again. Returns the conflicts it met.
        pub async fn execute(&self, stream: &str, cents: i64) -> u64 {
            let payload = serde_json::json!({ "cents": cents }).to_string();
            let mut conflicts = 0;
            loop {
                let (total, version) = self.load(stream).await;
                // The decision: a deposit is always accepted; the fold's result is used.
                std::hint::black_box(total);
                if self.insert(stream, version + 1, &payload).await {
                    return conflicts;
                }
                conflicts += 1;
            }
        }

        /// The stream's version and balance, for checks outside the timed work.
        pub async fn state(&self, stream: &str) -> (i64, i64) {
            let (total, version) = self.load(stream).await;
            (version, total)
        }

        /// Refreshes the planner statistics of every table of the database (PostgreSQL:
        /// of the store's schema, first on the search path), as a store in service has
        /// them.
        pub async fn analyze(&self) {
            match self {
                RawCommands::Postgres(pool) => {
                    let tables: Vec<String> = sqlx::query_scalar(
                        "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables \
                         WHERE schemaname = current_schema()",
                    )
                    .fetch_all(pool)
                    .await
                    .unwrap();
                    for table in tables {
                        sqlx::query(AssertSqlSafe(format!("ANALYZE {table}")))
                            .execute(pool)
                            .await
                            .unwrap();
                    }
                }
                RawCommands::Sqlite { writer, .. } => {
                    sqlx::query("ANALYZE").execute(writer).await.unwrap();
                }
            }
        }

        /// Closes the pools (PostgreSQL: before the schema is dropped).
        pub async fn close(&self) {
            match self {
                RawCommands::Postgres(pool) => pool.close().await,
                RawCommands::Sqlite { reader, writer } => {
                    reader.close().await;
                    writer.close().await;
                }
            }
        }
    }
}
