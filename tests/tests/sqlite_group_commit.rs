//! SQLite group commit: appends that arrive while the writer is busy share one
//! transaction, each in a savepoint. These tests run real parallel appenders (tasks on a
//! multi-threaded runtime) against a file store and check that every caller gets the
//! outcome of its own append: a refused append or a taken unique value fails only its
//! caller and leaves no trace, the others are stored, and a caller that stops waiting
//! strands nobody queued behind it.

use std::collections::HashSet;
use std::time::Duration;

use factum::Uniqueness;
use factum::{
    EventData, EventId, EventStore, ExpectedVersion, Position, ReadAll, ReadStream, StoreError,
    StreamId,
};
use factum_tests::backends;
use factum_tests::conformance::{read, read_all};
use serde_json::json;

const TASKS: usize = 16;
const ROUNDS: usize = 30;

fn event(n: usize) -> EventData {
    EventData::new("Noted", json!({ "n": n }))
}

fn sid(id: &str) -> StreamId {
    StreamId::new(id).unwrap()
}

/// Every task appends to its own stream each round, and every third append of a task
/// expects a wrong version: those, and only those, are refused, and nothing of them is
/// stored; the others land at dense versions.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refused_appends_fail_alone_in_a_group() {
    let test = backends::sqlite_file("group_refused", Default::default())
        .await
        .unwrap();
    let store = test.store().clone();
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let store = store.clone();
            tokio::spawn(async move {
                let stream = sid(&format!("own-{task}"));
                let mut version = 0;
                let mut stored = Vec::new();
                for round in 0..ROUNDS {
                    let n = task * 1000 + round;
                    let wrong = round % 3 == 2;
                    let expected =
                        ExpectedVersion::Exact(if wrong { version + 7 } else { version });
                    match store.append(&stream, expected, vec![event(n)]).await {
                        Ok(done) => {
                            assert!(!wrong, "task {task} round {round}: a wrong version passed");
                            assert_eq!(done.version, version + 1);
                            version = done.version;
                            stored.push(n);
                        }
                        Err(StoreError::WrongExpectedVersion { .. }) => {
                            assert!(wrong, "task {task} round {round}: a right version refused");
                        }
                        Err(err) => panic!("task {task} round {round}: {err}"),
                    }
                }
                (stream, stored)
            })
        })
        .collect();
    for task in tasks {
        let (stream, stored) = task.await.unwrap();
        let events: Vec<_> = read(&store, &stream, ReadStream::forward()).await;
        let found: Vec<usize> = events
            .iter()
            .map(|e| e.payload.to_value()["n"].as_u64().unwrap() as usize)
            .collect();
        assert_eq!(
            found, stored,
            "{stream}: exactly the accepted appends, in order"
        );
        let versions: Vec<u64> = events.iter().map(|e| e.stream_version).collect();
        assert_eq!(versions, (1..=stored.len() as u64).collect::<Vec<_>>());
    }
}

/// All tasks claim values of one scope at once, each value wanted by two tasks: exactly
/// one of each pair wins, the loser gets `UniqueValueTaken` and its event is not stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_taken_value_fails_only_its_append() {
    let test = backends::sqlite_file("group_unique", Default::default())
        .await
        .unwrap();
    let store = test.store().clone();
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut won = Vec::new();
                for round in 0..ROUNDS {
                    let value = format!("v-{round}-{}", task / 2);
                    let stream = sid(&format!("claim-{task}-{round}"));
                    let claim = Uniqueness::new().claim("alias", &value);
                    match store
                        .append_unique(
                            &stream,
                            ExpectedVersion::NoStream,
                            vec![event(round)],
                            claim,
                        )
                        .await
                    {
                        Ok(_) => won.push((value, stream)),
                        Err(StoreError::UniqueValueTaken { .. }) => {}
                        Err(err) => panic!("task {task} round {round}: {err}"),
                    }
                }
                won
            })
        })
        .collect();
    let mut winners = HashSet::new();
    for task in tasks {
        for (value, stream) in task.await.unwrap() {
            assert!(winners.insert(value.clone()), "{value} won twice");
            let events: Vec<_> = read(&store, &stream, ReadStream::forward()).await;
            assert_eq!(events.len(), 1);
        }
    }
    assert_eq!(
        winners.len(),
        ROUNDS * TASKS / 2,
        "every value has a winner"
    );
    let all: Vec<_> = read_all(&store, ReadAll::from(Position::START)).await;
    assert_eq!(all.len(), winners.len(), "losers left no events");
}

