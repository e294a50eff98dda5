//! Subscriptions on every backend: filtered batches whose checkpoint passes the events
//! they skip, resuming from a checkpoint, and wake-ups on append (the poll interval is
//! set far beyond the test's patience, so only the append notification can wake them).

use std::time::Duration;

use factum::projection::subscription::Subscription;
use factum::{EventData, EventStore, ExpectedVersion, Position, StreamId};
use factum_tests::backends::{self, TestStore};
use futures_util::StreamExt;

fn event(kind: &str) -> EventData {
    EventData::new(kind, serde_json::json!({ "n": 1 }))
}

async fn append<S: EventStore>(store: &S, stream: &str, kinds: &[&str]) -> Position {
    let stream = StreamId::new(stream).unwrap();
    let done = store
        .append(
            &stream,
            ExpectedVersion::Any,
            kinds.iter().map(|k| event(k)).collect(),
        )
        .await
        .unwrap();
    done.last_position()
}

async fn filtered_batches_checkpoint_past_skipped_events<S: EventStore + Clone>(store: &S) {
    append(store, "order-1", &["Placed"]).await;
    append(store, "order-2", &["Noise", "Noise"]).await;
    let wanted = append(store, "order-3", &["Placed"]).await;
    let last = append(store, "order-4", &["Noise"]).await;
    append(store, "invoice-1", &["Placed"]).await;

    let mut sub = Subscription::after(store.clone(), Position::START)
        .event_types(["Placed"])
        .categories(["order"])
        .batch_size(10);
    let batch = sub.next_batch().await.unwrap();
    let types: Vec<&str> = batch.events.iter().map(|e| e.stream_id.as_str()).collect();
    assert_eq!(types, ["order-1", "order-3"]);
    assert_eq!(batch.events[1].position, wanted);
    // On PostgreSQL the checkpoint stops below any transaction still open in the
    // cluster (other tests run beside this one); once those end it passes the skipped
    // events after the last match.
    let mut checkpoint = batch.checkpoint;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while checkpoint <= last && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let more = sub.poll_batch().await.unwrap();
        assert!(more.events.is_empty(), "nothing else matches");
        checkpoint = more.checkpoint;
    }
    assert!(
        checkpoint > last,
        "the checkpoint passes the skipped events after the last match"
    );

    // Resuming from a checkpoint neither repeats nor misses.
    let next = append(store, "order-5", &["Placed"]).await;
    let mut resumed = Subscription::after(store.clone(), checkpoint)
        .event_types(["Placed"])
        .categories(["order"]);
    let again = resumed.next_batch().await.unwrap();
    assert_eq!(again.events.len(), 1);
    assert_eq!(again.events[0].position, next);

    // Small batches: the checkpoint is the last event handed out until the end.
    let mut small = Subscription::after(store.clone(), Position::START).batch_size(2);
    let first = small.next_batch().await.unwrap();
    assert_eq!(first.events.len(), 2);
    assert_eq!(first.checkpoint, first.events[1].position);
}

async fn appends_wake_a_waiting_subscription<S: EventStore + Clone + 'static>(store: &S) {
    append(store, "order-1", &["Placed"]).await;
    let sub = Subscription::after(store.clone(), Position::START)
        .poll_interval(Duration::from_secs(3_600));
    let mut events = Box::pin(sub.into_stream());
    let first = events.next().await.unwrap().unwrap();
    assert_eq!(first.stream_id.as_str(), "order-1");
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            append(&store, "order-2", &["Placed"]).await
        })
    };
    // With an hour between polls, only the append's notification can deliver this.
    let second = tokio::time::timeout(Duration::from_secs(20), events.next())
        .await
        .expect("woken by the append, not by polling")
        .unwrap()
        .unwrap();
    assert_eq!(second.position, writer.await.unwrap());
}

macro_rules! on_backends {
    ($($test:ident),* $(,)?) => {
        mod memory {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test]
                async fn $test() {
                    let store = factum::MemoryStore::new();
                    super::$test(&store).await;
                }
            )*
        }
        mod sqlite {
            use super::*;
            $(
                #[tokio::test]
                async fn $test() {
                    let store: TestStore<_> = backends::sqlite_file(stringify!($test), Default::default())
                        .await
                        .unwrap();
                    super::$test(store.store()).await;
                }
            )*
        }
        mod postgres {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let Some(store) = backends::postgres(stringify!($test), Default::default()).await else {
                        return;
                    };
                    super::$test(store.store()).await;
                    store.cleanup().await;
                }
            )*
        }
    };
}

on_backends!(
    filtered_batches_checkpoint_past_skipped_events,
    appends_wake_a_waiting_subscription,
);
