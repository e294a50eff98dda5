//! The event-store conformance suite: every backend must pass every test here.
//!
//! Each test takes a fresh, empty store. The tests assert behaviour a user relies on,
//! never a backend's internals, so a new backend is correct when this suite passes.

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;
use std::sync::Arc;

use factum::{
    ActualVersion, AppendResult, EventData, EventId, EventStore, ExpectedVersion, IdConflictReason,
    Metadata, Position, ReadAll, ReadStream, RecordedEvent, StoreError, StoreLimits,
    StoreTransaction, StreamId, Uniqueness,
};

use crate::backends::CallerRows;
use futures_util::TryStreamExt;
use serde_json::json;

/// The limits the suite runs with: the defaults (1 MiB events).
pub fn limits() -> StoreLimits {
    StoreLimits::default()
}

fn sid(id: &str) -> StreamId {
    StreamId::new(id).expect("valid stream id")
}

fn ev(event_type: &str, n: i64) -> EventData {
    EventData::new(event_type, json!({ "n": n }))
}

fn evs(n: usize) -> Vec<EventData> {
    (0..n).map(|i| ev("Counted", i as i64)).collect()
}

/// The events of `stream` that `options` selects.
pub async fn read<S: EventStore>(
    store: &S,
    stream: &StreamId,
    options: ReadStream,
) -> Vec<RecordedEvent> {
    store
        .read_stream(stream, options)
        .try_collect()
        .await
        .expect("read stream")
}

/// Every event `options` selects from the global log.
pub async fn read_all<S: EventStore>(store: &S, options: ReadAll) -> Vec<RecordedEvent> {
    store
        .read_all(options)
        .try_collect()
        .await
        .expect("read all")
}

async fn try_read<S: EventStore>(
    store: &S,
    stream: &StreamId,
    options: ReadStream,
) -> Result<Vec<RecordedEvent>, StoreError> {
    store.read_stream(stream, options).try_collect().await
}

fn numbers(events: &[RecordedEvent]) -> Vec<i64> {
    events
        .iter()
        .map(|e| e.payload.to_value()["n"].as_i64().expect("payload has n"))
        .collect()
}

fn versions(events: &[RecordedEvent]) -> Vec<u64> {
    events.iter().map(|e| e.stream_version).collect()
}

#[track_caller]
fn assert_conflict(
    result: Result<AppendResult, StoreError>,
    expected: ExpectedVersion,
    actual: ActualVersion,
) {
    match result {
        Err(StoreError::WrongExpectedVersion {
            expected: e,
            actual: a,
            ..
        }) => {
            assert_eq!(e, expected);
            assert_eq!(a, actual);
        }
        other => panic!("expected a version conflict, got {other:?}"),
    }
}

/// `Any` appends to new and existing streams.
pub async fn expected_version_any<S: EventStore>(store: &S) {
    let s = sid("any-1");
    let first = store
        .append(&s, ExpectedVersion::Any, evs(2))
        .await
        .unwrap();
    assert_eq!(first.version, 2);
    assert_eq!(first.positions.len(), 2);
    assert!(!first.deduplicated);
    let second = store
        .append(&s, ExpectedVersion::Any, evs(1))
        .await
        .unwrap();
    assert_eq!(second.version, 3);
    assert!(second.positions[0] > first.positions[1]);
    assert_eq!(
        versions(&read(store, &s, ReadStream::forward()).await),
        [1, 2, 3]
    );
}

/// `NoStream` succeeds once, then conflicts naming the actual version.
pub async fn expected_version_no_stream<S: EventStore>(store: &S) {
    let s = sid("new-1");
    let done = store
        .append(&s, ExpectedVersion::NoStream, evs(3))
        .await
        .unwrap();
    assert_eq!(done.version, 3);
    assert_conflict(
        store.append(&s, ExpectedVersion::NoStream, evs(1)).await,
        ExpectedVersion::NoStream,
        ActualVersion::Version(3),
    );
    // `Exact(0)` means the same thing.
    assert_conflict(
        store.append(&s, ExpectedVersion::Exact(0), evs(1)).await,
        ExpectedVersion::Exact(0),
        ActualVersion::Version(3),
    );
    let other = sid("new-2");
    assert_eq!(
        store
            .append(&other, ExpectedVersion::Exact(0), evs(1))
            .await
            .unwrap()
            .version,
        1
    );
    assert_eq!(read(store, &s, ReadStream::forward()).await.len(), 3);
}

/// `StreamExists` conflicts on a missing stream and succeeds on an existing one.
pub async fn expected_version_stream_exists<S: EventStore>(store: &S) {
    let s = sid("exists-1");
    assert_conflict(
        store
            .append(&s, ExpectedVersion::StreamExists, evs(1))
            .await,
        ExpectedVersion::StreamExists,
        ActualVersion::NoStream,
    );
    assert!(store.stream_info(&s).await.unwrap().is_none());
    store
        .append(&s, ExpectedVersion::NoStream, evs(1))
        .await
        .unwrap();
    let done = store
        .append(&s, ExpectedVersion::StreamExists, evs(2))
        .await
        .unwrap();
    assert_eq!(done.version, 3);
}

/// `Exact(n)` succeeds only at version n; the conflict names both versions.
pub async fn expected_version_exact<S: EventStore>(store: &S) {
    let s = sid("exact-1");
    assert_conflict(
        store.append(&s, ExpectedVersion::Exact(1), evs(1)).await,
        ExpectedVersion::Exact(1),
        ActualVersion::NoStream,
    );
    store
        .append(&s, ExpectedVersion::Exact(0), evs(2))
        .await
        .unwrap();
    assert_conflict(
        store.append(&s, ExpectedVersion::Exact(1), evs(1)).await,
        ExpectedVersion::Exact(1),
        ActualVersion::Version(2),
    );
    assert_conflict(
        store.append(&s, ExpectedVersion::Exact(3), evs(1)).await,
        ExpectedVersion::Exact(3),
        ActualVersion::Version(2),
    );
    let done = store
        .append(&s, ExpectedVersion::Exact(2), evs(2))
        .await
        .unwrap();
    assert_eq!(done.version, 4);
    let err = store
        .append(&s, ExpectedVersion::Exact(2), evs(1))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("expected version 2") && err.contains("version 4"),
        "{err}"
    );
    assert_eq!(
        numbers(&read(store, &s, ReadStream::forward()).await),
        [0, 1, 0, 1]
    );
}

/// Two tasks append with the same `Exact(v)`: exactly one wins, every round.
pub async fn racing_exact_appends_have_one_winner<S: EventStore + 'static>(store: &S) {
    let s = sid("race-1");
    let rounds = 40u64;
    for round in 0..rounds {
        let (a, b) = tokio::join!(
            store.append(
                &s,
                ExpectedVersion::Exact(round),
                vec![ev("A", round as i64)]
            ),
            store.append(
                &s,
                ExpectedVersion::Exact(round),
                vec![ev("B", round as i64)]
            ),
        );
        let wins = [a.is_ok(), b.is_ok()].iter().filter(|w| **w).count();
        assert_eq!(wins, 1, "round {round}: {a:?} / {b:?}");
        let loser = if a.is_ok() { b } else { a };
        assert_conflict(
            loser,
            ExpectedVersion::Exact(round),
            ActualVersion::Version(round + 1),
        );
    }
    let history = read(store, &s, ReadStream::forward()).await;
    assert_eq!(versions(&history), (1..=rounds).collect::<Vec<_>>());
    assert_eq!(numbers(&history), (0..rounds as i64).collect::<Vec<_>>());
}

