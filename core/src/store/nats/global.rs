//! The global log on JetStream: the journal read in sequence order by an ordered
//! consumer from the sequence of a start position, ending at the head it found, with the
//! head itself (the last event's position).

use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::consumer::pull::OrderedConfig;
use async_nats::jetstream::stream::Stream;
use futures_util::stream::{self, StreamExt, TryStreamExt};

use super::journal::{header_of, message_at, nats_error};
use super::message::{Kind, decode_events, position, sequence_of};
use super::subjects::Subjects;
use crate::store::{EventStream, ReadAll};
use crate::{Position, RecordedEvent, StoreError};

/// The position of the last event in the journal ([`Position::START`] when it has none).
/// Messages without events (tombstones, fences) are passed over.
pub(crate) async fn head(journal: &Stream) -> Result<Position, StoreError> {
    let info = journal
        .get_info()
        .await
        .map_err(|e| nats_error("reading the journal's state", true, e))?;
    let mut sequence = info.state.last_sequence;
    while sequence >= info.state.first_sequence.max(1) {
        let message = message_at(journal, sequence).await?;
        let header = header_of(&message)?;
        if header.kind == Kind::Events && header.count > 0 {
            return Ok(position(sequence, header.count as usize - 1));
        }
        sequence -= 1;
    }
    Ok(Position::START)
}

/// The global log from `options.from`, as
/// [`EventStore::read_all`](crate::EventStore::read_all) reads it: in position order,
/// filtered, ending at the head found when the read began; a start more than one past
/// the head is [`StoreError::PositionBeyondHead`].
pub(crate) fn read_all<'a>(
    journal: &'a Stream,
    subjects: &'a Subjects,
    options: ReadAll,
) -> EventStream<'a> {
    if options.limit == Some(0) {
        return stream::empty().boxed();
    }
    let limit = options.limit.unwrap_or(usize::MAX);
    let from = options.from;
    let read = async move {
        let head = head(journal).await?;
        if from > head.next() {
            return Err(StoreError::PositionBeyondHead {
                requested: from,
                head,
            });
        }
        // Positions below the first message's (`Position(1)`, a checkpoint's `next()` of
        // the start) read from the first event.
        let (start_sequence, start_index) = match sequence_of(from) {
            (0, _) => (1, 0),
            at => at,
        };
        let (head_sequence, _) = sequence_of(head);
        if head == Position::START || start_sequence > head_sequence {
            return Ok(stream::empty().boxed());
        }
        // One category is a subject filter on the server; more are filtered here.
        let filter_subject = match options.categories.as_slice() {
            [category] => subjects.category(category),
            _ => subjects.journal(),
        };
        let consumer = journal
            .create_consumer(OrderedConfig {
                deliver_policy: DeliverPolicy::ByStartSequence { start_sequence },
                filter_subject,
                ..OrderedConfig::default()
            })
            .await
            .map_err(|e| nats_error("reading the global log", true, e))?;
        if consumer.cached_info().num_pending == 0 {
            return Ok(stream::empty().boxed());
        }
        let messages = consumer
            .messages()
            .await
            .map_err(|e| nats_error("reading the global log", true, e))?;
        // Messages up to the head found above; the consumer's count of what is left
        // ends the read when the head is the last message it has.
        let events =
            stream::try_unfold((messages, false), move |(mut messages, done)| async move {
                if done {
                    return Ok::<_, StoreError>(None);
                }
                let Some(message) = messages.next().await else {
                    return Ok(None);
                };
                let message = message.map_err(|e| nats_error("reading the global log", true, e))?;
                let info = message
                    .info()
                    .map_err(|e| nats_error("reading the global log", true, e))?;
                let sequence = info.stream_sequence;
                let last = info.pending == 0 || sequence >= head_sequence;
                if sequence > head_sequence {
                    return Ok(None);
                }
                let events =
                    events_of(subjects, &message, sequence)?
                        .into_iter()
                        .filter(move |e| {
                            !(sequence == start_sequence && sequence_of(e.position).1 < start_index)
                        });
                Ok(Some((stream::iter(events.map(Ok)), (messages, last))))
            })
            .try_flatten()
            .try_filter(move |e| std::future::ready(options.matches(e)));
        Ok(events.boxed())
    };
    stream::once(read).try_flatten().take(limit).boxed()
}

