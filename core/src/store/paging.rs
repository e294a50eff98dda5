//! Turns "fetch the next page" into a stream of events, so reads of any length hold one
//! page in memory at a time and never keep a connection checked out between pages.

use std::future::Future;

use futures_util::stream::{self, StreamExt, TryStreamExt};

use super::EventStream;
use crate::{RecordedEvent, Result};

/// Rows fetched per query by the paged readers.
pub(crate) const PAGE_SIZE: usize = 2048;

/// What a page fetch returns: the page and the state for the next one, or `None` at the end.
pub(crate) type Page<S> = Option<(Vec<RecordedEvent>, S)>;

/// Streams pages produced by `fetch` until it returns `None`.
pub(crate) fn paged<'a, S, F, Fut>(initial: S, mut fetch: F) -> EventStream<'a>
where
    S: Send + 'a,
    F: FnMut(S) -> Fut + Send + 'a,
    Fut: Future<Output = Result<Page<S>>> + Send + 'a,
{
    stream::try_unfold(initial, move |state| fetch(state))
        .map_ok(|page| stream::iter(page.into_iter().map(Ok)))
        .try_flatten()
        .boxed()
}

/// How many rows the next page may hold, given what is left of the caller's limit.
pub(crate) fn page_len(remaining: usize) -> usize {
    remaining.min(PAGE_SIZE)
}