/// Re-sending the same events (same ids, same place) succeeds and writes nothing twice.
pub async fn idempotent_reappend<S: EventStore>(store: &S) {
    let s = sid("retry-1");
    let batch = evs(3);
    let first = store
        .append(&s, ExpectedVersion::NoStream, batch.clone())
        .await
        .unwrap();
    // A retry with the original expectation: the caller never saw the first result.
    let again = store
        .append(&s, ExpectedVersion::NoStream, batch.clone())
        .await
        .unwrap();
    assert!(again.deduplicated);
    assert_eq!(again.version, first.version);
    assert_eq!(again.positions, first.positions);
    // With `Any` too, and after the stream moved on.
    store
        .append(&s, ExpectedVersion::Any, evs(1))
        .await
        .unwrap();
    let late = store
        .append(&s, ExpectedVersion::Any, batch.clone())
        .await
        .unwrap();
    assert!(late.deduplicated);
    assert_eq!(late.positions, first.positions);
    assert_eq!(read(store, &s, ReadStream::forward()).await.len(), 4);
    assert_eq!(
        read_all(store, ReadAll::from(Position::START)).await.len(),
        4
    );
    // A stored event resent alone is still stored, in place: nothing is written.
    let single = store
        .append(&s, ExpectedVersion::Any, vec![batch[1].clone()])
        .await
        .unwrap();
    assert!(single.deduplicated);
    assert_eq!(single.positions, [first.positions[1]]);
    assert_eq!(single.version, 2);
    // Stored ids followed by new ones: not a retry of anything, refused whole.
    let extended = vec![
        batch[0].clone(),
        batch[1].clone(),
        batch[2].clone(),
        ev("New", 9),
    ];
    let err = store.append(&s, ExpectedVersion::Any, extended).await;
    assert!(
        matches!(err, Err(StoreError::EventIdConflict { .. })),
        "{err:?}"
    );
    // The same ids in another order: refused.
    let reordered = vec![batch[1].clone(), batch[0].clone(), batch[2].clone()];
    let err = store.append(&s, ExpectedVersion::Any, reordered).await;
    assert!(
        matches!(err, Err(StoreError::EventIdConflict { .. })),
        "{err:?}"
    );
    assert_eq!(read(store, &s, ReadStream::forward()).await.len(), 4);
}

#[track_caller]
fn assert_id_conflict(result: Result<AppendResult, StoreError>, expected: IdConflictReason) {
    match result {
        Err(StoreError::EventIdConflict { reason, .. }) => assert_eq!(reason, expected),
        other => panic!("expected an id conflict ({expected:?}), got {other:?}"),
    }
}

