//! Reading one stream from the journal: its events forward or backward, message by
//! message as the reader pulls them, and its state (`stream_info`).

use chrono::{DateTime, Utc};
use futures_util::stream::{self, StreamExt, TryStreamExt};

use super::journal::{Tail, header_of, last_on, nats_error, next_on, tail};
use super::message::{Kind, decode_events};
use super::subjects::Subjects;
use crate::store::{Direction, EventStream, ReadStream, StreamInfo};
use crate::{RecordedEvent, StoreError, StreamId};
use async_nats::jetstream::message::StreamMessage;
use async_nats::jetstream::stream::Stream;

/// The events of one journal message, if it holds events.
fn events_of(stream: &StreamId, message: &StreamMessage) -> Result<Vec<RecordedEvent>, StoreError> {
    let header = header_of(message)?;
    if header.kind != Kind::Events {
        return Ok(Vec::new());
    }
    decode_events(stream, message.sequence, header.version, &message.payload)
}

/// When a journal message was stored.
fn time_of(message: &StreamMessage) -> DateTime<Utc> {
    let nanos = message.time.unix_timestamp_nanos();
    DateTime::from_timestamp_nanos(i64::try_from(nanos).unwrap_or(i64::MAX))
}

/// The stream's version and deletion, or `None` if it has no events and no tombstone.
pub(crate) async fn stream_info(
    journal: &Stream,
    subjects: &Subjects,
    stream: &StreamId,
) -> Result<Option<StreamInfo>, StoreError> {
    let subject = subjects.stream(stream);
    let Some(last) = last_on(journal, &subject).await? else {
        return Ok(None);
    };
    let header = header_of(&last)?;
    let deleted = header.deleted || header.kind == Kind::Tombstone;
    if header.version == 0 && !deleted {
        // Only fences: the stream has no events.
        return Ok(None);
    }
    let deleted_at = if deleted {
        Some(time_of(
            &tombstone_of(journal, &subject).await?.unwrap_or(last),
        ))
    } else {
        None
    };
    Ok(Some(StreamInfo {
        stream_id: stream.clone(),
        version: header.version,
        deleted_at,
    }))
}

/// Streams of a category in byte order of their ids, after `after`, at most `limit`, as
/// [`EventStore::list_streams`](crate::EventStore::list_streams) lists them: from the
/// journal's subjects under the category (a stream with only fences has no events and is
/// left out).
pub(crate) async fn list_streams(
    journal: &Stream,
    subjects: &Subjects,
    category: &str,
    after: Option<&StreamId>,
    limit: usize,
) -> Result<Vec<StreamInfo>, StoreError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let listed = journal
        .info_with_subjects(subjects.category(category))
        .await
        .map_err(|e| nats_error("listing a category's streams", true, e))?;
    let found: Vec<(String, usize)> = listed
        .try_collect()
        .await
        .map_err(|e| nats_error("listing a category's streams", true, e))?;
    let mut ids: Vec<StreamId> = found
        .into_iter()
        .filter_map(|(subject, _)| subjects.stream_of(&subject))
        .filter(|id| id.category() == category && after.is_none_or(|a| id > a))
        .collect();
    ids.sort();
    let mut out = Vec::new();
    for id in ids {
        if out.len() == limit {
            break;
        }
        if let Some(info) = stream_info(journal, subjects, &id).await? {
            out.push(info);
        }
    }
    Ok(out)
}

/// The tombstone of a deleted stream's subject (fences may follow it).
async fn tombstone_of(
    journal: &Stream,
    subject: &str,
) -> Result<Option<StreamMessage>, StoreError> {
    let mut from = 1;
    while let Some(message) = next_on(journal, subject, from).await? {
        if header_of(&message)?.kind == Kind::Tombstone {
            return Ok(Some(message));
        }
        from = message.sequence + 1;
    }
    Ok(None)
}

