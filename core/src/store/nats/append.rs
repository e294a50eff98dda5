//! An append on JetStream: one journal message conditioned on the stream subject's last
//! sequence, after every event id of the batch is claimed for it.

use std::collections::HashMap;

use bytes::Bytes;
use chrono::Utc;
use futures_util::future::try_join_all;

use super::claims::{Claim, ClaimsCtx, Holder};
use super::journal::{Published, headers, publish_if_last, tail};
use super::message::{Kind, encode_batch, position};
use crate::store::idempotency::{StoredId, resolve_retry};
use crate::store::{PreparedBatch, Uniqueness};
use crate::{AppendResult, EventId, ExpectedVersion, RecordedEvent, StoreError, StreamId};

/// Room left in a message for its headers.
const HEADER_ALLOWANCE: usize = 512;

/// Appends a validated batch (see `docs/JETSTREAM.md`): read the stream's tail, check
/// the expectation, claim the ids, publish conditioned on the tail; a writer that lost a
/// race reads again. A batch whose ids are already stored is recognised as a retry (or
/// refused as a conflict), after any delay.
pub(crate) async fn append(
    ctx: &ClaimsCtx<'_>,
    expected: ExpectedVersion,
    batch: &PreparedBatch,
    uniqueness: &Uniqueness,
) -> Result<AppendResult, StoreError> {
    let stream = &batch.stream;
    let subject = ctx.subjects.stream(stream);
    // An append is one message: the server's `max_payload` caps it (headers take a few
    // hundred bytes of it). Checked before anything is written.
    let body = Bytes::from(encode_batch(batch, Utc::now())?);
    let limit = ctx.max_payload.saturating_sub(HEADER_ALLOWANCE);
    if body.len() > limit {
        return Err(StoreError::AppendTooLarge {
            stream: stream.clone(),
            size: body.len(),
            limit,
        });
    }
    let mut contention = Contention::default();
    loop {
        let tail = tail(ctx.journal, &subject).await?;
        if tail.deleted {
            // A retry of the append that came before the tombstone is still a retry.
            if let Some(done) = recognise_retry(ctx, batch).await? {
                return Ok(done);
            }
            return Err(StoreError::StreamDeleted {
                stream: stream.clone(),
            });
        }
        if let Err(actual) = expected.check(tail.version) {
            if let Some(done) = recognise_retry(ctx, batch).await? {
                return Ok(done);
            }
            return Err(StoreError::WrongExpectedVersion {
                stream: stream.clone(),
                expected,
                actual,
            });
        }
        match claim_all(ctx, batch, tail.sequence, tail.version).await? {
            Claimed::All => {}
            Claimed::Stored => {
                // An id is stored already: a retry, or a conflict.
                if let Some(done) = recognise_retry(ctx, batch).await? {
                    return Ok(done);
                }
                contention.wait(stream).await?;
                continue;
            }
            Claimed::Contended => {
                contention.wait(stream).await?;
                continue;
            }
        }
        let staged = super::unique::stage(
            ctx,
            stream,
            tail.sequence,
            batch.events[0].event_id,
            uniqueness.claims(),
            uniqueness.releases(),
        )
        .await?;
        if !staged {
            contention.wait(stream).await?;
            continue;
        }
        let count = batch.len();
        let version = tail.version + count;

        match publish_if_last(
            ctx.jetstream,
            subject.clone(),
            headers(Kind::Events, version, count, false),
            body.clone(),
            tail.sequence,
        )
        .await?
        {
            Published::Stored {
                sequence,
                duplicate: false,
            } => {
                return Ok(AppendResult {
                    version,
                    positions: (0..batch.events.len())
                        .map(|i| position(sequence, i))
                        .collect(),
                    deduplicated: false,
                });
            }
            Published::Stored {
                duplicate: true, ..
            } => {
                // The slot after the tail was taken within the dedup window: by this very
                // append (its retry), or by a racing writer (read again).
                if let Some(done) = recognise_retry(ctx, batch).await? {
                    return Ok(done);
                }
            }
            Published::Moved => {}
        }
        contention.wait(stream).await?;
    }
}

/// Backs off between attempts that lost a race, with jitter, and gives up after a while
/// with a retryable error, so that writers contending for one stream or one value cannot
/// spin against each other for ever.
#[derive(Default)]
struct Contention {
    attempts: u32,
}

impl Contention {
    /// Attempts before giving up.
    const LIMIT: u32 = 64;