/// Callers that stop waiting (their futures dropped at once, mid-append or while
/// queued) never stall the appends of the others, which all land.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn callers_that_stop_waiting_strand_nobody() {
    let test = backends::sqlite_file("group_cancel", Default::default())
        .await
        .unwrap();
    let store = test.store().clone();
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut landed = 0usize;
                for round in 0..ROUNDS {
                    let stream = sid(&format!("s-{task}"));
                    let append = store.append(&stream, ExpectedVersion::Any, vec![event(round)]);
                    if (task + round) % 4 == 0 {
                        // Gives up almost at once: the append may or may not land.
                        let _ = tokio::time::timeout(Duration::from_micros(50), append).await;
                    } else {
                        tokio::time::timeout(Duration::from_secs(30), append)
                            .await
                            .expect("an append that waits is answered")
                            .unwrap();
                        landed += 1;
                    }
                }
                landed
            })
        })
        .collect();
    let mut waited = 0;
    for task in tasks {
        waited += task.await.unwrap();
    }
    let all: Vec<_> = read_all(&store, ReadAll::from(Position::START)).await;
    assert!(
        all.len() >= waited,
        "{} stored, {waited} acknowledged",
        all.len()
    );
    assert!(all.len() <= TASKS * ROUNDS);
}

/// Appends refused after they wrote (a unique value claimed and a first chunk of 256
/// events inserted, then an event id found taken in another stream) roll back to their
/// savepoints: their claims stay free, none of their events is stored, and the appends
/// sharing their groups land.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refusal_after_writes_leaves_no_trace() {
    let test = backends::sqlite_file("group_partial", Default::default())
        .await
        .unwrap();
    let store = test.store().clone();
    let taken = EventId::new();
    store
        .append(
            &sid("owner-of-the-id"),
            ExpectedVersion::NoStream,
            vec![event(0).with_id(taken)],
        )
        .await
        .unwrap();
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let store = store.clone();
            tokio::spawn(async move {
                for round in 0..10 {
                    let stream = sid(&format!("s-{task}-{round}"));
                    let claim = Uniqueness::new().claim("alias", format!("a-{task}-{round}"));
                    let refused = task % 2 == 0;
                    let mut events: Vec<_> = (0..300).map(event).collect();
                    if refused {
                        // Past the first chunk of 256 rows, which is written before this.
                        events[280] = event(280).with_id(taken);
                    }
                    let outcome = store
                        .append_unique(&stream, ExpectedVersion::NoStream, events, claim)
                        .await;
                    match (refused, outcome) {
                        (true, Err(StoreError::EventIdConflict { .. })) => {}
                        (false, Ok(done)) => assert_eq!(done.version, 300),
                        (refused, other) => {
                            panic!("task {task} round {round} (refused: {refused}): {other:?}")
                        }
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let all: Vec<_> = read_all(&store, ReadAll::from(Position::START)).await;
    assert_eq!(
        all.len(),
        1 + (TASKS / 2) * 10 * 300,
        "refused appends stored nothing"
    );
    // Every refused append's claim is free: claiming it now succeeds.
    for task in (0..TASKS).step_by(2) {
        for round in 0..10 {
            let claim = Uniqueness::new().claim("alias", format!("a-{task}-{round}"));
            store
                .append_unique(
                    &sid(&format!("again-{task}-{round}")),
                    ExpectedVersion::NoStream,
                    vec![event(0)],
                    claim,
                )
                .await
                .expect("a refused append's claim left no trace");
        }
    }
}

/// The appends queued behind a caller whose runtime shuts down (the drain task it hands
/// them to is dropped before it runs) are answered, and the store keeps taking appends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runtime_shutting_down_strands_nobody() {
    let test = backends::sqlite_file("group_shutdown", Default::default())
        .await
        .unwrap();
    let store = test.store().clone();
    let big: Vec<_> = (0..5_000)
        .map(|i| EventData::new("Big", json!({ "i": i, "pad": "x".repeat(2_000) })))
        .collect();
    let leader = {
        let store = store.clone();
        std::thread::spawn(move || {
            // A runtime of its own, which ends while its append (the leader) is running:
            // the leader's hand-off spawns the drain onto this runtime, which then drops it.
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let stream = sid("big");
                let append = store.append(&stream, ExpectedVersion::Any, big);
                let _ = tokio::time::timeout(Duration::from_millis(150), append).await;
            });
        })
    };
    // Queues behind the leader.
    tokio::time::sleep(Duration::from_millis(30)).await;
    let queued = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .append(&sid("queued"), ExpectedVersion::Any, vec![event(1)])
                .await
        })
    };
    leader.join().unwrap();
    let answered = tokio::time::timeout(Duration::from_secs(10), queued)
        .await
        .expect("the queued append is answered")
        .unwrap();
    if let Err(err) = &answered {
        assert!(matches!(err, StoreError::Background(_)), "{err}");
    }
    tokio::time::timeout(
        Duration::from_secs(10),
        store.append(&sid("later"), ExpectedVersion::Any, vec![event(2)]),
    )
    .await
    .expect("the store still takes appends")
    .unwrap();
}
