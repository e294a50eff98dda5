//! The journal's primitives: a stream's state from its last message, the message after a
//! sequence on a subject, and publishing conditioned on a subject's last sequence (the
//! server's check, with no window between reading and writing).

use async_nats::HeaderMap;
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::message::{PublishMessage, StreamMessage};
use async_nats::jetstream::stream::{RawMessageError, RawMessageErrorKind, Stream};
use bytes::Bytes;

use super::message::{COUNT, DELETED, KIND, Kind, VERSION};
use crate::StoreError;

/// A stream's state, as its last journal message says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tail {
    /// The journal sequence of the subject's last message; 0 if it has none.
    pub sequence: u64,
    /// The stream version (0: no events).
    pub version: u64,
    /// Whether a tombstone was written.
    pub deleted: bool,
}

impl Tail {
    /// A stream with no message.
    pub(crate) const EMPTY: Tail = Tail {
        sequence: 0,
        version: 0,
        deleted: false,
    };
}

/// What one journal message says in its headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub kind: Kind,
    /// The stream version after the message.
    pub version: u64,
    /// How many events it holds.
    pub count: u64,
    /// Whether the stream is deleted after it.
    pub deleted: bool,
}

/// The headers of a journal message of `kind` leaving the stream at `version`.
pub(crate) fn headers(kind: Kind, version: u64, count: u64, deleted: bool) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(KIND, kind.as_str());
    headers.insert(VERSION, version.to_string());
    headers.insert(COUNT, count.to_string());
    if deleted {
        headers.insert(DELETED, "true");
    }
    headers
}

/// Reads a journal message's headers; a message Factum did not write is corrupt.
pub(crate) fn header_of(message: &StreamMessage) -> Result<Header, StoreError> {
    let get = |name: &str| message.headers.get(name).map(|v| v.as_str().to_owned());
    let corrupt = |what: &str| StoreError::Corrupt {
        position: super::message::position(message.sequence, 0),
        reason: format!(
            "journal message {} on {} has no valid {what} header: it was not written by Factum",
            message.sequence, message.subject
        ),
    };
    let kind = get(KIND)
        .as_deref()
        .and_then(Kind::parse)
        .ok_or_else(|| corrupt(KIND))?;
    let number = |name: &str| {
        get(name)
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| corrupt(name))
    };
    let (version, count) = (number(VERSION)?, number(COUNT)?);
    if count > version {
        return Err(corrupt(COUNT));
    }
    Ok(Header {
        kind,
        version,
        count,
        deleted: get(DELETED).as_deref() == Some("true"),
    })
}

/// A NATS failure as a store error; timeouts and lost connections may pass.
pub(crate) fn nats_error(
    operation: &'static str,
    retryable: bool,
    reason: impl ToString,
) -> StoreError {
    StoreError::Nats {
        operation,
        reason: reason.to_string(),
        retryable,
    }
}

/// The last message on `subject`, if any. Asked of the stream's leader, not of a replica
/// that may lag: appends, claims and fences decide on it.
pub(crate) async fn last_on(
    journal: &Stream,
    subject: &str,
) -> Result<Option<StreamMessage>, StoreError> {
    let answer = journal
        .raw_message_builder()
        .last_by_subject(subject.to_owned())
        .send()
        .await;
    leader_answer(answer, "reading a stream's last message")
}

/// A leader's answer to a message lookup: none found is `None`.
fn leader_answer(
    answer: Result<StreamMessage, RawMessageError>,
    operation: &'static str,
) -> Result<Option<StreamMessage>, StoreError> {
    match answer {
        Ok(message) => Ok(Some(message)),
        Err(e) if e.kind() == RawMessageErrorKind::NoMessageFound => Ok(None),
        Err(e) => Err(nats_error(
            operation,
            !matches!(e.kind(), RawMessageErrorKind::InvalidSubject),
            e,
        )),
    }
}

/// The journal message at `sequence`, from the stream's leader.
pub(crate) async fn message_at(
    journal: &Stream,
    sequence: u64,
) -> Result<StreamMessage, StoreError> {
    let answer = journal.get_raw_message(sequence).await;
    leader_answer(answer, "reading a journal message")?.ok_or_else(|| StoreError::Corrupt {
        position: super::message::position(sequence, 0),
        reason: format!("journal message {sequence} is missing"),
    })
}

/// The state of the stream whose subject is `subject`.
pub(crate) async fn tail(journal: &Stream, subject: &str) -> Result<Tail, StoreError> {
    let Some(message) = last_on(journal, subject).await? else {
        return Ok(Tail::EMPTY);
    };
    let header = header_of(&message)?;
    Ok(Tail {
        sequence: message.sequence,
        version: header.version,
        deleted: header.deleted || header.kind == Kind::Tombstone,
    })
}

/// The first message on `subject` at or after journal sequence `from`, if any, from the
/// stream's leader.
pub(crate) async fn next_on(
    journal: &Stream,
    subject: &str,
    from: u64,
) -> Result<Option<StreamMessage>, StoreError> {
    let answer = journal
        .raw_message_builder()
        .next_by_subject(subject.to_owned())
        .sequence(from.max(1))
        .send()
        .await;
    leader_answer(answer, "reading a stream's next message")
}

/// How a conditioned publish ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Published {
    /// Stored at this journal sequence; or, when `duplicate`, the slot after the expected
    /// sequence was taken already within the server's window, by the message at
    /// `sequence` (this one sent again, or another writer's: only the caller can tell).
    Stored { sequence: u64, duplicate: bool },
    /// The subject's last sequence was no longer the one expected: nothing was written.
    Moved,
}

/// Publishes `body` on `subject` if the subject's last message is still at
/// `expected_last` (0: the subject has no message).
pub(crate) async fn publish_if_last(
    jetstream: &async_nats::jetstream::Context,
    subject: String,
    headers: HeaderMap,
    body: Bytes,
    expected_last: u64,
) -> Result<Published, StoreError> {
    // The slot after `expected_last` on `subject` is taken by one message at most: the
    // server's deduplication refuses a second message with the same id within its window,
    // which is where racing writers meet (a replicated stream on a 2.9 server does not
    // hold the subject check alone against concurrent publishes; see docs/JETSTREAM.md).
    let message = PublishMessage::build()
        .payload(body)
        .headers(headers)
        .expected_last_subject_sequence(expected_last)
        .message_id(format!("{subject}#{expected_last}"));
    let failed = |e: async_nats::jetstream::context::PublishError| match e.kind() {
        PublishErrorKind::WrongLastSequence => Ok(Published::Moved),
        PublishErrorKind::MaxPayloadExceeded => Err(nats_error(
            "publishing",
            false,
            format!("{e}: the append is larger than the server's max_payload; split it"),
        )),
        PublishErrorKind::StreamNotFound => Err(nats_error(
            "publishing",
            false,
            format!("{e}: the store's JetStream stream is gone"),
        )),
        PublishErrorKind::TimedOut
        | PublishErrorKind::BrokenPipe
        | PublishErrorKind::MaxAckPending => Err(nats_error("publishing", true, e)),
        // The server refused the message: a full stream (its byte limit, with old events
        // never discarded), no storage left, or another refusal that a retry will meet
        // again until an operator acts.
        _ => Err(nats_error("publishing", false, e)),
    };
    let ack = match jetstream.send_publish(subject, message).await {
        Ok(ack) => ack,
        Err(e) => return failed(e),
    };
    match ack.await {
        Ok(ack) => Ok(Published::Stored {
            sequence: ack.sequence,
            duplicate: ack.duplicate,
        }),
        Err(e) => failed(e),
    }
}