    async fn wait(&mut self, stream: &StreamId) -> Result<(), StoreError> {
        self.attempts += 1;
        if self.attempts >= Self::LIMIT {
            return Err(StoreError::Nats {
                operation: "appending",
                reason: format!(
                    "stream {stream}: {} attempts lost a race with other writers",
                    self.attempts
                ),
                retryable: true,
            });
        }
        // 1 ms doubling up to 64 ms, each wait a random part of it.
        let ceiling = 1u64 << self.attempts.min(6);
        let nanos = u64::from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos()),
        );
        let wait = std::time::Duration::from_micros((nanos % (ceiling * 1000)).max(200));
        tokio::time::sleep(wait).await;
        Ok(())
    }
}

/// Tombstones a stream (see [`EventStore::delete_stream`](crate::EventStore::delete_stream)):
/// a message with no events, conditioned on the tail like an append, after which reads
/// report the stream deleted and appends are refused.
pub(crate) async fn delete(
    ctx: &ClaimsCtx<'_>,
    stream: &StreamId,
    expected: ExpectedVersion,
) -> Result<(), StoreError> {
    let subject = ctx.subjects.stream(stream);
    loop {
        let tail = tail(ctx.journal, &subject).await?;
        if tail.version == 0 && !tail.deleted {
            return Err(StoreError::StreamNotFound {
                stream: stream.clone(),
            });
        }
        if tail.deleted {
            return Err(StoreError::StreamDeleted {
                stream: stream.clone(),
            });
        }
        if let Err(actual) = expected.check(tail.version) {
            return Err(StoreError::WrongExpectedVersion {
                stream: stream.clone(),
                expected,
                actual,
            });
        }
        match publish_if_last(
            ctx.jetstream,
            subject.clone(),
            headers(Kind::Tombstone, tail.version, 0, true),
            Bytes::new(),
            tail.sequence,
        )
        .await?
        {
            Published::Stored { .. } => return Ok(()),
            Published::Moved => {}
        }
    }
}

/// How claiming a batch's ids went.
enum Claimed {
    /// Every id is claimed for this append.
    All,
    /// One is stored already.
    Stored,
    /// Another append to this stream, conditioned on the same sequence, holds one.
    Contended,
}

/// Claims every id of `batch` for an append conditioned on journal sequence `after` to a
/// stream at `version`. Fresh ids are claimed all at once; an id claimed before is
/// resolved first (a stale claim is taken over).
async fn claim_all(
    ctx: &ClaimsCtx<'_>,
    batch: &PreparedBatch,
    after: u64,
    version: u64,
) -> Result<Claimed, StoreError> {
    let claim_of = |i: usize| Claim {
        stream: batch.stream.to_string(),
        after,
        version: version + 1 + i as u64,
    };
    let first_tries = try_join_all(
        batch
            .events
            .iter()
            .enumerate()
            .map(|(i, e)| async move { ctx.claim(e.event_id, &claim_of(i), 0).await }),
    )
    .await?;
    for (i, claimed) in first_tries.into_iter().enumerate() {
        if claimed {
            continue;
        }
        let id = batch.events[i].event_id;
        loop {
            match ctx.holder(id, Some((&batch.stream, after))).await? {
                Holder::Stored(_) => return Ok(Claimed::Stored),
                Holder::Contended => return Ok(Claimed::Contended),
                Holder::Free { claim_sequence } => {
                    if ctx.claim(id, &claim_of(i), claim_sequence).await? {
                        break;
                    }
                }
            }
        }
    }
    Ok(Claimed::All)
}