/// One stream's events as [`EventStore::read_stream`](crate::EventStore::read_stream)
/// reads them: a deleted stream fails unless its history is asked for, a limit of 0
/// reads nothing.
pub(crate) fn read_stream<'a>(
    journal: &'a Stream,
    subjects: &'a Subjects,
    stream: &StreamId,
    options: ReadStream,
) -> EventStream<'a> {
    if options.limit == Some(0) {
        return stream::empty().boxed();
    }
    let stream = stream.clone();
    let subject = subjects.stream(&stream);
    let (lowest, highest) = options.version_range();
    let limit = options.limit.unwrap_or(usize::MAX);
    let read = async move {
        let state: Tail = tail(journal, &subject).await?;
        if state.deleted && !options.include_deleted {
            return Err(StoreError::StreamDeleted { stream });
        }
        let events: EventStream<'a> = match options.direction {
            Direction::Forward => forward(journal, subject, stream, lowest).boxed(),
            Direction::Backward => backward(journal, subject, stream, highest, state.sequence)
                .await?
                .boxed(),
        };
        Ok(events)
    };
    stream::once(read)
        .try_flatten()
        .try_filter(move |e| {
            std::future::ready(e.stream_version >= lowest && e.stream_version <= highest)
        })
        .take(limit)
        .boxed()
}

/// Events from version `lowest` up, one message fetched at a time as they are pulled.
fn forward<'a>(
    journal: &'a Stream,
    subject: String,
    stream: StreamId,
    lowest: u64,
) -> impl futures_util::Stream<Item = Result<RecordedEvent, StoreError>> + Send + 'a {
    stream::try_unfold(1u64, move |from| {
        let subject = subject.clone();
        let stream = stream.clone();
        async move {
            let mut from = from;
            loop {
                let Some(message) = next_on(journal, &subject, from).await? else {
                    return Ok::<_, StoreError>(None);
                };
                let next = message.sequence + 1;
                let header = header_of(&message)?;
                // Skip whole messages below the first version asked for.
                if header.kind != Kind::Events || header.version < lowest {
                    from = next;
                    continue;
                }
                let events = events_of(&stream, &message)?;
                return Ok(Some((stream::iter(events.into_iter().map(Ok)), next)));
            }
        }
    })
    .try_flatten()
}

/// Events from version `highest` down. The journal reads a subject forwards only, so a
/// forward pass lists the sequences of the messages that hold such events, then they are
/// fetched again newest first as the reader pulls them.
async fn backward<'a>(
    journal: &'a Stream,
    subject: String,
    stream: StreamId,
    highest: u64,
    last: u64,
) -> Result<
    impl futures_util::Stream<Item = Result<RecordedEvent, StoreError>> + Send + 'a,
    StoreError,
