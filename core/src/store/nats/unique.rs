//! Unique values on JetStream: each value's claims and releases are messages on its own
//! subject of the claims stream, each naming the append it belongs to; a message counts
//! only if that append was stored (an append still in flight is fenced out first). The
//! newest message that counts says who holds the value.

use async_nats::HeaderMap;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::claims::ClaimsCtx;
use super::journal::{Published, nats_error, next_on, publish_if_last};
use super::message::position;
use crate::store::UniqueValue;
use crate::{EventId, StoreError, StreamId};

/// A claim or release of a value by an append.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct ValueClaim {
    /// The stream the append writes to.
    stream: String,
    /// The journal sequence the append is conditioned on.
    after: u64,
    /// The append's first event id.
    append: EventId,
    /// A release, not a claim.
    release: bool,
}

/// Who holds a value, and the last sequence of its subject (to condition a change on).
pub(crate) struct Holding {
    pub holder: Option<StreamId>,
    pub last_sequence: u64,
}

/// Who holds `value` now; `None` if a claim or release of it by another append to the
/// caller's own stream (`own`: the stream and the sequence its append is conditioned
/// on) is still in flight (wait, and read again).
pub(crate) async fn holding(
    ctx: &ClaimsCtx<'_>,
    value: &UniqueValue,
    own: Option<(&StreamId, u64)>,
) -> Result<Option<Holding>, StoreError> {
    let subject = ctx.subjects.unique_claim(value);
    let mut history = Vec::new();
    let mut from = 1;
    while let Some(message) = next_on(ctx.claims, &subject, from).await? {
        from = message.sequence + 1;
        history.push(message);
    }
    let last_sequence = history.last().map_or(0, |m| m.sequence);
    for message in history.iter().rev() {
        let claim: ValueClaim =
            serde_json::from_slice(&message.payload).map_err(|e| StoreError::Corrupt {
                position: position(0, 0),
                reason: format!(
                    "a claim of {} {:?} cannot be read: {e}",
                    value.scope, value.value
                ),
            })?;
        let Ok(stream) = StreamId::new(&claim.stream) else {
            continue;
        };
        match ctx.landed(&stream, claim.after, claim.append, own).await? {
            Some(true) => {
                return Ok(Some(Holding {
                    holder: (!claim.release).then_some(stream),
                    last_sequence,
                }));
            }
            Some(false) => {}
            None => return Ok(None),
        }
    }
    Ok(Some(Holding {
        holder: None,
        last_sequence,
    }))
}

/// Writes the claims and releases of an append to `stream` conditioned on `after`
/// (first event `append`): a value another stream holds refuses it; claiming a held
/// value or releasing one not held is nothing to write. `false` if another append to
/// this stream, conditioned on the same sequence, is staging the same value (wait, and
/// start the append again).
pub(crate) async fn stage(
    ctx: &ClaimsCtx<'_>,
    stream: &StreamId,
    after: u64,
    append: EventId,
    claims: &[UniqueValue],
    releases: &[UniqueValue],
) -> Result<bool, StoreError> {
    for (values, release) in [(claims, false), (releases, true)] {
        for value in values {
            loop {
                let Some(now) = holding(ctx, value, Some((stream, after))).await? else {
                    return Ok(false);
                };
                let held_here = now.holder.as_ref() == Some(stream);
                match (&now.holder, release) {
                    (Some(holder), false) if !held_here => {
                        return Err(StoreError::UniqueValueTaken {
                            scope: value.scope.clone(),
                            value: value.value.clone(),
                            holder: holder.clone(),
                        });
                    }
                    (Some(_), false) => break,
                    (_, true) if !held_here => break,
                    _ => {}
                }
                let body = serde_json::to_vec(&ValueClaim {
                    stream: stream.to_string(),
                    after,
                    append,
                    release,
                })
                .map_err(|e| nats_error("writing a unique-value claim", false, e))?;
                let published = publish_if_last(
                    ctx.jetstream,
                    ctx.subjects.unique_claim(value),
                    HeaderMap::new(),
                    Bytes::from(body),
                    now.last_sequence,
                )
                .await?;
                if matches!(
                    published,
                    Published::Stored {
                        duplicate: false,
                        ..
                    }
                ) {
                    break;
                }
            }
        }
    }
    Ok(true)
}