/// `Some` if `batch` is an append already stored (its result, deduplicated); `None` if
/// none of its ids is stored; a conflict if some are, but not as this batch. Each append
/// that holds some of the ids is read once, so a retried batch of 100,000 events costs
/// one lookup, not 100,000.
async fn recognise_retry(
    ctx: &ClaimsCtx<'_>,
    batch: &PreparedBatch,
) -> Result<Option<AppendResult>, StoreError> {
    let mut found: HashMap<EventId, RecordedEvent> = HashMap::new();
    let mut stored = Vec::new();
    for event in &batch.events {
        if !found.contains_key(&event.event_id)
            && let Holder::Stored(events) = ctx.holder(event.event_id, None).await?
        {
            found.extend(events.into_iter().map(|e| (e.event_id, e)));
        }
        if let Some(e) = found.remove(&event.event_id) {
            stored.push(StoredId {
                event_id: e.event_id,
                stream_id: e.stream_id.to_string(),
                version: e.stream_version,
                position: e.position,
                event_type: e.event_type,
                schema_version: e.schema_version,
                payload: e.payload.as_str().to_owned(),
            });
        }
    }
    let stream: &StreamId = &batch.stream;
    resolve_retry(stream, &batch.events, stored)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::EventData;
    use crate::error::IdConflictReason;
    use crate::store::nats::testing::{TestStore, events};

    #[tokio::test]
    async fn appends_check_the_expected_version_and_take_positions() {
        let Some(store) = TestStore::open("versions", Duration::from_secs(120)).await else {
            return;
        };
        let first = store
            .append("account-1", ExpectedVersion::NoStream, events(3))
            .await
            .unwrap();
        assert_eq!(first.version, 3);
        assert!(first.positions.windows(2).all(|w| w[0] < w[1]));
        let second = store
            .append("account-1", ExpectedVersion::Exact(3), events(2))
            .await
            .unwrap();
        assert_eq!(second.version, 5);
        assert!(second.positions[0] > first.positions[2]);
        match store
            .append("account-1", ExpectedVersion::Exact(3), events(1))
            .await
        {
            Err(StoreError::WrongExpectedVersion { .. }) => {}
            other => panic!("expected a version conflict, got {other:?}"),
        }
        match store
            .append("account-2", ExpectedVersion::StreamExists, events(1))
            .await
        {
            Err(StoreError::WrongExpectedVersion { .. }) => {}
            other => panic!("expected a version conflict, got {other:?}"),
        }
        store.close().await;
    }

    #[tokio::test]
    async fn a_retry_is_recognised_beyond_the_dedup_window() {
        let Some(store) = TestStore::open("retry", Duration::from_millis(200)).await else {
            return;
        };
        let batch = events(3);
        let first = store
            .append("retry-1", ExpectedVersion::NoStream, batch.clone())
            .await
            .unwrap();
        // Within the window, and well after it: the same result, nothing written twice.
        for wait in [Duration::ZERO, Duration::from_millis(600)] {
            tokio::time::sleep(wait).await;
            for expected in [ExpectedVersion::NoStream, ExpectedVersion::Any] {
                let again = store
                    .append("retry-1", expected, batch.clone())
                    .await
                    .unwrap();
                assert!(again.deduplicated, "{expected:?} after {wait:?}");
                assert_eq!(again.positions, first.positions);
            }
        }
        let next = store
            .append("retry-1", ExpectedVersion::Any, events(1))
            .await
            .unwrap();
        assert_eq!(next.version, 4, "the retries wrote nothing");
        // Changed events under the same ids are no retry.
        let changed: Vec<EventData> = batch
            .iter()
            .map(|e| EventData::new("Counted", serde_json::json!({ "n": 99 })).with_id(e.id()))
            .collect();
        match store.append("retry-1", ExpectedVersion::Any, changed).await {
            Err(StoreError::EventIdConflict { reason, .. }) => {
                assert_eq!(reason, IdConflictReason::DifferentPayload)
            }
            other => panic!("expected an id conflict, got {other:?}"),
        }
        store.close().await;
    }

    #[tokio::test]
    async fn an_id_stored_in_one_stream_is_refused_in_another() {
        let Some(store) = TestStore::open("reuse", Duration::from_millis(200)).await else {
            return;
        };
        let event = EventData::new("X", serde_json::json!(1));
        store
            .append("a-1", ExpectedVersion::Any, vec![event.clone()])
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
        match store
            .append("b-1", ExpectedVersion::Any, vec![event.clone()])
            .await
        {
            Err(StoreError::EventIdConflict {
                event_id,
                existing_stream,
                existing_version,
                reason,
            }) => {
                assert_eq!(event_id, event.id());
                assert_eq!(existing_stream.as_str(), "a-1");
                assert_eq!(existing_version, 1);
                assert_eq!(reason, IdConflictReason::OtherStream);
            }
            other => panic!("expected an id conflict, got {other:?}"),
        }
        let subject = store
            .connected
            .subjects
            .stream(&StreamId::new("b-1").unwrap());
        assert_eq!(
            tail(&store.connected.journal, &subject)
                .await
                .unwrap()
                .version,
            0,
            "nothing was written to b-1"
        );
        store.close().await;
    }

    #[tokio::test]
    async fn racing_writers_of_one_stream_have_one_winner_per_version() {
        let Some(store) = TestStore::open("race", Duration::from_secs(120)).await else {
            return;
        };
        let store = std::sync::Arc::new(store);
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .append("hot-1", ExpectedVersion::Exact(0), events(2))
                        .await
                })
            })
            .collect();
        let mut won = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(result) => {
                    won += 1;
                    assert_eq!(result.version, 2);
                }
                Err(StoreError::WrongExpectedVersion { .. }) => {}
                Err(other) => panic!("unexpected: {other}"),
            }
        }
        assert_eq!(won, 1);
        // With `Any`, every one of them lands, each at its own versions.
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(
                    async move { store.append("hot-1", ExpectedVersion::Any, events(2)).await },
                )
            })
            .collect();
        let mut versions = Vec::new();
        for task in tasks {
            versions.push(task.await.unwrap().unwrap().version);
        }
        versions.sort_unstable();
        assert_eq!(versions, (2..=9).map(|i| i * 2).collect::<Vec<u64>>());
        std::sync::Arc::try_unwrap(store)
            .ok()
            .unwrap()
            .close()
            .await;
    }

    #[tokio::test]
    async fn a_claim_whose_append_never_came_is_fenced_and_taken_over() {
        let Some(store) = TestStore::open("stale", Duration::from_millis(200)).await else {
            return;
        };
        let event = EventData::new("X", serde_json::json!(1));
        // A writer claimed the id for `lost-1` and died before publishing.
        let ctx = store.ctx();
        let claimed = ctx
            .claim(
                event.id(),
                &Claim {
                    stream: "lost-1".into(),
                    after: 0,
                    version: 1,
                },
                0,
            )
            .await
            .unwrap();
        assert!(claimed);
        let done = store
            .append("found-1", ExpectedVersion::NoStream, vec![event.clone()])
            .await
            .unwrap();
        assert_eq!(done.version, 1);
        // The dead writer's append can no longer land: its subject was fenced.
        let lost = store
            .connected
            .subjects
            .stream(&StreamId::new("lost-1").unwrap());
        let fenced = tail(&store.connected.journal, &lost).await.unwrap();
        assert!(fenced.sequence > 0);
        assert_eq!(fenced.version, 0, "a fence adds no event");
        let late = publish_if_last(
            &store.connected.jetstream,
            lost.clone(),
            headers(Kind::Events, 1, 1, false),
            Bytes::from_static(b"[]"),
            0,
        )
        .await
        .unwrap();
        // Its slot is taken (by the fence): refused, or answered as a duplicate of the
        // fence, but not stored.
        assert!(
            !matches!(
                late,
                Published::Stored {
                    duplicate: false,
                    ..
                }
            ),
            "{late:?}"
        );
        let after = tail(&store.connected.journal, &lost).await.unwrap();
        assert_eq!(after, fenced, "nothing of the dead writer's append landed");
        // The fenced stream still takes appends as a new stream.
        let fresh = store
            .append("lost-1", ExpectedVersion::NoStream, events(1))
            .await
            .unwrap();
        assert_eq!(fresh.version, 1);
        store.close().await;
    }

    #[tokio::test]
    async fn a_retry_racing_its_original_is_stored_once() {
        let Some(store) = TestStore::open("twins", Duration::from_secs(120)).await else {
            return;
        };
        let store = std::sync::Arc::new(store);
        for round in 0..5 {
            let batch = events(3);
            let stream = format!("twin-{round}");
            let runs: Vec<_> = (0..4)
                .map(|_| {
                    let (store, batch, stream) = (store.clone(), batch.clone(), stream.clone());
                    tokio::spawn(
                        async move { store.append(&stream, ExpectedVersion::Any, batch).await },
                    )
                })
                .collect();
            let mut results = Vec::new();
            for run in runs {
                results.push(run.await.unwrap().unwrap());
            }
            assert_eq!(
                results.iter().filter(|r| !r.deduplicated).count(),
                1,
                "round {round}"
            );
            assert!(results.iter().all(|r| r.positions == results[0].positions));
            let tail = tail(
                &store.connected.journal,
                &store
                    .connected
                    .subjects
                    .stream(&StreamId::new(&stream).unwrap()),
            )
            .await
            .unwrap();
            assert_eq!(tail.version, 3, "stored once");
        }
        std::sync::Arc::try_unwrap(store)
            .ok()
            .unwrap()
            .close()
            .await;
    }
}
