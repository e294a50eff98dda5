//! The crash test's child process: runs the `balances` projection until it is killed.
//!
//! ```text
//! projector sqlite <path>
//! projector postgres <url> <schema>
//! ```

use std::time::Duration;

use factum::projection::{ProjectionRunner, RunnerOptions};
use factum::store::postgres::{PostgresConfig, PostgresStore};
use factum::store::sqlite::SqliteStore;
use factum_tests::projections::Balances;

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

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["sqlite", path] => {
            let store = SqliteStore::open(path).await.expect("open SQLite");
            let _running = ProjectionRunner::new(store)
                .options(options())
                .with_projection(Balances)
                .start();
            std::future::pending::<()>().await;
        }
        ["postgres", url, schema] => {
            let store = PostgresStore::connect_with(PostgresConfig::new(*url).schema(*schema))
                .await
                .expect("connect to PostgreSQL");
            let _running = ProjectionRunner::new(store)
                .options(options())
                .with_projection(Balances)
                .start();
            std::future::pending::<()>().await;
        }
        _ => {
            eprintln!("usage: projector sqlite <path> | projector postgres <url> <schema>");
            std::process::exit(2);
        }
    }
}
