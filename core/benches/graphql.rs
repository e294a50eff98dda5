//! The GraphQL read-model API against the same SQL run directly: a filtered, ordered
//! page of 50 rows from a 100,000-row read model, through HTTP (request, JSON, axum,
//! the router, the generated SQL) and through sqlx alone. Besides criterion's figures,
//! each side's p50/p99 latency over its measured iterations is printed.
//!
//! The client is a bare hyper HTTP/1.1 connection (kept alive, the body serialized
//! once), so that what is timed is the server and the loopback, not a client library.
//! `http_api` sends the query as a literal text, which the router answers from its
//! compiled plan once the text has been validated; `http_api_variables` sends the same
//! query with its values as variables, which the router validates in full (variables
//! included) every time before answering from the plan. `schema_execute` runs the
//! query on the schema alone, in process: async-graphql's general executor, with
//! parsing and validation every time.
//!
//! ```text
//! FACTUM_TEST_PG=postgres://postgres@127.0.0.1:5432/test cargo bench -p factum --features postgres,graphql --bench graphql
//! ```

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use factum::SqliteStore;
use factum::graphql::ReadModelApi;
use factum::projection::{
    Envelope, HandlerError, ProjectionRunner, ProjectionStore, ProjectionTx, Projections,
};
use factum::{Event, ReadModel};
use factum::{PostgresConfig, PostgresStore};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{AssertSqlSafe, Connection};
use tokio::runtime::Runtime;

const ROWS: i64 = 100_000;

/// Never appended: the benchmark fills the table directly.
#[derive(Event, Serialize, Deserialize, schemars::JsonSchema, Clone, Debug)]
struct Listed {
    id: String,
}

#[derive(ReadModel, Serialize, Deserialize, Clone, Debug)]
#[read_model(table = "items")]
struct Item {
    #[key]
    id: String,
    name: String,
    score: Option<i64>,
    price: f64,
    active: bool,
    at: DateTime<Utc>,
}

struct Items;

#[factum::projection(name = "items", version = 1, read_models(Item))]
impl Items {
    #[on]
    async fn listed(
        &self,
        _tx: &mut ProjectionTx,
        _e: &Envelope<'_, Listed>,
    ) -> Result<(), HandlerError> {
        Ok(())
    }
}

const QUERY: &str = "{ items(first: 50, filter: { active: { eq: true }, price: { gte: 5.0 }, name: { startsWith: \"item\" } }, \
     orderBy: [{ field: SCORE, direction: DESC, nulls: LAST }]) { nodes { id name score price } pageInfo { endCursor } } }";

/// `QUERY` with its values as variables.
const QUERY_WITH_VARIABLES: &str = "query($n: Int, $f: ItemFilter, $o: [ItemOrder!]) { \
     items(first: $n, filter: $f, orderBy: $o) { nodes { id name score price } pageInfo { endCursor } } }";

/// The statement the API runs for `QUERY`, by hand.
fn raw_sql(postgres: bool) -> String {
    // PostgreSQL puts NULLs first when descending unless told; SQLite puts them last.
    let nulls = if postgres { " NULLS LAST" } else { "" };
    let (p1, p2, p3) = if postgres {
        ("$1", "$2", "starts_with(\"name\", $3)")
    } else {
        ("?1", "?2", "substr(\"name\", 1, length(?3)) = ?3")
    };
    format!(
        "SELECT \"id\", \"name\", \"score\", \"price\", \"active\", \"at\" FROM \"items_v1\" \
         WHERE \"active\" = {p1} AND \"price\" >= {p2} AND {p3} \
         ORDER BY \"score\" DESC{nulls}, \"id\" ASC LIMIT 51"
    )
}

/// Registers the projection (so the table exists and is live), then fills it.
async fn fill<S: ProjectionStore>(store: &S) {
    let runner = ProjectionRunner::new(store.clone())
        .with_projection(Items)
        .start();
    Projections::new(store.clone())
        .wait_for("items", factum::Position::START, Duration::from_secs(30))
        .await
        .unwrap();
    runner.stop().await.unwrap();
    let base = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .unwrap()
        .timestamp_micros();
    let db = store.projection_db();
    match (db.sqlite(), db.postgres()) {
        (Some(sqlite), _) => {
            let writer = sqlite.writer().clone();
            let sql = format!(
                "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {}) \
                 INSERT INTO items_v1 SELECT printf('item-%06d', i), 'item ' || i, \
                 CASE WHEN i % 7 = 0 THEN NULL ELSE (i * 37) % 1001 END, (i % 13) * 1.5, i % 3 <> 0, {base} + i FROM n",
                ROWS - 1
            );
            sqlx::query(AssertSqlSafe(sql))
                .execute(&writer)
                .await
                .unwrap();
            sqlx::query("CREATE INDEX items_v1_score ON items_v1 (score DESC, id)")
                .execute(&writer)
                .await
                .unwrap();
            sqlx::query("ANALYZE").execute(&writer).await.unwrap();
        }
        (_, Some(pg)) => {
            let pool = pg.writer().clone();
            let sql = format!(
                "INSERT INTO items_v1 SELECT format('item-%s', lpad(i::text, 6, '0')), 'item ' || i, \
                 CASE WHEN i % 7 = 0 THEN NULL ELSE (i * 37) % 1001 END, (i % 13) * 1.5, i % 3 <> 0, \
                 to_timestamp(({base} + i) / 1e6) FROM generate_series(0, {}) i",
                ROWS - 1
            );
            sqlx::query(AssertSqlSafe(sql))
                .execute(&pool)
                .await
                .unwrap();
            sqlx::query("CREATE INDEX items_v1_score ON items_v1 (score DESC NULLS LAST, id)")
                .execute(&pool)
                .await
                .unwrap();
            sqlx::query("ANALYZE items_v1")
                .execute(&pool)
                .await
                .unwrap();
        }
        _ => unreachable!(),
    }
}

