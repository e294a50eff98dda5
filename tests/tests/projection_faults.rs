//! Fault injection: while a projection catches up and then follows live appends, its
//! connections to the read-model database are terminated (`pg_terminate_backend`) again
//! and again, in the middle of batches. Nothing may be parked, lost or applied twice, and
//! the projection must catch up once the faults stop. Run with the read models in the
//! store's own database (its event reads are cut too) and in a second database.

use std::time::Duration;

use factum::projection::{
    ProjectionDb, ProjectionRunner, ProjectionStore, Projections, RunnerOptions, WithReadModels,
};
use factum::store::postgres::{PostgresConfig, PostgresStore};
use factum::{EventStore, Position};
use factum_tests::backends::{self, ReadModelsApart};
use factum_tests::projections::{Balances, assert_applied_exactly_once, fill};

const EVENTS: usize = 6_000;
/// Rounds of terminations, 10 to 40 ms apart.
const ROUNDS: usize = 40;

fn options() -> RunnerOptions {
    RunnerOptions::default()
        .batch_size(50)
        .max_batch_size(200)
        .poll_interval(Duration::from_millis(50))
        .lease(Duration::from_secs(2), Duration::from_millis(20))
        .error_pause(Duration::from_millis(10))
}

/// `url` with an `application_name` the killer can find its victims by.
fn named(url: &str, name: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}application_name={name}")
}

/// Runs [`Balances`] on `victim` while every connection named `name` is terminated,
/// at least `ROUNDS` times, and half the events are appended live through `writer`; then checks
/// the outcome through `checker` (the same databases, connections never cut).
async fn terminate_while_projecting<V, W, C>(victim: V, writer: &W, checker: &C, name: &str)
where
    V: ProjectionStore + Send + Sync,
    W: EventStore + Clone + Send + Sync + 'static,
    C: ProjectionStore + Send + Sync,
{
    fill(writer, "account", 20, EVENTS / 2).await;
    let running = ProjectionRunner::new(victim)
        .options(options())
        .with_projection(Balances)
        .start();

    let url = backends::pg_url("projection_faults").unwrap();
    let admin = sqlx::PgPool::connect(&url).await.unwrap();
    let live = {
        let writer = writer.clone();
        tokio::spawn(async move { fill(&writer, "live", 20, EVENTS / 2).await })
    };
    let mut terminated = 0i64;
    let mut pause = 10u64;
    // At least ROUNDS rounds, and more (for up to a minute) until half as many
    // connections were cut: on a loaded machine the runner may take longer to reconnect
    // than a round lasts, and a round that finds no connection proves nothing.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut round = 0;
    while round < ROUNDS || (terminated < ROUNDS as i64 / 2 && std::time::Instant::now() < deadline)
    {
        round += 1;
        pause = (pause * 7 + 3) % 31 + 10;
        tokio::time::sleep(Duration::from_millis(pause)).await;
        let cut: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = $1 AND pid <> pg_backend_pid()) AS t",
        )
        .bind(name)
        .fetch_one(&admin)
        .await
        .unwrap();
        terminated += cut;
    }
    live.await.unwrap();
    assert!(
        terminated >= ROUNDS as i64 / 2,
        "only {terminated} connections were terminated; the test proved little"
    );
    let head = writer.head_position().await.unwrap();
    let reached = Projections::new(checker)
        .wait_for("balances", head, Duration::from_secs(120))
        .await;
    running.stop().await.unwrap();
    let reached = reached.expect("the projection catches up after the faults");
    assert!(reached >= head && head > Position::START);
    eprintln!(
        "{terminated} connections terminated; caught up at {}",
        reached.0
    );
    assert_applied_exactly_once(checker, EVENTS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminated_connections_in_the_stores_own_database() {
    let Some(store) = backends::postgres("projection_faults", Default::default()).await else {
        return;
    };
    let url = backends::pg_url("projection_faults").unwrap();
    let name = backends::unique_schema("faults");
    let victim =
        PostgresStore::connect_with(PostgresConfig::new(named(&url, &name)).schema(store.schema()))
            .await
            .unwrap();
    terminate_while_projecting(victim, store.store(), store.store(), &name).await;
    store.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminated_connections_in_a_second_database() {
    let Some(store) = backends::postgres("projection_faults", Default::default()).await else {
        return;
    };
    let views = ReadModelsApart::postgres("projection_faults")
        .await
        .unwrap();
    let ProjectionDb::Postgres { schema, .. } = &views.db else {
        unreachable!("PostgreSQL read models")
    };
    let url = backends::second_pg_url("projection_faults").await.unwrap();
    let name = backends::unique_schema("faults");
    let cut = ProjectionDb::connect_postgres(&named(&url, &name), schema)
        .await
        .unwrap();
    let victim = WithReadModels::new(store.store().clone(), cut);
    let checker = WithReadModels::new(store.store().clone(), views.db.clone());
    terminate_while_projecting(victim, store.store(), &checker, &name).await;
    views.cleanup().await;
    store.cleanup().await;
}