/// A retry whose ids are stored but whose events differ (payload, type, schema version)
/// is refused as an id conflict, never reported as deduplicated; nothing is written.
pub async fn retry_with_changed_events_is_refused<S: EventStore>(store: &S) {
    let s = sid("changed-1");
    let batch = evs(3);
    store
        .append(&s, ExpectedVersion::NoStream, batch.clone())
        .await
        .unwrap();
    let with = |i: usize, changed: EventData| {
        let mut b = batch.clone();
        b[i] = changed.with_id(batch[i].id());
        b
    };
    // The same ids, one payload changed: the caller is not retrying the same append.
    let payload = with(1, ev("Counted", 99));
    for expected in [ExpectedVersion::NoStream, ExpectedVersion::Any] {
        assert_id_conflict(
            store.append(&s, expected, payload.clone()).await,
            IdConflictReason::DifferentPayload,
        );
    }
    // The same JSON value written differently is a different text, so a different payload.
    let spaced = with(2, EventData::from_json_bytes("Counted", r#"{ "n": 2 }"#));
    assert_id_conflict(
        store.append(&s, ExpectedVersion::Any, spaced).await,
        IdConflictReason::DifferentPayload,
    );
    let renamed = with(0, ev("Renamed", 0));
    assert_id_conflict(
        store.append(&s, ExpectedVersion::NoStream, renamed).await,
        IdConflictReason::DifferentType,
    );
    let upgraded = with(0, ev("Counted", 0).with_schema_version(2));
    assert_id_conflict(
        store.append(&s, ExpectedVersion::Any, upgraded).await,
        IdConflictReason::DifferentSchemaVersion,
    );
    let stored = read(store, &s, ReadStream::forward()).await;
    assert_eq!(numbers(&stored), [0, 1, 2]);
    assert!(stored.iter().all(|e| e.event_type == "Counted"));
    // The unchanged batch is still recognised.
    let again = store
        .append(&s, ExpectedVersion::NoStream, batch)
        .await
        .unwrap();
    assert!(again.deduplicated);
}

/// The exact retry of a 100,000-event batch (the most one append may carry) is
/// recognised, with the original versions and positions. The check is linear in the
/// batch; a quadratic one would take minutes here.
pub async fn exact_retry_of_a_full_batch_is_recognised<S: EventStore>(store: &S) {
    const FULL_BATCH: usize = 100_000;
    let s = sid("bulk-1");
    let batch: Vec<EventData> = (0..FULL_BATCH).map(|i| ev("Bulk", i as i64)).collect();
    let first = store
        .append(&s, ExpectedVersion::NoStream, batch.clone())
        .await
        .unwrap();
    assert_eq!(first.version, FULL_BATCH as u64);
    let again = store
        .append(&s, ExpectedVersion::NoStream, batch)
        .await
        .unwrap();
    assert!(again.deduplicated);
    assert_eq!(again.version, first.version);
    assert_eq!(again.positions, first.positions);
    assert_eq!(
        store.stream_info(&s).await.unwrap().unwrap().version,
        FULL_BATCH as u64
    );
}

/// An id stored in one stream cannot be appended to another.
pub async fn reused_ids_elsewhere_are_refused<S: EventStore>(store: &S) {
    let a = sid("a-1");
    let b = sid("b-1");
    let event = ev("X", 1);
    store
        .append(&a, ExpectedVersion::Any, vec![event.clone()])
        .await
        .unwrap();
    match store
        .append(&b, ExpectedVersion::Any, vec![event.clone()])
        .await
    {
        Err(StoreError::EventIdConflict {
            event_id,
            existing_stream,
            existing_version,
            reason,
        }) => {
            assert_eq!(event_id, event.id());
            assert_eq!(existing_stream, a);
            assert_eq!(existing_version, 1);
            assert_eq!(reason, IdConflictReason::OtherStream);
        }
        other => panic!("expected an id conflict, got {other:?}"),
    }
    assert!(store.stream_info(&b).await.unwrap().is_none());
}

/// Forward reads from any version, with a limit, page through the whole stream.
pub async fn read_forward_with_paging<S: EventStore>(store: &S) {
    let s = sid("page-1");
    for chunk in 0..5 {
        let batch = (0..10).map(|i| ev("Counted", chunk * 10 + i)).collect();
        store.append(&s, ExpectedVersion::Any, batch).await.unwrap();
    }
    let all = read(store, &s, ReadStream::forward()).await;
    assert_eq!(numbers(&all), (0..50).collect::<Vec<_>>());
    assert_eq!(versions(&all), (1..=50).collect::<Vec<_>>());
    assert!(all.windows(2).all(|w| w[0].position < w[1].position));

    let mut paged = Vec::new();
    let mut from = 1;
    loop {
        let page = read(store, &s, ReadStream::forward().from(from).limit(7)).await;
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 7);
        from = page.last().unwrap().stream_version + 1;
        paged.extend(page);
    }
    assert_eq!(paged, all);
    assert_eq!(
        versions(&read(store, &s, ReadStream::forward().from(48)).await),
        [48, 49, 50]
    );
    assert!(
        read(store, &s, ReadStream::forward().from(51))
            .await
            .is_empty()
    );
    assert!(
        read(store, &s, ReadStream::forward().limit(0))
            .await
            .is_empty()
    );
}

/// Backward reads from the end or from a version, with a limit.
pub async fn read_backward_with_paging<S: EventStore>(store: &S) {
    let s = sid("back-1");
    store
        .append(&s, ExpectedVersion::NoStream, evs(30))
        .await
        .unwrap();
    let all = read(store, &s, ReadStream::backward()).await;
    assert_eq!(versions(&all), (1..=30).rev().collect::<Vec<_>>());
    assert_eq!(
        versions(&read(store, &s, ReadStream::backward().limit(3)).await),
        [30, 29, 28]
    );
    assert_eq!(
        versions(&read(store, &s, ReadStream::backward().from(5).limit(10)).await),
        [5, 4, 3, 2, 1]
    );
    let mut paged = Vec::new();
    let mut from = u64::MAX;
    loop {
        let page = read(store, &s, ReadStream::backward().from(from).limit(4)).await;
        let Some(last) = page.last() else { break };
        from = last.stream_version - 1;
        paged.extend(page);
        if from == 0 {
            break;
        }
    }
    assert_eq!(paged, all);
}

/// A stream without events reads as empty, in both directions.
pub async fn read_missing_stream_is_empty<S: EventStore>(store: &S) {
    let s = sid("nobody-1");
    assert!(read(store, &s, ReadStream::forward()).await.is_empty());
    assert!(read(store, &s, ReadStream::backward()).await.is_empty());
    assert!(store.stream_info(&s).await.unwrap().is_none());
}

/// The global log holds every event once, in position order, and filters by type and
/// category.
pub async fn read_all_in_order_with_filters<S: EventStore>(store: &S) {
    assert_eq!(store.head_position().await.unwrap(), Position::START);
    assert!(
        read_all(store, ReadAll::from(Position::START))
            .await
            .is_empty()
    );
    let mut appended = Vec::new();
    for i in 0..12i64 {
        let stream = sid(&format!(
            "{}-{}",
            ["account", "order", "user"][i as usize % 3],
            i % 4
        ));
        let kind = ["Opened", "Deposited"][i as usize % 2];
        let done = store
            .append(
                &stream,
                ExpectedVersion::Any,
                vec![ev(kind, i), ev("Noted", 100 + i)],
            )
            .await
            .unwrap();
        appended.extend(done.positions);
    }
    let all = read_all(store, ReadAll::from(Position::START)).await;
    assert_eq!(all.len(), 24);
    assert_eq!(all.iter().map(|e| e.position).collect::<Vec<_>>(), appended);
    assert!(all.windows(2).all(|w| w[0].position < w[1].position));
    assert_eq!(
        store.head_position().await.unwrap(),
        *appended.last().unwrap()
    );
    // Resuming after the start (a fresh checkpoint's `next()`) misses nothing.
    let resumed = read_all(store, ReadAll::from(Position::START.next())).await;
    assert_eq!(resumed.len(), 24);

    let deposits = read_all(
        store,
        ReadAll::from(Position::START).event_types(["Deposited"]),
    )
    .await;
    assert_eq!(numbers(&deposits), [1, 3, 5, 7, 9, 11]);
    let orders = read_all(store, ReadAll::from(Position::START).categories(["order"])).await;
    assert_eq!(orders.len(), 8);
    assert!(orders.iter().all(|e| e.category() == "order"));
    let both = read_all(
        store,
        ReadAll::from(Position::START)
            .categories(["order", "user"])
            .event_types(["Opened", "Deposited"]),
    )
    .await;
    assert_eq!(numbers(&both), [1, 2, 4, 5, 7, 8, 10, 11]);

    // Paging by position with a limit visits everything exactly once.
    let mut paged = Vec::new();
    let mut from = Position::START;
    loop {
        let page = read_all(store, ReadAll::from(from).limit(5)).await;
        let Some(last) = page.last() else { break };
        from = last.position.next();
        paged.extend(page);
    }
    assert_eq!(paged, all);
    // Filters and limits combine: the limit counts matching events.
    let two = read_all(
        store,
        ReadAll::from(Position::START)
            .event_types(["Noted"])
            .limit(2),
    )
    .await;
    assert_eq!(numbers(&two), [100, 101]);
    // Starting in the middle.
    let tail = read_all(store, ReadAll::from(all[20].position)).await;
    assert_eq!(tail, all[20..]);
    // Resuming right after the last event is not an error: it is the tail.
    assert!(
        read_all(store, ReadAll::from(all[23].position.next()))
            .await
            .is_empty()
    );
}

/// A start position past the end of the log is refused with a typed error.
pub async fn read_all_beyond_head_is_an_error<S: EventStore>(store: &S) {
    let done = store
        .append(&sid("x-1"), ExpectedVersion::Any, evs(2))
        .await
        .unwrap();
    let head = done.last_position();
    let bogus = Position(head.value() + 1000);
    let result: Result<Vec<_>, _> = store.read_all(ReadAll::from(bogus)).try_collect().await;
    match result {
        Err(StoreError::PositionBeyondHead { requested, head: h }) => {
            assert_eq!(requested, bogus);
            assert_eq!(h, head);
        }
        other => panic!("expected PositionBeyondHead, got {other:?}"),
    }
}

/// A tombstoned stream keeps its history, reads say it is deleted, appends are refused.
pub async fn tombstones<S: EventStore>(store: &S) {
    let s = sid("gone-1");
    let missing = store.delete_stream(&s, ExpectedVersion::Any).await;
    assert!(
        matches!(missing, Err(StoreError::StreamNotFound { .. })),
        "{missing:?}"
    );
    store
        .append(&s, ExpectedVersion::NoStream, evs(3))
        .await
        .unwrap();
    let wrong = store.delete_stream(&s, ExpectedVersion::Exact(2)).await;
    assert!(
        matches!(wrong, Err(StoreError::WrongExpectedVersion { .. })),
        "{wrong:?}"
    );
    store
        .delete_stream(&s, ExpectedVersion::Exact(3))
        .await
        .unwrap();

    let info = store.stream_info(&s).await.unwrap().expect("still listed");
    assert!(info.is_deleted());
    assert_eq!(info.version, 3);
    let read_err = try_read(store, &s, ReadStream::forward()).await;
    assert!(
        matches!(read_err, Err(StoreError::StreamDeleted { .. })),
        "{read_err:?}"
    );
    let back_err = try_read(store, &s, ReadStream::backward().limit(1)).await;
    assert!(
        matches!(back_err, Err(StoreError::StreamDeleted { .. })),
        "{back_err:?}"
    );
    for expected in [ExpectedVersion::Any, ExpectedVersion::Exact(3)] {
        let refused = store.append(&s, expected, evs(1)).await;
        assert!(
            matches!(refused, Err(StoreError::StreamDeleted { .. })),
            "{refused:?}"
        );
    }
    let twice = store.delete_stream(&s, ExpectedVersion::Any).await;
    assert!(
        matches!(twice, Err(StoreError::StreamDeleted { .. })),
        "{twice:?}"
    );
    // The history is kept for audit.
    let history = read(store, &s, ReadStream::forward().including_deleted()).await;
    assert_eq!(numbers(&history), [0, 1, 2]);
    assert_eq!(
        read_all(store, ReadAll::from(Position::START)).await.len(),
        3
    );
    // Other streams are unaffected.
    store
        .append(&sid("gone-2"), ExpectedVersion::NoStream, evs(1))
        .await
        .unwrap();
}

/// Every kind of bad input gets its typed error and writes nothing.
pub async fn bad_input_is_refused_and_nothing_is_written<S: EventStore>(store: &S) {
    let s = sid("bad-1");
    store
        .append(&s, ExpectedVersion::NoStream, evs(1))
        .await
        .unwrap();
    let head = store.head_position().await.unwrap();

    for bad in [
        "",
        "-lead",
        "has space",
        "slash/ed",
        "ünïcode",
        &"x".repeat(256),
    ] {
        let err = StreamId::new(bad).unwrap_err();
        assert!(matches!(err, StoreError::InvalidStreamId { .. }), "{bad:?}");
        assert!(err.to_string().contains("invalid stream id"), "{err}");
    }

    let empty = store.append(&s, ExpectedVersion::Any, vec![]).await;
    assert!(
        matches!(empty, Err(StoreError::EmptyAppend { .. })),
        "{empty:?}"
    );

    let not_json = EventData::from_json_bytes("Counted", b"{\"n\": 1".to_vec());
    match store.append(&s, ExpectedVersion::Any, vec![not_json]).await {
        Err(err @ StoreError::InvalidPayload { .. }) => {
            assert!(err.to_string().contains("not valid JSON"), "{err}");
        }
        other => panic!("expected InvalidPayload, got {other:?}"),
    }
    let not_utf8 = EventData::from_json_bytes("Counted", vec![b'"', 0xff, b'"']);
    let err = store.append(&s, ExpectedVersion::Any, vec![not_utf8]).await;
    assert!(
        matches!(err, Err(StoreError::InvalidPayload { .. })),
        "{err:?}"
    );

    let limit = limits().max_event_size;
    let huge = EventData::new("Counted", json!({ "blob": "x".repeat(limit) }));
    match store.append(&s, ExpectedVersion::Any, vec![huge]).await {
        Err(StoreError::EventTooLarge { size, limit: l, .. }) => {
            assert!(size > l);
            assert_eq!(l, limit);
        }
        other => panic!("expected EventTooLarge, got {other:?}"),
    }

    let bad_type = store
        .append(&s, ExpectedVersion::Any, vec![ev("no spaces allowed", 1)])
        .await;
    assert!(
        matches!(bad_type, Err(StoreError::InvalidEventType { .. })),
        "{bad_type:?}"
    );

    let e = ev("Counted", 1);
    let dup = store
        .append(&s, ExpectedVersion::Any, vec![e.clone(), e])
        .await;
    assert!(
        matches!(dup, Err(StoreError::DuplicateIdInBatch { .. })),
        "{dup:?}"
    );

    assert_eq!(store.head_position().await.unwrap(), head);
    assert_eq!(store.stream_info(&s).await.unwrap().unwrap().version, 1);
    assert_eq!(
        read_all(store, ReadAll::from(Position::START)).await.len(),
        1
    );
}

/// A batch that fails anywhere (bad input, or a clash found only while writing) leaves
/// the stream exactly as it was.
pub async fn failed_batch_is_atomic<S: EventStore>(store: &S) {
    let s = sid("atomic-1");
    store
        .append(&s, ExpectedVersion::NoStream, evs(2))
        .await
        .unwrap();

    let mut batch = evs(3);
    batch.insert(1, EventData::from_json_bytes("Counted", "not json"));
    let err = store.append(&s, ExpectedVersion::Exact(2), batch).await;
    match err {
        Err(StoreError::InvalidPayload { index, .. }) => assert_eq!(index, 1),
        other => panic!("expected InvalidPayload, got {other:?}"),
    }

    // An event id already taken elsewhere, in the middle of a batch: only the store can
    // see this one, after it started writing.
    let taken = ev("Counted", 99);
    store
        .append(&sid("other-1"), ExpectedVersion::Any, vec![taken.clone()])
        .await
        .unwrap();
    let clash = vec![ev("Counted", 10), taken, ev("Counted", 11)];
    let err = store.append(&s, ExpectedVersion::Exact(2), clash).await;
    assert!(
        matches!(err, Err(StoreError::EventIdConflict { .. })),
        "{err:?}"
    );

    assert_eq!(
        numbers(&read(store, &s, ReadStream::forward()).await),
        [0, 1]
    );
    assert_eq!(store.stream_info(&s).await.unwrap().unwrap().version, 2);
    assert_eq!(
        read_all(store, ReadAll::from(Position::START)).await.len(),
        3
    );
    // The stream takes the next append at the version it had.
    let done = store
        .append(&s, ExpectedVersion::Exact(2), evs(1))
        .await
        .unwrap();
    assert_eq!(done.version, 3);
}

/// Unicode survives untouched; an event just under the size limit is stored whole.
pub async fn unicode_and_large_payloads<S: EventStore>(store: &S) {
    let s = sid("text-1");
    let text = "Zürich · 東京 · עִבְרִית · 🚀🦀 · \u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467} · \"quoted\" \\ back";
    let meta = Metadata::new()
        .with_actor("Łukasz 🦀")
        .with_header("note", "naïve café");
    let unicode = EventData::new("Named", json!({ "name": text, "tags": ["ß", "ç"] }))
        .with_metadata(meta.clone());
    let limit = limits().max_event_size;
    // `{"blob":"…"}` is 11 bytes of JSON around the string.
    let big_text = "é".repeat((limit - 11) / 2) + &"a".repeat((limit - 11) % 2);
    let big = EventData::new("Big", json!({ "blob": big_text }));
    assert_eq!(
        big.payload_bytes().len(),
        limit,
        "the payload is exactly at the limit"
    );
    store
        .append(&s, ExpectedVersion::NoStream, vec![unicode, big])
        .await
        .unwrap();

    let events = read(store, &s, ReadStream::forward()).await;
    assert_eq!(events[0].payload.to_value()["name"], text);
    assert_eq!(events[0].payload.to_value()["tags"], json!(["ß", "ç"]));
    assert_eq!(events[0].metadata, meta);
    assert_eq!(
        events[1].payload.to_value()["blob"].as_str(),
        Some(big_text.as_str())
    );
    let from_log = read_all(store, ReadAll::from(Position::START)).await;
    assert_eq!(from_log, events);
}

/// Stream info reports version, category and deletion; listing pages through a category.
pub async fn stream_info_and_listing<S: EventStore>(store: &S) {
    for i in 0..7 {
        let s = sid(&format!("account-{i:02}"));
        store
            .append(&s, ExpectedVersion::NoStream, evs(i + 1))
            .await
            .unwrap();
    }
    store
        .append(&sid("order-1"), ExpectedVersion::NoStream, evs(1))
        .await
        .unwrap();
    store
        .append(&sid("accounts-1"), ExpectedVersion::NoStream, evs(1))
        .await
        .unwrap();
    store
        .delete_stream(&sid("account-03"), ExpectedVersion::Any)
        .await
        .unwrap();

    let info = store
        .stream_info(&sid("account-04"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.version, 5);
    assert_eq!(info.category(), "account");
    assert!(!info.is_deleted());

    let mut listed = Vec::new();
    let mut after: Option<StreamId> = None;
    loop {
        let page = store
            .list_streams("account", after.as_ref(), 3)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.stream_id.clone());
        listed.extend(page);
    }
    let ids: Vec<_> = listed.iter().map(|i| i.stream_id.to_string()).collect();
    assert_eq!(
        ids,
        (0..7)
            .map(|i| format!("account-{i:02}"))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        listed.iter().map(|i| i.version).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6, 7]
    );
    assert!(listed[3].is_deleted() && listed.iter().filter(|i| i.is_deleted()).count() == 1);
    assert!(
        store
            .list_streams("nothing", None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Ids, types, schema versions, metadata and times come back as they went in.
pub async fn metadata_and_envelope_round_trip<S: EventStore>(store: &S) {
    let s = sid("envelope-1");
    let before = chrono::Utc::now() - chrono::Duration::seconds(5);
    let meta = Metadata::new()
        .with_correlation_id("req-1")
        .with_causation_id("cmd-9")
        .with_actor("alice")
        .with_tenant("acme")
        .with_header("ip", "10.0.0.1");
    let id = EventId::new();
    let event = EventData::new("bank.Deposited", json!({ "cents": 500 }))
        .with_id(id)
        .with_schema_version(3)
        .with_metadata(meta.clone());
    let plain = EventData::new("bank.Noted", json!(null));
    let done = store
        .append(&s, ExpectedVersion::NoStream, vec![event, plain])
        .await
        .unwrap();
    let after = chrono::Utc::now() + chrono::Duration::seconds(5);

    let events = read(store, &s, ReadStream::forward()).await;
    let e = &events[0];
    assert_eq!(e.event_id, id);
    assert_eq!(e.stream_id, s);
    assert_eq!(e.category(), "envelope");
    assert_eq!(e.stream_version, 1);
    assert_eq!(e.position, done.positions[0]);
    assert_eq!(e.event_type, "bank.Deposited");
    assert_eq!(e.schema_version, 3);
    assert_eq!(e.payload.to_value(), json!({ "cents": 500 }));
    assert_eq!(e.metadata, meta);
    assert!(
        e.recorded_at > before && e.recorded_at < after,
        "{}",
        e.recorded_at
    );
    assert_eq!(events[1].metadata, Metadata::default());
    assert_eq!(events[1].schema_version, 1);
    assert_eq!(events[1].payload.to_value(), json!(null));
}

/// Eight tasks appending at once, to their own streams and to one shared stream with
/// `Any`, all succeed; nothing is lost, and versions stay dense.
pub async fn eight_concurrent_appenders_all_succeed<S: EventStore + 'static>(store: &S) {
    let per_task = 25usize;
    let shared = sid("shared-1");
    let store = Arc::new(store);
    let results = futures_util::future::join_all((0..8).map(|task| {
        let store = store.clone();
        let shared = shared.clone();
        async move {
            let own = sid(&format!("own-{task}"));
            for i in 0..per_task {
                let n = (task * 1000 + i) as i64;
                store
                    .append(&own, ExpectedVersion::Any, vec![ev("Own", n)])
                    .await?;
                store
                    .append(&shared, ExpectedVersion::Any, vec![ev("Shared", n)])
                    .await?;
            }
            Ok::<_, StoreError>(())
        }
    }))
    .await;
    for result in results {
        result.expect("no append may fail");
    }
    let shared_events = read(&**store, &shared, ReadStream::forward()).await;
    assert_eq!(
        versions(&shared_events),
        (1..=(8 * per_task) as u64).collect::<Vec<_>>()
    );
    let mut per_task_seen: HashMap<i64, Vec<i64>> = HashMap::new();
    for n in numbers(&shared_events) {
        per_task_seen.entry(n / 1000).or_default().push(n % 1000);
    }
    for seen in per_task_seen.values() {
        assert_eq!(
            *seen,
            (0..per_task as i64).collect::<Vec<_>>(),
            "each task's order kept"
        );
    }
    let all = read_all(&**store, ReadAll::from(Position::START)).await;
    assert_eq!(all.len(), 8 * per_task * 2);
    let ids: HashSet<_> = all.iter().map(|e| e.event_id).collect();
    assert_eq!(ids.len(), all.len());
}

/// Many large events read back whole and in order, however a backend pages them.
pub async fn large_events_read_in_order<S: EventStore>(store: &S) {
    let s = sid("large-1");
    let blob = "x".repeat(700 * 1024);
    for batch in 0..3 {
        let events = (0..4)
            .map(|i| EventData::new("Big", json!({ "n": batch * 4 + i, "blob": blob })))
            .collect();
        store
            .append(&s, ExpectedVersion::Any, events)
            .await
            .unwrap();
    }
    store
        .append(&s, ExpectedVersion::Any, evs(3))
        .await
        .unwrap();
    let forward = read(store, &s, ReadStream::forward()).await;
    assert_eq!(versions(&forward), (1..=15).collect::<Vec<_>>());
    assert!(
        forward[..12]
            .iter()
            .all(|e| e.payload.to_value()["blob"] == blob.as_str())
    );
    let backward = read(store, &s, ReadStream::backward()).await;
    assert_eq!(versions(&backward), (1..=15).rev().collect::<Vec<_>>());
    let log = read_all(store, ReadAll::from(Position::START)).await;
    assert_eq!(log, forward);
    let some = read_all(store, ReadAll::from(Position::START).limit(7)).await;
    assert_eq!(some, forward[..7]);
}

/// `scan_stream` (the fold path) sees exactly what `read_stream` returns, over several
/// pages, in both directions, with ranges and limits, stopping early, and on a deleted
/// stream.
pub async fn scan_matches_read<S: EventStore>(store: &S) {
    use factum::EventView;
    use std::ops::ControlFlow;

    let s = sid("scan-1");
    for batch in 0..6 {
        let events = (0..100)
            .map(|i| {
                EventData::new(
                    format!("T{}", i % 3),
                    json!({ "n": batch * 100 + i, "s": "\"q\"" }),
                )
            })
            .collect();
        store
            .append(&s, ExpectedVersion::Any, events)
            .await
            .unwrap();
    }
    let owned = |v: EventView<'_>| {
        (
            v.stream_version,
            v.event_type.to_owned(),
            v.schema_version,
            v.payload.to_owned(),
        )
    };
    for options in [
        ReadStream::forward(),
        ReadStream::backward(),
        ReadStream::forward().from(250).limit(300),
        ReadStream::backward().from(420).limit(333),
        ReadStream::forward().limit(0),
    ] {
        let read: Vec<_> = read(store, &s, options)
            .await
            .iter()
            .map(|e| owned(e.view()))
            .collect();
        let mut scanned = Vec::new();
        let done = store
            .scan_stream(&s, options, |v| {
                scanned.push(owned(v));
                ControlFlow::<()>::Continue(())
            })
            .await
            .unwrap();
        assert_eq!(done, ControlFlow::Continue(()));
        assert_eq!(scanned.len(), read.len(), "{options:?}");
        for (a, b) in scanned.iter().zip(&read) {
            assert_eq!((a.0, &a.1, a.2), (b.0, &b.1, b.2), "{options:?}");
            let (pa, pb): (serde_json::Value, serde_json::Value) = (
                serde_json::from_str(&a.3).unwrap(),
                serde_json::from_str(&b.3).unwrap(),
            );
            assert_eq!(pa, pb, "{options:?}");
        }
    }
    // Stopping early hands back the visitor's value and reads no further.
    let mut seen = 0;
    let stopped = store
        .scan_stream(&s, ReadStream::forward(), |v| {
            seen += 1;
            if v.stream_version == 300 {
                ControlFlow::Break(v.stream_version)
            } else {
                ControlFlow::Continue(())
            }
        })
        .await
        .unwrap();
    assert_eq!((stopped, seen), (ControlFlow::Break(300), 300));
    // A deleted stream says so, unless deleted streams are asked for.
    store.delete_stream(&s, ExpectedVersion::Any).await.unwrap();
    let err = store
        .scan_stream(&s, ReadStream::forward(), |_| {
            ControlFlow::<()>::Continue(())
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, factum::StoreError::StreamDeleted { .. }),
        "{err}"
    );
    let mut count = 0;
    let all = store
        .scan_stream(&s, ReadStream::forward().including_deleted(), |_| {
            count += 1;
            ControlFlow::<()>::Continue(())
        })
        .await
        .unwrap();
    assert_eq!((all, count), (ControlFlow::Continue(()), 600));
}

/// Streams are listed in byte order of their ids, the same on every backend.
pub async fn listing_is_in_byte_order<S: EventStore>(store: &S) {
    for id in [
        "item-b", "item-B", "item-a", "item-A", "item-_", "item-0", "item-aa",
    ] {
        store
            .append(&sid(id), ExpectedVersion::NoStream, evs(1))
            .await
            .unwrap();
    }
    let listed: Vec<_> = store
        .list_streams("item", None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.stream_id.to_string())
        .collect();
    assert_eq!(
        listed,
        [
            "item-0", "item-A", "item-B", "item-_", "item-a", "item-aa", "item-b"
        ]
    );
}

/// A read with a limit of 0 returns nothing, even for a deleted stream.
pub async fn zero_limit_reads_nothing<S: EventStore>(store: &S) {
    let s = sid("zero-1");
    store
        .append(&s, ExpectedVersion::NoStream, evs(2))
        .await
        .unwrap();
    assert!(
        read(store, &s, ReadStream::forward().limit(0))
            .await
            .is_empty()
    );
    assert!(
        read_all(store, ReadAll::from(Position::START).limit(0))
            .await
            .is_empty()
    );
    store.delete_stream(&s, ExpectedVersion::Any).await.unwrap();
    assert!(
        read(store, &s, ReadStream::backward().limit(0))
            .await
            .is_empty()
    );
}

#[track_caller]
fn assert_taken(
    result: Result<AppendResult, StoreError>,
    scope: &str,
    value: &str,
    holder: &StreamId,
) {
    match result {
        Err(StoreError::UniqueValueTaken {
            scope: s,
            value: v,
            holder: h,
        }) => {
            assert_eq!((s.as_str(), v.as_str(), &h), (scope, value, holder));
        }
        other => panic!("expected {scope} {value:?} to be taken by {holder}, got {other:?}"),
    }
}

/// Two tasks append to different streams, claiming the same value at once, 50 times with
/// a fresh value each round: exactly one wins each round, the loser writes nothing and is
/// told who holds the value.
pub async fn racing_claims_have_one_winner<S: EventStore + Clone + 'static>(store: &S) {
    for round in 0..50 {
        let value = format!("user{round}@example.com");
        let a = sid(&format!("user-a{round}"));
        let b = sid(&format!("user-b{round}"));
        let start = Arc::new(tokio::sync::Barrier::new(2));
        let claimer = |stream: StreamId| {
            let (store, start, value) = (store.clone(), start.clone(), value.clone());
            tokio::spawn(async move {
                start.wait().await;
                let claim = Uniqueness::new().claim("user-email", value);
                store
                    .append_unique(&stream, ExpectedVersion::NoStream, evs(1), claim)
                    .await
            })
        };
        let (ta, tb) = (claimer(a.clone()), claimer(b.clone()));
        let (ra, rb) = (ta.await.unwrap(), tb.await.unwrap());
        let (winner, loser, lost) = match (&ra, &rb) {
            (Ok(_), Err(_)) => (&a, &b, rb),
            (Err(_), Ok(_)) => (&b, &a, ra),
            _ => panic!("round {round}: exactly one must win: {ra:?} / {rb:?}"),
        };
        assert_taken(lost, "user-email", &value, winner);
        assert!(store.stream_info(loser).await.unwrap().is_none());
        assert_eq!(
            store.unique_holder("user-email", &value).await.unwrap(),
            Some(winner.clone())
        );
    }
    assert_eq!(
        read_all(store, ReadAll::from(Position::START)).await.len(),
        50
    );
}

