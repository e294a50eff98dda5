//! The crash test's child process: runs the `balances` projection until it is killed.
//!
//! ```text
//! projector sqlite <path> [options]
//! projector postgres <url> <schema> [options]
//!
//! options:
//!   --read-models postgres <url> <schema>   read models in that database instead
//!   --block-after <n> <marker>              after <n> events, create <marker> and block
//!                                           forever inside the batch's transaction
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use factum::SqliteStore;
use factum::projection::{
    HandlerError, Projection, ProjectionDb, ProjectionRunner, ProjectionStore, ProjectionTx,
    RunnerOptions, WithReadModels,
};
use factum::{PostgresConfig, PostgresStore};
use factum::{ReadModelDescriptor, RecordedEvent};
use factum_tests::projections::Balances;
use futures_util::future::BoxFuture;

fn options() -> RunnerOptions {
    // Small batches (growing only to 200 while catching up), so that the run takes many
    // commits and the kills land between and inside them.
    RunnerOptions::default()
        .batch_size(100)
        .max_batch_size(200)
        .poll_interval(Duration::from_millis(50))
        .lease(Duration::from_secs(1), Duration::from_millis(50))
        .error_pause(Duration::from_millis(100))
}

/// [`Balances`], which blocks forever inside a batch's transaction once it has handled
/// `after` events, after creating `marker` to say so.
struct Blocking {
    inner: Balances,
    handled: Arc<AtomicU64>,
    after: u64,
    marker: PathBuf,
}

impl Projection for Blocking {
    const NAME: &'static str = Balances::NAME;
    const VERSION: u32 = Balances::VERSION;
    const EVENT_TYPES: &'static [&'static str] = Balances::EVENT_TYPES;
    const CATEGORIES: &'static [&'static str] = Balances::CATEGORIES;

    fn read_models() -> Vec<&'static ReadModelDescriptor> {
        Balances::read_models()
    }

    fn handle<'a>(
        &'a self,
        tx: &'a mut ProjectionTx,
        event: &'a RecordedEvent,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            if self.handled.fetch_add(1, Ordering::SeqCst) == self.after {
                std::fs::write(&self.marker, b"blocked").expect("write the marker");
                std::future::pending::<()>().await;
            }
            self.inner.handle(tx, event).await
        })
    }
}

async fn project<S: ProjectionStore + Send + Sync>(store: S, block: Option<(u64, PathBuf)>) {
    let runner = ProjectionRunner::new(store).options(options());
    let _running = match block {
        Some((after, marker)) => runner
            .with_projection(Blocking {
                inner: Balances,
                handled: Arc::default(),
                after,
                marker,
            })
            .start(),
        None => runner.with_projection(Balances).start(),
    };
    std::future::pending::<()>().await;
}

async fn with_options<S: ProjectionStore + Send + Sync>(store: S, options: &[&str]) {
    let mut read_models = None;
    let mut block = None;
    let mut rest = options;
    loop {
        match rest {
            [] => break,
            ["--read-models", "postgres", url, schema, tail @ ..] => {
                let db = ProjectionDb::connect_postgres(url, schema)
                    .await
                    .expect("connect to the read-model database");
                read_models = Some(db);
                rest = tail;
            }
            ["--block-after", n, marker, tail @ ..] => {
                block = Some((n.parse().expect("a count"), PathBuf::from(marker)));
                rest = tail;
            }
            other => usage(&format!("unknown options {other:?}")),
        }
    }
    match read_models {
        Some(db) => project(WithReadModels::new(store, db), block).await,
        None => project(store, block).await,
    }
}

fn usage(problem: &str) -> ! {
    eprintln!(
        "{problem}\nusage: projector sqlite <path> [options] | projector postgres <url> <schema> [options]"
    );
    std::process::exit(2);
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["sqlite", path, options @ ..] => {
            let store = SqliteStore::open(path).await.expect("open SQLite");
            with_options(store, options).await;
        }
        ["postgres", url, schema, options @ ..] => {
            let store = PostgresStore::connect_with(PostgresConfig::new(*url).schema(*schema))
                .await
                .expect("connect to PostgreSQL");
            with_options(store, options).await;
        }
        _ => usage("no backend named"),
    }
}