/// Runs `$work` `$iters` times on `$rt`, timing each run and recording it in `$times`;
/// evaluates to the total.
macro_rules! timed {
    ($rt:expr, $iters:expr, $times:expr, $work:expr) => {
        $rt.block_on(async {
            let mut total = Duration::ZERO;
            for _ in 0..$iters {
                let started = Instant::now();
                $work;
                let took = started.elapsed();
                $times.0.lock().unwrap().push(took);
                total += took;
            }
            total
        })
    };
}

/// The baseline's connection.
enum Held {
    Sqlite(tokio::sync::Mutex<sqlx::pool::PoolConnection<sqlx::Sqlite>>),
    Postgres(tokio::sync::Mutex<sqlx::postgres::PgConnection>),
}

/// Runs the baseline's statement once on its connection.
async fn run_raw(held: Arc<Held>, sql: Arc<str>) {
    let sql = sql.to_string();
    let rows = match &*held {
        Held::Sqlite(connection) => sqlx::query(AssertSqlSafe(sql))
            .bind(true)
            .bind(5.0)
            .bind("item")
            .fetch_all(&mut **connection.lock().await)
            .await
            .unwrap()
            .len(),
        // Unprepared, as the API runs it (see `graphql::fetch`).
        Held::Postgres(connection) => sqlx::query(AssertSqlSafe(sql))
            .persistent(false)
            .bind(true)
            .bind(5.0)
            .bind("item")
            .fetch_all(&mut *connection.lock().await)
            .await
            .unwrap()
            .len(),
    };
    assert_eq!(rows, 51);
}

/// Latencies recorded one by one, for percentiles.
#[derive(Clone, Default)]
struct Latencies(Arc<Mutex<Vec<Duration>>>);

impl Latencies {
    fn report(&self, label: &str) -> (Duration, Duration) {
        let mut all = self.0.lock().unwrap().clone();
        if all.is_empty() {
            // This side was filtered out of the run.
            return (Duration::ZERO, Duration::ZERO);
        }
        all.sort();
        let at = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)];
        let (p50, p99) = (at(0.50), at(0.99));
        println!("{label}: {} samples, p50 {p50:?}, p99 {p99:?}", all.len());
        (p50, p99)
    }
}

/// One kept-alive HTTP/1.1 connection to the server.
struct Client {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    host: String,
}

impl Client {
    async fn connect(addr: std::net::SocketAddr) -> Client {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(connection);
        Client {
            sender,
            host: addr.to_string(),
        }
    }

    /// POSTs `body` to `/graphql` and returns the response body.
    async fn post(&mut self, body: &Bytes) -> Bytes {
        self.sender.ready().await.unwrap();
        let request = axum::http::Request::post("/graphql")
            .header("host", self.host.as_str())
            .header("content-type", "application/json")
            .body(Full::new(body.clone()))
            .unwrap();
        let response = self.sender.send_request(request).await.unwrap();
        assert!(response.status().is_success());
        response.into_body().collect().await.unwrap().to_bytes()
    }
}

fn json_bytes(value: serde_json::Value) -> Bytes {
    Bytes::from(value.to_string())
}