/// A claim inside an append that fails (a wrong expected version; a second claim that is
/// taken) leaves no trace: the values stay free, the stream unchanged.
pub async fn failed_appends_leave_no_claims<S: EventStore>(store: &S) {
    let s = sid("user-1");
    let other = sid("user-2");
    store
        .append(&s, ExpectedVersion::NoStream, evs(1))
        .await
        .unwrap();
    let claim = Uniqueness::new().claim("user-email", "a@example.com");
    assert_conflict(
        store
            .append_unique(&s, ExpectedVersion::Exact(5), evs(1), claim.clone())
            .await,
        ExpectedVersion::Exact(5),
        ActualVersion::Version(1),
    );
    assert_eq!(
        store
            .unique_holder("user-email", "a@example.com")
            .await
            .unwrap(),
        None
    );
    store
        .append_unique(
            &other,
            ExpectedVersion::NoStream,
            evs(1),
            Uniqueness::new().claim("user-alias", "ada"),
        )
        .await
        .unwrap();
    let two = Uniqueness::new()
        .claim("user-email", "a@example.com")
        .claim("user-alias", "ada");
    assert_taken(
        store
            .append_unique(&s, ExpectedVersion::Exact(1), evs(2), two)
            .await,
        "user-alias",
        "ada",
        &other,
    );
    assert_eq!(
        store
            .unique_holder("user-email", "a@example.com")
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.stream_info(&s).await.unwrap().unwrap().version, 1);
    // The value is free: the stream claims it now.
    store
        .append_unique(&s, ExpectedVersion::Exact(1), evs(1), claim)
        .await
        .unwrap();
    assert_eq!(
        store
            .unique_holder("user-email", "a@example.com")
            .await
            .unwrap(),
        Some(s)
    );
}

