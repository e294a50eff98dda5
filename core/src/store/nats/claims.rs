//! Event-id claims: which stream holds each event id, so that an id is stored at most
//! once across all streams and a retried append is recognised after any delay, whatever
//! the server's deduplication window (the protocol is in `docs/JETSTREAM.md`).
//!
//! A claim names the stream, the journal sequence the claiming append is conditioned on
//! (`after`), and the version the event takes there. The message after `after` on that
//! stream's subject decides: it holds the id (stored), or something else (the claimed
//! append can never land: the claim is stale). With nothing after `after`, the append
//! may still be in flight, so the resolver fences the subject at `after` first.

use async_nats::HeaderMap;
use async_nats::jetstream::message::StreamMessage;
use async_nats::jetstream::stream::Stream;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::journal::{
    Published, header_of, headers, last_on, message_at, nats_error, next_on, publish_if_last,
};
use super::message::{Kind, decode_events, position};
use super::subjects::Subjects;
use crate::{EventId, RecordedEvent, StoreError, StreamId};

/// What a claim message says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Claim {
    /// The stream the claiming append writes to.
    pub stream: String,
    /// The journal sequence the claiming append is conditioned on (its subject's last).
    pub after: u64,
    /// The version the event takes in that append.
    pub version: u64,
}

/// Who holds an event id.
#[derive(Debug)]
pub(crate) enum Holder {
    /// It is stored: these are the events of the append that holds it (the id among
    /// them), as read back, so that a caller resolving many ids decodes each append once.
    Stored(Vec<RecordedEvent>),
    /// Nobody: a new claim is conditioned on the claim subject's last sequence
    /// (`claim_sequence`, 0 when the id was never claimed).
    Free { claim_sequence: u64 },
    /// Claimed by another append to the caller's own stream conditioned on the same
    /// sequence, not stored yet: the two exclude each other when they publish, so the
    /// caller does not fence it (it would fence itself), but waits and reads again.
    Contended,
}

/// The handles claims work with.
pub(crate) struct ClaimsCtx<'a> {
    /// The largest message the server takes.
    pub max_payload: usize,
    pub jetstream: &'a async_nats::jetstream::Context,
    pub journal: &'a Stream,
    pub claims: &'a Stream,
    pub subjects: &'a Subjects,
}

impl ClaimsCtx<'_> {
    /// Claims `id` as `claim` says if its claim subject is still at `claim_sequence`:
    /// `false` if it moved (another writer claimed it first; resolve it again).
    pub(crate) async fn claim(
        &self,
        id: EventId,
        claim: &Claim,
        claim_sequence: u64,
    ) -> Result<bool, StoreError> {
        let body =
            serde_json::to_vec(claim).map_err(|e| nats_error("writing a claim", false, e))?;
        let published = publish_if_last(
            self.jetstream,
            self.subjects.event_id_claim(id),
            HeaderMap::new(),
            Bytes::from(body),
            claim_sequence,
        )
        .await?;
        Ok(matches!(
            published,
            Published::Stored {
                duplicate: false,
                ..
            }
        ))
    }

    /// Who holds `id`. Resolving a claim whose append might still land fences that append
    /// out first, so the answer stays true; unless that append is conditioned on the
    /// caller's own (`own`: its stream and sequence), which would fence the caller too.
    pub(crate) async fn holder(
        &self,
        id: EventId,
        own: Option<(&StreamId, u64)>,
    ) -> Result<Holder, StoreError> {
        let subject = self.subjects.event_id_claim(id);
        loop {
            let Some(message) = last_on(self.claims, &subject).await? else {
                return Ok(Holder::Free { claim_sequence: 0 });
            };
            let free = Holder::Free {
                claim_sequence: message.sequence,
            };
            let claim: Claim =
                serde_json::from_slice(&message.payload).map_err(|e| StoreError::Corrupt {
                    position: position(0, 0),
                    reason: format!("the claim of event id {id} cannot be read: {e}"),
                })?;
            let stream = StreamId::new(&claim.stream).map_err(|e| StoreError::Corrupt {
                position: position(0, 0),
                reason: format!("the claim of event id {id} names no valid stream: {e}"),
            })?;
            let stream_subject = self.subjects.stream(&stream);
            match next_on(self.journal, &stream_subject, claim.after + 1).await? {
                Some(next) => {
                    let events = self.events_in(&stream, &next)?;
                    return Ok(if events.iter().any(|e| e.event_id == id) {
                        Holder::Stored(events)
                    } else {
                        free
                    });
                }
                None => {
                    if own == Some((&stream, claim.after)) {
                        return Ok(Holder::Contended);
                    }
                    if self.fence(&stream_subject, claim.after).await? {
                        return Ok(free);
                    }
                    // The subject moved meanwhile: what came after `after` decides.
                }
            }
        }
    }

    /// Whether the append to `stream` conditioned on journal sequence `after`, whose
    /// first event is `first`, was stored. An append that may still be in flight is
    /// fenced out first, so a `false` stays false; `None` if that append is conditioned
    /// on the caller's own (`own`), which a fence would stop too.
    pub(crate) async fn landed(
        &self,
        stream: &StreamId,
        after: u64,
        first: EventId,
        own: Option<(&StreamId, u64)>,
    ) -> Result<Option<bool>, StoreError> {
        let subject = self.subjects.stream(stream);
        loop {
            match next_on(self.journal, &subject, after + 1).await? {
                Some(next) => {
                    let header = header_of(&next)?;
                    if header.kind != Kind::Events {
                        return Ok(Some(false));
                    }
                    let events =
                        decode_events(stream, next.sequence, header.version, &next.payload)?;
                    return Ok(Some(events.first().is_some_and(|e| e.event_id == first)));
                }
                None => {
                    if own == Some((stream, after)) {
                        return Ok(None);
                    }
                    if self.fence(&subject, after).await? {
                        return Ok(Some(false));
                    }
                }
            }
        }
    }

    /// The events of the journal message `message` of `stream` (none for a tombstone or
    /// a fence).
    fn events_in(
        &self,
        stream: &StreamId,
        message: &StreamMessage,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let header = header_of(message)?;
        if header.kind != Kind::Events {
            return Ok(Vec::new());
        }
        decode_events(stream, message.sequence, header.version, &message.payload)
    }

    /// Writes an empty message on `subject` if its last message is still at `after`, so
    /// that an append conditioned on `after` can never land. `false` if the subject moved.
    pub(crate) async fn fence(&self, subject: &str, after: u64) -> Result<bool, StoreError> {
        // The fence keeps the stream's state: the version and deletion of the message at
        // `after` (none: a new stream).
        let (version, deleted) = if after == 0 {
            (0, false)
        } else {
            let at = message_at(self.journal, after).await?;
            let header = header_of(&at)?;
            (
                header.version,
                header.deleted || header.kind == Kind::Tombstone,
            )
        };
        let published = publish_if_last(
            self.jetstream,
            subject.to_owned(),
            headers(Kind::Fence, version, 0, deleted),
            Bytes::new(),
            after,
        )
        .await?;
        Ok(matches!(
            published,
            Published::Stored {
                duplicate: false,
                ..
            }
        ))
    }
}