fn bench_backend<S: ProjectionStore>(c: &mut Criterion, rt: &Runtime, backend: &str, store: S) {
    rt.block_on(fill(&store));
    let api = ReadModelApi::new(store.clone()).expose::<Item>("items");
    let router = api.router().unwrap();
    let schema = api.schema().unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move { axum::serve(listener, router).await });
    let mut client = rt.block_on(Client::connect(addr));
    let body = json_bytes(json!({ "query": QUERY }));
    let with_variables = json_bytes(json!({
        "query": QUERY_WITH_VARIABLES,
        "variables": {
            "n": 50,
            "f": { "active": { "eq": true }, "price": { "gte": 5.0 }, "name": { "startsWith": "item" } },
            "o": [{ "field": "SCORE", "direction": "DESC", "nulls": "LAST" }],
        },
    }));

    // The API answers what the SQL answers, the same with and without variables.
    let (check, check_variables) =
        rt.block_on(async { (client.post(&body).await, client.post(&with_variables).await) });
    let check: serde_json::Value = serde_json::from_slice(&check).unwrap();
    let nodes = check["data"]["items"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("{check}"));
    assert_eq!(nodes.len(), 50, "{check}");
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&check_variables).unwrap(),
        check
    );

    let _runtime = rt.enter();
    // The baseline runs on one connection taken before the loop, as the API keeps its
    // connections between queries: a pool would ping each connection when handing it out
    // and again when taking it back. On PostgreSQL it is an ordinary connection: the
    // store's own force generic plans for their fixed statements, which no hand-written
    // read query would want.
    let held = rt.block_on(async {
        let db = store.projection_db();
        match (db.postgres(), db.sqlite()) {
            (Some(pg), _) => {
                let pool = pg.writer();
                let options = (*pool.connect_options())
                    .clone()
                    .options([("plan_cache_mode", "auto")]);
                let connection = sqlx::postgres::PgConnection::connect_with(&options)
                    .await
                    .unwrap();
                Held::Postgres(tokio::sync::Mutex::new(connection))
            }
            (_, Some(sqlite)) => {
                let reader = sqlite.reader();
                Held::Sqlite(tokio::sync::Mutex::new(reader.acquire().await.unwrap()))
            }
            _ => unreachable!(),
        }
    });
    let held = Arc::new(held);
    let sql: Arc<str> = raw_sql(matches!(*held, Held::Postgres(_))).into();
    let raw = || run_raw(held.clone(), sql.clone());
    // Every side warm (connections open, statements cached) before anything is timed,
    // so that criterion's warm-up samples, which the percentiles include, are too.
    rt.block_on(async {
        for _ in 0..200 {
            raw().await;
            client.post(&body).await;
            client.post(&with_variables).await;
        }
    });

    let [
        api_times,
        variables_times,
        schema_times,
        floor_times,
        sql_times,
    ] = std::array::from_fn(|_| Latencies::default());
    let mut g = c.benchmark_group(format!("{backend}/graphql_page_of_50_from_100k"));
    g.sample_size(30)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(8));
    g.bench_function("http_api", |b| {
        b.iter_custom(|iters| {
            timed!(
                rt,
                iters,
                api_times,
                assert!(client.post(&body).await.len() > 1000)
            )
        })
    });
    g.bench_function("http_api_variables", |b| {
        b.iter_custom(|iters| {
            timed!(
                rt,
                iters,
                variables_times,
                assert!(client.post(&with_variables).await.len() > 1000)
            )
        })
    });
    // The same query executed by the schema directly: no HTTP, no JSON.
    g.bench_function("schema_execute", |b| {
        b.iter_custom(|iters| {
            timed!(
                rt,
                iters,
                schema_times,
                assert!(schema.execute(QUERY).await.errors.is_empty())
            )
        })
    });
    // The floor: the same HTTP round trip and GraphQL execution with no read model.
    let floor = json_bytes(json!({ "query": "{ __typename }" }));
    g.bench_function("http_floor", |b| {
        b.iter_custom(|iters| {
            timed!(
                rt,
                iters,
                floor_times,
                assert!(client.post(&floor).await.len() > 10)
            )
        })
    });
    g.bench_function("raw_sql", |b| {
        b.iter_custom(|iters| timed!(rt, iters, sql_times, raw().await))
    });
    g.finish();
    schema_times.report(&format!("{backend} schema_execute"));
    floor_times.report(&format!("{backend} http_floor"));
    let (sql50, sql99) = sql_times.report(&format!("{backend} raw_sql"));
    for (label, times) in [
        ("http_api", &api_times),
        ("http_api_variables", &variables_times),
    ] {
        let (p50, p99) = times.report(&format!("{backend} {label}"));
        if !sql50.is_zero() && !p50.is_zero() {
            println!(
                "{backend} {label}: p50 ratio {:.2}, p99 ratio {:.2}",
                p50.as_secs_f64() / sql50.as_secs_f64(),
                p99.as_secs_f64() / sql99.as_secs_f64()
            );
        }
    }
}

fn sqlite(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = rt
        .block_on(SqliteStore::open(dir.path().join("bench.sqlite")))
        .unwrap();
    bench_backend(c, &rt, "sqlite", store);
}

fn postgres(c: &mut Criterion) {
    let Ok(url) = std::env::var("FACTUM_TEST_PG") else {
        eprintln!("FACTUM_TEST_PG is not set: skipping the PostgreSQL benchmark");
        return;
    };
    let rt = Runtime::new().unwrap();
    let schema = format!("bench_{}", uuid::Uuid::now_v7().simple());
    let store = rt
        .block_on(PostgresStore::connect_with(
            PostgresConfig::new(url).schema(&schema),
        ))
        .unwrap();
    bench_backend(c, &rt, "postgres", store.clone());
    let drop = format!("DROP SCHEMA {schema} CASCADE");
    rt.block_on(sqlx::query(AssertSqlSafe(drop)).execute(store.pool()))
        .unwrap();
}

criterion_group!(benches, sqlite, postgres);
criterion_main!(benches);