/// Claiming a held value again is a no-op; releasing one the stream does not hold is a
/// no-op; a released value can be claimed by another stream.
pub async fn released_values_can_be_claimed_again<S: EventStore>(store: &S) {
    let a = sid("account-a");
    let b = sid("account-b");
    let alias = || Uniqueness::new().claim("account-alias", "rainy-day");
    store
        .append_unique(&a, ExpectedVersion::NoStream, evs(1), alias())
        .await
        .unwrap();
    // Claiming again what it holds: fine, still its own.
    store
        .append_unique(&a, ExpectedVersion::Exact(1), evs(1), alias())
        .await
        .unwrap();
    let err = store
        .append_unique(&b, ExpectedVersion::NoStream, evs(1), alias())
        .await;
    let message = err.as_ref().unwrap_err().to_string();
    assert!(
        message.contains("account-alias")
            && message.contains("rainy-day")
            && message.contains("account-a"),
        "{message}"
    );
    assert_taken(err, "account-alias", "rainy-day", &a);
    // b releasing what a holds changes nothing.
    store
        .append_unique(
            &b,
            ExpectedVersion::NoStream,
            evs(1),
            Uniqueness::new().release("account-alias", "rainy-day"),
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .unique_holder("account-alias", "rainy-day")
            .await
            .unwrap(),
        Some(a.clone())
    );
    store
        .append_unique(
            &a,
            ExpectedVersion::Exact(2),
            vec![ev("AliasDropped", 0)],
            Uniqueness::new().release("account-alias", "rainy-day"),
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .unique_holder("account-alias", "rainy-day")
            .await
            .unwrap(),
        None
    );
    store
        .append_unique(&b, ExpectedVersion::Exact(1), evs(1), alias())
        .await
        .unwrap();
    assert_eq!(
        store
            .unique_holder("account-alias", "rainy-day")
            .await
            .unwrap(),
        Some(b)
    );
    // The same value in another scope is another value.
    store
        .append_unique(
            &a,
            ExpectedVersion::Exact(3),
            evs(1),
            Uniqueness::new().claim("nickname", "rainy-day"),
        )
        .await
        .unwrap();
}

