//! Turns "fetch the next page" into a stream of events, so reads of any length hold one
//! page in memory at a time and never keep a connection checked out between pages.

use std::future::Future;

use futures_util::stream::{self, StreamExt, TryStreamExt};

use super::EventStream;
use crate::{RecordedEvent, Result};

/// The most rows one page may hold.
const MAX_PAGE_ROWS: usize = 2048;
/// The fewest rows a page asks for (unless the caller's limit is lower).
const MIN_PAGE_ROWS: usize = 16;
/// Rows of the first page, before anything is known about event sizes.
const FIRST_PAGE_ROWS: usize = 256;
/// The payload bytes a page aims to stay under, so that pages of large events stay small.
const PAGE_BYTES: usize = 4 * 1024 * 1024;

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

/// Chooses page sizes: small at first, then as many rows as fit in [`PAGE_BYTES`] given
/// the sizes seen so far, between [`MIN_PAGE_ROWS`] and [`MAX_PAGE_ROWS`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct PageSizer {
    rows: usize,
}

impl Default for PageSizer {
    fn default() -> Self {
        PageSizer {
            rows: FIRST_PAGE_ROWS,
        }
    }
}

impl PageSizer {
    /// Rows to ask for, given what is left of the caller's limit.
    pub fn next(&self, remaining: usize) -> usize {
        remaining.min(self.rows)
    }

    /// Learns from a fetched page.
    pub fn observe(&mut self, page: &[RecordedEvent]) {
        let bytes: usize = page.iter().map(|e| e.payload.as_str().len() + 64).sum();
        let average = (bytes / page.len().max(1)).max(1);
        self.rows = (PAGE_BYTES / average).clamp(MIN_PAGE_ROWS, MAX_PAGE_ROWS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::{EventId, Metadata, Payload, Position, StreamId};

    fn event(payload_len: usize) -> RecordedEvent {
        RecordedEvent {
            event_id: EventId::new(),
            stream_id: StreamId::new("s-1").unwrap(),
            stream_version: 1,
            position: Position(1),
            event_type: "E".into(),
            schema_version: 1,
            payload: Payload::from_stored("x".repeat(payload_len)),
            metadata: Metadata::default(),
            recorded_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn page_sizes_follow_event_sizes() {
        let mut sizer = PageSizer::default();
        assert_eq!(sizer.next(usize::MAX), FIRST_PAGE_ROWS);
        assert_eq!(sizer.next(10), 10);
        sizer.observe(&[event(100), event(100)]);
        assert_eq!(sizer.next(usize::MAX), MAX_PAGE_ROWS);
        sizer.observe(&[event(1024 * 1024)]);
        assert_eq!(sizer.next(usize::MAX), MIN_PAGE_ROWS);
        sizer.observe(&[event(16 * 1024)]);
        assert_eq!(sizer.next(usize::MAX), PAGE_BYTES / (16 * 1024 + 64));
    }
}