/// The events of a journal message read by a consumer.
fn events_of(
    subjects: &Subjects,
    message: &async_nats::jetstream::Message,
    sequence: u64,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let Some(stream) = subjects.stream_of(message.subject.as_str()) else {
        return Err(StoreError::Corrupt {
            position: position(sequence, 0),
            reason: format!(
                "journal message {sequence} is on {}, no stream's subject",
                message.subject
            ),
        });
    };
    let headers = message.headers.clone().unwrap_or_default();
    let get = |name: &str| headers.get(name).map(|v| v.as_str().to_owned());
    let kind = get(super::message::KIND).as_deref().and_then(Kind::parse);
    if kind != Some(Kind::Events) {
        return Ok(Vec::new());
    }
    let version = get(super::message::VERSION)
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(|| StoreError::Corrupt {
            position: position(sequence, 0),
            reason: format!("journal message {sequence} has no valid version header"),
        })?;
    decode_events(&stream, sequence, version, &message.payload)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::store::nats::testing::{TestStore, events};
    use crate::{EventData, ExpectedVersion};

    async fn read(store: &TestStore, options: ReadAll) -> Result<Vec<RecordedEvent>, StoreError> {
        let c = &store.connected;
        read_all(&c.journal, &c.subjects, options)
            .try_collect()
            .await
    }

    #[tokio::test]
    async fn the_global_log_reads_in_position_order_from_any_position() {
        let Some(store) = TestStore::open("global", Duration::from_secs(120)).await else {
            return;
        };
        let c = &store.connected;
        assert_eq!(head(&c.journal).await.unwrap(), Position::START);
        assert!(
            read(&store, ReadAll::from(Position::START))
                .await
                .unwrap()
                .is_empty()
        );
        let mut positions = Vec::new();
        for (stream, n) in [("order-1", 3), ("cart-1", 2), ("order-2", 1), ("cart-1", 4)] {
            let done = store
                .append(stream, ExpectedVersion::Any, events(n))
                .await
                .unwrap();
            positions.extend(done.positions);
        }
        let typed = EventData::new("Special", serde_json::json!({}));
        positions.extend(
            store
                .append("misc-1", ExpectedVersion::Any, vec![typed])
                .await
                .unwrap()
                .positions,
        );
        assert_eq!(head(&c.journal).await.unwrap(), *positions.last().unwrap());

        let all = read(&store, ReadAll::from(Position::START)).await.unwrap();
        assert_eq!(
            all.iter().map(|e| e.position).collect::<Vec<_>>(),
            positions
        );
        // Any position below the first event's reads from it.
        for start in [Position(1), Position(positions[0].0 - 1)] {
            let from_below = read(&store, ReadAll::from(start)).await.unwrap();
            assert_eq!(from_below.len(), positions.len(), "from {start:?}");
        }
        // From inside a batch, with a limit.
        let some = read(&store, ReadAll::from(positions[4]).limit(3))
            .await
            .unwrap();
        assert_eq!(
            some.iter().map(|e| e.position).collect::<Vec<_>>(),
            positions[4..7]
        );
        // Resuming after the last one reads nothing; further is beyond the head.
        let last = *positions.last().unwrap();
        assert!(
            read(&store, ReadAll::from(last.next()))
                .await
                .unwrap()
                .is_empty()
        );
        assert!(matches!(
            read(&store, ReadAll::from(Position(last.next().0 + 1))).await,
            Err(StoreError::PositionBeyondHead { .. })
        ));
        // Filters: one category (on the server), two, and an event type.
        let carts = read(&store, ReadAll::from(Position::START).categories(["cart"]))
            .await
            .unwrap();
        assert_eq!(carts.len(), 6);
        assert!(carts.iter().all(|e| e.stream_id.as_str() == "cart-1"));
        let two = read(
            &store,
            ReadAll::from(positions[3]).categories(["cart", "misc"]),
        )
        .await
        .unwrap();
        assert_eq!(two.len(), 7);
        let special = read(
            &store,
            ReadAll::from(Position::START).event_types(["Special"]),
        )
        .await
        .unwrap();
        assert_eq!(special.len(), 1);
        assert_eq!(special[0].stream_id.as_str(), "misc-1");
        store.close().await;
    }
}