/// Bad scopes and values are refused before anything is written.
pub async fn bad_unique_values_are_refused<S: EventStore>(store: &S) {
    let s = sid("user-9");
    let bad = [
        Uniqueness::new().claim("", "x"),
        Uniqueness::new().claim("user email", "x"),
        Uniqueness::new().claim("user-email", ""),
        Uniqueness::new().claim("user-email", "x".repeat(2000)),
        Uniqueness::new().release("user-email", "nul\0inside"),
        Uniqueness::new()
            .claim("user-email", "a@example.com")
            .release("user-email", "a@example.com"),
    ];
    for uniqueness in bad {
        let result = store
            .append_unique(&s, ExpectedVersion::Any, evs(1), uniqueness.clone())
            .await;
        assert!(
            matches!(result, Err(StoreError::InvalidUniqueValue { .. })),
            "{uniqueness:?}: {result:?}"
        );
    }
    assert!(store.stream_info(&s).await.unwrap().is_none());
    assert_eq!(
        store
            .unique_holder("user-email", "a@example.com")
            .await
            .unwrap(),
        None
    );
}

async fn count_in_tx<T: StoreTransaction>(tx: &mut T, stream: &StreamId) -> usize {
    let mut n = 0;
    let _ = tx
        .scan_stream(stream, ReadStream::forward(), |_| {
            n += 1;
            ControlFlow::<()>::Continue(())
        })
        .await
        .expect("scan inside the transaction");
    n
}