> {
    let mut sequences = Vec::new();
    let mut from = 1;
    while from <= last {
        let Some(message) = next_on(journal, &subject, from).await? else {
            break;
        };
        let header = header_of(&message)?;
        if header.kind == Kind::Events && header.version - header.count < highest {
            sequences.push(message.sequence);
        }
        from = message.sequence + 1;
    }
    Ok(stream::iter(sequences.into_iter().rev())
        .then(move |sequence| {
            let stream = stream.clone();
            async move {
                let message = journal
                    .direct_get(sequence)
                    .await
                    .map_err(|e| nats_error("reading a journal message", true, e))?;
                let mut events = events_of(&stream, &message)?;
                events.reverse();
                Ok::<_, StoreError>(stream::iter(events.into_iter().map(Ok)))
            }
        })
        .try_flatten())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::ExpectedVersion;
    use crate::store::nats::append::delete;
    use crate::store::nats::testing::{TestStore, events};

    async fn read(
        store: &TestStore,
        stream: &str,
        options: ReadStream,
    ) -> Result<Vec<u64>, StoreError> {
        let stream = StreamId::new(stream).unwrap();
        let c = &store.connected;
        read_stream(&c.journal, &c.subjects, &stream, options)
            .map_ok(|e| e.stream_version)
            .try_collect()
            .await
    }

    #[tokio::test]
    async fn a_stream_reads_forward_and_backward_from_any_version() {
        let Some(store) = TestStore::open("reads", Duration::from_secs(120)).await else {
            return;
        };
        // Five appends of 1 to 5 events (15 in all), another stream's between them.
        for n in 1..=5 {
            store
                .append("order-1", ExpectedVersion::Any, events(n))
                .await
                .unwrap();
            store
                .append("order-2", ExpectedVersion::Any, events(1))
                .await
                .unwrap();
        }
        let all: Vec<u64> = (1..=15).collect();
        assert_eq!(
            read(&store, "order-1", ReadStream::forward())
                .await
                .unwrap(),
            all
        );
        assert_eq!(
            read(&store, "order-1", ReadStream::forward().from(5).limit(4))
                .await
                .unwrap(),
            [5, 6, 7, 8]
        );
        let mut down = all.clone();
        down.reverse();
        assert_eq!(
            read(&store, "order-1", ReadStream::backward())
                .await
                .unwrap(),
            down
        );
        assert_eq!(
            read(&store, "order-1", ReadStream::backward().from(9).limit(3))
                .await
                .unwrap(),
            [9, 8, 7]
        );
        assert!(
            read(&store, "order-1", ReadStream::forward().limit(0))
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            read(&store, "order-9", ReadStream::forward())
                .await
                .unwrap()
                .is_empty()
        );
        // Positions grow with versions, and the events are those appended.
        let c = &store.connected;
        let id = StreamId::new("order-2").unwrap();
        let events: Vec<RecordedEvent> =
            read_stream(&c.journal, &c.subjects, &id, ReadStream::forward())
                .try_collect()
                .await
                .unwrap();
        assert_eq!(events.len(), 5);
        assert!(events.windows(2).all(|w| w[0].position < w[1].position));
        assert!(
            events
                .iter()
                .all(|e| e.event_type == "Counted" && e.stream_id == id)
        );
        store.close().await;
    }

    #[tokio::test]
    async fn a_tombstoned_stream_keeps_its_history_and_takes_no_events() {
        let Some(store) = TestStore::open("tomb", Duration::from_secs(120)).await else {
            return;
        };
        let ctx = store.ctx();
        let c = &store.connected;
        let id = StreamId::new("cart-1").unwrap();
        assert!(matches!(
            delete(&ctx, &id, ExpectedVersion::Any).await,
            Err(StoreError::StreamNotFound { .. })
        ));
        store
            .append("cart-1", ExpectedVersion::NoStream, events(2))
            .await
            .unwrap();
        assert!(matches!(
            delete(&ctx, &id, ExpectedVersion::Exact(1)).await,
            Err(StoreError::WrongExpectedVersion { .. })
        ));
        assert_eq!(
            stream_info(&c.journal, &c.subjects, &id)
                .await
                .unwrap()
                .unwrap()
                .deleted_at,
            None
        );
        delete(&ctx, &id, ExpectedVersion::Exact(2)).await.unwrap();
        let info = stream_info(&c.journal, &c.subjects, &id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(info.version, 2);
        assert!(info.deleted_at.is_some());
        assert!(matches!(
            read(&store, "cart-1", ReadStream::forward()).await,
            Err(StoreError::StreamDeleted { .. })
        ));
        assert_eq!(
            read(&store, "cart-1", ReadStream::forward().including_deleted())
                .await
                .unwrap(),
            [1, 2]
        );
        assert!(matches!(
            store
                .append("cart-1", ExpectedVersion::Any, events(1))
                .await,
            Err(StoreError::StreamDeleted { .. })
        ));
        assert!(matches!(
            delete(&ctx, &id, ExpectedVersion::Any).await,
            Err(StoreError::StreamDeleted { .. })
        ));
        assert_eq!(
            stream_info(&c.journal, &c.subjects, &StreamId::new("cart-2").unwrap())
                .await
                .unwrap(),
            None
        );
        store.close().await;
    }

    #[tokio::test]
    async fn a_category_lists_its_streams_in_id_order_with_paging() {
        let Some(store) = TestStore::open("list", Duration::from_secs(120)).await else {
            return;
        };
        for id in ["user-b", "user-a", "user-c.x", "team-a", "user-a"] {
            store
                .append(id, ExpectedVersion::Any, events(1))
                .await
                .unwrap();
        }
        let ctx = store.ctx();
        delete(
            &ctx,
            &StreamId::new("user-b").unwrap(),
            ExpectedVersion::Any,
        )
        .await
        .unwrap();
        let c = &store.connected;
        let list = |after: Option<&'static str>, limit| {
            let after = after.map(|a| StreamId::new(a).unwrap());
            async move {
                list_streams(&c.journal, &c.subjects, "user", after.as_ref(), limit)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|i| (i.stream_id.to_string(), i.version, i.deleted_at.is_some()))
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(
            list(None, 10).await,
            [
                ("user-a".to_owned(), 2, false),
                ("user-b".to_owned(), 1, true),
                ("user-c.x".to_owned(), 1, false)
            ]
        );
        assert_eq!(list(None, 1).await.len(), 1);
        assert_eq!(list(Some("user-a"), 10).await.len(), 2);
        assert!(list(None, 0).await.is_empty());
        store.close().await;
    }
}