/// Appends, claims and the caller's own row in a transaction that is rolled back (or
/// dropped): none of it is stored. Reads inside the transaction saw its appends.
pub async fn rolled_back_transaction_stores_nothing<S: CallerRows>(store: &S) {
    store.create_table().await;
    let s = sid("order-1");
    for explicit in [true, false] {
        let mut tx = store.begin().await.unwrap();
        tx.append_unique(
            &s,
            ExpectedVersion::NoStream,
            evs(2),
            Uniqueness::new().claim("order-ref", "R-1"),
        )
        .await
        .unwrap();
        S::write_row(&mut tx, "order-1").await;
        tx.append(&s, ExpectedVersion::Exact(2), evs(1))
            .await
            .unwrap();
        assert_eq!(count_in_tx(&mut tx, &s).await, 3);
        if explicit {
            tx.rollback().await.unwrap();
        } else {
            drop(tx);
        }
        assert!(store.stream_info(&s).await.unwrap().is_none());
        assert!(
            read_all(store, ReadAll::from(Position::START))
                .await
                .is_empty()
        );
        assert_eq!(store.unique_holder("order-ref", "R-1").await.unwrap(), None);
        assert!(matches!(store.count_rows("order-1").await, None | Some(0)));
    }
    // The store works on after them.
    store
        .append(&s, ExpectedVersion::NoStream, evs(1))
        .await
        .unwrap();
}

/// A committed transaction stores its appends to two streams, its claims and the
/// caller's row together; positions follow the order of its appends, and subscribers
/// are woken.
pub async fn committed_transaction_stores_everything<S: CallerRows>(store: &S) {
    store.create_table().await;
    let a = sid("order-a");
    let b = sid("invoice-b");
    store
        .append(&b, ExpectedVersion::NoStream, evs(1))
        .await
        .unwrap();
    let mut watcher = store.append_watcher();
    let mut tx = store.begin().await.unwrap();
    let first = tx
        .append(&a, ExpectedVersion::NoStream, evs(2))
        .await
        .unwrap();
    let second = tx
        .append_unique(
            &b,
            ExpectedVersion::Exact(1),
            evs(1),
            Uniqueness::new().claim("invoice-number", "2026-1"),
        )
        .await
        .unwrap();
    let third = tx
        .append(&a, ExpectedVersion::Exact(2), evs(1))
        .await
        .unwrap();
    let wrote_row = S::write_row(&mut tx, "order-a").await;
    assert_eq!((first.version, second.version, third.version), (2, 2, 3));
    let positions: Vec<Position> = [&first, &second, &third]
        .iter()
        .flat_map(|r| r.positions.clone())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    assert_eq!(count_in_tx(&mut tx, &a).await, 3);
    tx.commit().await.unwrap();
    if let Some(watcher) = watcher.as_mut() {
        tokio::time::timeout(std::time::Duration::from_secs(10), watcher.appended())
            .await
            .expect("a commit that appended wakes subscribers");
    }
    assert_eq!(store.stream_info(&a).await.unwrap().unwrap().version, 3);
    assert_eq!(store.stream_info(&b).await.unwrap().unwrap().version, 2);
    assert_eq!(
        store
            .unique_holder("invoice-number", "2026-1")
            .await
            .unwrap(),
        Some(b.clone())
    );
    let log = read_all(store, ReadAll::from(Position::START)).await;
    assert_eq!(log.len(), 5);
    assert_eq!(
        log[1..].iter().map(|e| e.position).collect::<Vec<_>>(),
        positions
    );
    if wrote_row {
        assert_eq!(store.count_rows("order-a").await, Some(1));
    }
}

/// A refused append inside a transaction (a taken value, a wrong expected version)
/// writes nothing and the transaction goes on: its other work commits.
pub async fn refused_append_leaves_the_transaction_usable<S: CallerRows>(store: &S) {
    store.create_table().await;
    let holder = sid("user-1");
    let s = sid("user-2");
    store
        .append_unique(
            &holder,
            ExpectedVersion::NoStream,
            evs(1),
            Uniqueness::new().claim("user-email", "taken@example.com"),
        )
        .await
        .unwrap();
    // Read before `begin`: an in-memory SQLite store has one connection, the transaction's.
    let stored_elsewhere = read(store, &holder, ReadStream::forward()).await[0].event_id;
    let mut tx = store.begin().await.unwrap();
    S::write_row(&mut tx, "user-2").await;
    tx.append(&s, ExpectedVersion::NoStream, evs(1))
        .await
        .unwrap();
    let taken = tx
        .append_unique(
            &s,
            ExpectedVersion::Exact(1),
            evs(3),
            Uniqueness::new()
                .claim("user-alias", "free")
                .claim("user-email", "taken@example.com"),
        )
        .await;
    assert_taken(taken, "user-email", "taken@example.com", &holder);
    assert_conflict(
        tx.append(&s, ExpectedVersion::Exact(7), evs(1)).await,
        ExpectedVersion::Exact(7),
        ActualVersion::Version(1),
    );
    // An id stored in another stream, sent with `Any`: the insert itself is refused.
    assert_id_conflict(
        tx.append(
            &s,
            ExpectedVersion::Any,
            vec![ev("Counted", 0).with_id(stored_elsewhere)],
        )
        .await,
        IdConflictReason::OtherStream,
    );
    // A retry inside the transaction of its own append is recognised.
    let batch = evs(2);
    let first = tx
        .append(&s, ExpectedVersion::Exact(1), batch.clone())
        .await
        .unwrap();
    let again = tx
        .append(&s, ExpectedVersion::Exact(1), batch)
        .await
        .unwrap();
    assert!(again.deduplicated);
    assert_eq!(again.positions, first.positions);
    assert_eq!(count_in_tx(&mut tx, &s).await, 3);
    let done = tx
        .append_unique(
            &s,
            ExpectedVersion::Exact(3),
            evs(1),
            Uniqueness::new().claim("user-email", "other@example.com"),
        )
        .await
        .unwrap();
    assert_eq!(done.version, 4);
    tx.commit().await.unwrap();
    assert_eq!(store.stream_info(&s).await.unwrap().unwrap().version, 4);
    assert_eq!(
        store.unique_holder("user-alias", "free").await.unwrap(),
        None
    );
    assert_eq!(
        store
            .unique_holder("user-email", "other@example.com")
            .await
            .unwrap(),
        Some(s)
    );
    assert!(matches!(store.count_rows("user-2").await, None | Some(1)));
}

/// `lock_stream` makes a plain append to the stream, started while the transaction holds
/// the lock, wait until the transaction commits: it lands after the transaction's events.
pub async fn locked_stream_holds_other_writers_until_commit<S: CallerRows>(store: &S) {
    let s = sid("hot-1");
    store
        .append(&s, ExpectedVersion::NoStream, vec![ev("Before", 0)])
        .await
        .unwrap();
    let order = std::sync::Mutex::new(Vec::new());
    let (locked_tx, locked_rx) = tokio::sync::oneshot::channel::<()>();
    let transaction = async {
        let mut tx = store.begin().await.unwrap();
        tx.lock_stream(&s).await.unwrap();
        locked_tx.send(()).unwrap();
        // Give the other writer every chance to run first, were it not held.
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let done = tx
            .append(&s, ExpectedVersion::Exact(1), vec![ev("InTransaction", 1)])
            .await
            .unwrap();
        order.lock().unwrap().push("transaction appended");
        // Recorded before the commit is sent: once it lands the plain append may finish
        // before this future is polled again, so "after the commit returned" is not an
        // order the test can observe.
        order.lock().unwrap().push("transaction committing");
        tx.commit().await.unwrap();
        done
    };
    let writer = async {
        locked_rx.await.unwrap();
        let done = store
            .append(&s, ExpectedVersion::Any, vec![ev("Plain", 2)])
            .await
            .unwrap();
        order.lock().unwrap().push("plain appended");
        done
    };
    let (in_tx, plain) = tokio::join!(transaction, writer);
    assert_eq!(in_tx.version, 2);
    assert_eq!(plain.version, 3, "the plain append waited for the commit");
    assert!(plain.positions[0] > in_tx.positions[0]);
    assert_eq!(
        *order.lock().unwrap(),
        [
            "transaction appended",
            "transaction committing",
            "plain appended"
        ]
    );
    let history = read(store, &s, ReadStream::forward()).await;
    assert_eq!(
        history
            .iter()
            .map(|e| e.event_type.as_str())
            .collect::<Vec<_>>(),
        ["Before", "InTransaction", "Plain"]
    );
}

/// A value claimed inside an open transaction holds off another claimer until the
/// transaction ends: rolled back, the other claim wins; committed, it is refused.
pub async fn claims_in_an_open_transaction_hold_off_other_claimers<S: CallerRows>(store: &S) {
    let a = sid("user-a");
    let b = sid("user-b");
    for commit in [false, true] {
        let value = format!("v{commit}@example.com");
        let claim = || Uniqueness::new().claim("user-email", value.as_str());
        let (a, b) = (sid(&format!("{a}{commit}")), sid(&format!("{b}{commit}")));
        let order = std::sync::Mutex::new(Vec::new());
        let mut tx = store.begin().await.unwrap();
        tx.append_unique(&a, ExpectedVersion::NoStream, evs(1), claim())
            .await
            .unwrap();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let transaction = async {
            started_rx.await.unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            order.lock().unwrap().push("transaction ends");
            if commit {
                tx.commit().await.unwrap();
            } else {
                tx.rollback().await.unwrap();
            }
        };
        let other = async {
            started_tx.send(()).unwrap();
            let result = store
                .append_unique(&b, ExpectedVersion::NoStream, evs(1), claim())
                .await;
            order.lock().unwrap().push("other claim answered");
            result
        };
        let ((), result) = tokio::join!(transaction, other);
        assert_eq!(
            *order.lock().unwrap(),
            ["transaction ends", "other claim answered"]
        );
        if commit {
            assert_taken(result, "user-email", &value, &a);
        } else {
            result.expect("the rolled-back claim left the value free");
        }
        let holder = if commit { a } else { b };
        assert_eq!(
            store.unique_holder("user-email", &value).await.unwrap(),
            Some(holder)
        );
    }
}
