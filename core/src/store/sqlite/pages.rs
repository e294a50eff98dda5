//! Reading SQLite in pages, one page ahead.
//!
//! Each page is one query that returns the page as a single JSON array (see
//! [`decode_page`](super::decode_page)) together with its row count and the cursor for the
//! next page, so the next query can start before this page is decoded: SQLite works on
//! page n+1 in sqlx's worker thread while the caller's task decodes page n. The first page
//! is fetched inline (most reads are one page); later ones are read ahead in a task.

use std::ops::ControlFlow;

use futures_core::stream::BoxStream;
use futures_util::stream;
use futures_util::{StreamExt, TryStreamExt};
use sqlx::sqlite::{SqlitePool, SqliteRow};
use sqlx::{Row, SqlSafeStr};
use tokio::task::JoinHandle;

use super::decode_page;
use crate::store::sql::to_i64;
use crate::store::{Direction, EventStream};
use crate::{Position, Result, StoreError, StreamId};

/// The most rows one page may hold.
const MAX_PAGE_ROWS: usize = 2048;
/// The most rows of the first page, before anything is known about event sizes.
const FIRST_PAGE_ROWS: usize = 256;
/// The bytes the first page may reach if every event is as large as allowed.
const FIRST_PAGE_BYTES: usize = 64 * 1024 * 1024;
/// The payload bytes a page aims to stay under, so that pages of large events stay small.
const PAGE_BYTES: usize = 4 * 1024 * 1024;

/// Chooses page sizes: at first as many rows as fit in [`FIRST_PAGE_BYTES`] at the
/// store's largest event size (at most [`FIRST_PAGE_ROWS`]), then as many as fit in
/// [`PAGE_BYTES`] at the sizes seen so far, from 1 to [`MAX_PAGE_ROWS`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct PageSizer {
    rows: usize,
}

impl PageSizer {
    /// A sizer for a store whose events are at most `max_event_size` bytes.
    pub fn new(max_event_size: usize) -> Self {
        PageSizer {
            rows: (FIRST_PAGE_BYTES / max_event_size.max(1)).clamp(1, FIRST_PAGE_ROWS),
        }
    }

    /// After SQLite refused a page as too big: ask for a quarter as many rows.
    pub fn shrink(&mut self) -> bool {
        let before = self.rows;
        self.rows = (self.rows / 4).max(1);
        self.rows < before
    }

    /// Rows to ask for, given what is left of the caller's limit.
    pub fn next(&self, remaining: usize) -> usize {
        remaining.min(self.rows)
    }

    /// Learns from a fetched page of `rows` rows taking `bytes` bytes.
    pub fn observe_bytes(&mut self, bytes: usize, rows: usize) {
        let average = (bytes / rows.max(1)).max(1);
        self.rows = (PAGE_BYTES / average).clamp(1, MAX_PAGE_ROWS);
    }
}

/// What to read.
#[derive(Clone, Debug)]
pub(super) enum Source {
    Stream {
        id: StreamId,
        include_deleted: bool,
        direction: Direction,
        low: u64,
        high: u64,
        /// Rows shaped for [`EventView`](crate::EventView)s: only the version, type,
        /// schema version and payload, which is all a fold reads; formatting the rest
        /// is a third of SQLite's work on a page.
        views: bool,
    },
    Log {
        from: Position,
        event_types: Option<String>,
        categories: Option<String>,
    },
}

/// How a row of a stream page is formatted: every field of a `RecordedEvent`.
const RECORDED_ROW: &str =
    "format('[%d,\"%s\",%d,\"%s\",%d,%s,%s,%d]', position, hex(event_id), stream_version,
                  event_type, schema_version, payload, coalesce(metadata, 'null'), recorded_at)";
/// The same row for a view: version, type, schema version, payload.
const VIEW_ROW: &str =
    "format('[%d,\"%s\",%d,%s]', stream_version, event_type, schema_version, payload)";

/// What a view-shaped page changes in the stream query, as (from, to) pairs: the row
/// format, only the four columns it reads out of the subquery, and rows separated by
/// spaces with no enclosing brackets (a sequence of JSON values, which saves SQLite
/// copying the whole page once more to add two brackets).
const VIEW_EDITS: [(&str, &str); 4] = [
    (RECORDED_ROW, VIEW_ROW),
    (
        "SELECT e.*",
        "SELECT e.stream_version, e.event_type, e.schema_version, e.payload",
    ),
    (
        "SELECT '[' || coalesce(group_concat(",
        "SELECT coalesce(group_concat(",
    ),
    ("','), '') || ']',", "' '), ''),"),
];

/// The page query of a stream read, in either direction and row shape. The view shape
/// is the same SQL with [`VIEW_EDITS`] applied, so the two cannot drift apart.
fn stream_sql(direction: Direction, views: bool) -> &'static str {
    static VIEWS: std::sync::OnceLock<[String; 2]> = std::sync::OnceLock::new();
    let forward = include_str!("read_stream_forward.sql");
    let backward = include_str!("read_stream_backward.sql");
    match (direction, views) {
        (Direction::Forward, false) => forward,
        (Direction::Backward, false) => backward,
        (direction, true) => {
            let all = VIEWS.get_or_init(|| {
                [forward, backward].map(|sql| {
                    VIEW_EDITS
                        .iter()
                        .fold(sql.to_owned(), |sql, (from, to)| sql.replace(from, to))
                })
            });
            &all[usize::from(direction == Direction::Backward)]
        }
    }
}

/// A fetched, not yet decoded page.
pub(super) struct RawPage {
    row: SqliteRow,
    count: usize,
    /// The greatest and least version (stream) or position (log) on the page.
    max: u64,
    min: u64,
    /// Stream: whether it is deleted (and deleted streams were not asked for); log: the
    /// last position. Only read when the first page is empty.
    status: i64,
}

impl RawPage {
    /// The page's rows: one JSON array, or for a view page the rows one after another.
    pub(super) fn json(&self) -> Result<&str> {
        Ok(self.row.try_get(0)?)
    }
}

/// SQLITE_TOOBIG: the page's text would exceed SQLite's string limit (10^9 bytes).
fn is_too_big(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "18")
}

/// Fetches a page of at most `rows` rows; `None` if SQLite found it too big to build.
async fn fetch(pool: SqlitePool, source: Source, rows: usize) -> Result<Option<RawPage>> {
    let row = page_query(&source, rows).fetch_one(&pool).await;
    raw_page(row)
}

/// Visits a stream's events as views, page by page, on one connection (a caller's
/// transaction, which must see its own writes). Pages are fetched one at a time, in the
/// sizes `read` uses.
pub(super) async fn scan_on<B>(
    conn: &mut sqlx::SqliteConnection,
    mut source: Source,
    mut remaining: usize,
    max_event_size: usize,
    mut visit_page: impl FnMut(&str) -> Result<ControlFlow<B>>,
) -> Result<ControlFlow<B>> {
    let mut sizer = PageSizer::new(max_event_size);
    let mut first = true;
    while remaining > 0 {
        let asked = sizer.next(remaining);
        let row = page_query(&source, asked).fetch_one(&mut *conn).await;
        let Some(page) = raw_page(row)? else {
            if sizer.shrink() {
                continue;
            }
            return Err(StoreError::Background(
                "a single event is too large for SQLite to return".into(),
            ));
        };
        if page.count == 0 {
            if let (true, Source::Stream { id, .. }) = (first && page.status != 0, &source) {
                return Err(StoreError::StreamDeleted { stream: id.clone() });
            }
            break;
        }
        first = false;
        let json = page.json()?;
        sizer.observe_bytes(json.len(), page.count);
        if let ControlFlow::Break(done) = visit_page(json)? {
            return Ok(ControlFlow::Break(done));
        }
        remaining = remaining.saturating_sub(page.count);
        let more = match &mut source {
            Source::Stream {
                direction: Direction::Forward,
                low,
                ..
            } => {
                *low = page.max + 1;
                true
            }
            Source::Stream { high, .. } => {
                *high = page.min.saturating_sub(1);
                *high > 0
            }
            Source::Log { from, .. } => {
                *from = Position(page.max).next();
                true
            }
        };
        if !more || page.count < asked {
            break;
        }
    }
    Ok(ControlFlow::Continue(()))
}

fn raw_page(row: sqlx::Result<SqliteRow>) -> Result<Option<RawPage>> {
    let row = match row {
        Err(err) if is_too_big(&err) => return Ok(None),
        row => row?,
    };
    let count: i64 = row.try_get(1)?;
    let max: Option<i64> = row.try_get(2)?;
    let min: Option<i64> = row.try_get(3)?;
    let status: Option<i64> = row.try_get(4)?;
    Ok(Some(RawPage {
        status: status.unwrap_or(0),
        count: count as usize,
        max: max.unwrap_or(0) as u64,
        min: min.unwrap_or(0) as u64,
        row,
    }))
}

fn page_query(
    source: &Source,
    rows: usize,
) -> sqlx::query::Query<'static, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
    let query = match source {
        Source::Stream {
            id,
            include_deleted,
            direction,
            low,
            high,
            views,
        } => {
            let sql = stream_sql(*direction, *views);
            sqlx::query(sql.into_sql_str())
                .bind(id.as_str().to_owned())
                .bind(*include_deleted)
                .bind(to_i64(*low))
                .bind(to_i64(*high))
        }
        Source::Log {
            from,
            event_types,
            categories,
        } => sqlx::query(include_str!("read_all.sql"))
            .bind(to_i64(from.0))
            .bind(event_types.clone())
            .bind(categories.clone()),
    };
    query.bind(to_i64(rows as u64))
}

/// Aborts the prefetch when the reader is dropped half-way.
struct Prefetch(JoinHandle<Result<Option<RawPage>>>);

impl Drop for Prefetch {
    fn drop(&mut self) {
        self.0.abort();
    }
}

struct Reader {
    pool: SqlitePool,
    source: Source,
    remaining: usize,
    sizer: PageSizer,
    asked: usize,
    pending: Option<Prefetch>,
    first: bool,
    /// Whether the first page's inline fetch has run.
    inline_done: bool,
}

impl Reader {
    fn start_fetch(&mut self) -> Result<()> {
        self.asked = self.sizer.next(self.remaining);
        let task = fetch(self.pool.clone(), self.source.clone(), self.asked);
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            StoreError::Background("reads must be polled inside a Tokio runtime".into())
        })?;
        self.pending = Some(Prefetch(runtime.spawn(task)));
        Ok(())
    }

    /// What an empty first page means.
    fn empty_error(&self, page: &RawPage) -> Option<StoreError> {
        match &self.source {
            Source::Stream { id, .. } => {
                (page.status != 0).then(|| StoreError::StreamDeleted { stream: id.clone() })
            }
            Source::Log { from, .. } => {
                let head = Position(page.status.max(0) as u64);
                (*from > head.next()).then_some(StoreError::PositionBeyondHead {
                    requested: *from,
                    head,
                })
            }
        }
    }

    /// Moves the cursor past `page`; false when the source is exhausted.
    fn advance(&mut self, page: &RawPage) -> bool {
        match &mut self.source {
            Source::Stream {
                direction: Direction::Forward,
                low,
                ..
            } => *low = page.max + 1,
            Source::Stream { high, .. } => {
                *high = page.min.saturating_sub(1);
                if *high == 0 {
                    return false;
                }
            }
            Source::Log { from, .. } => *from = Position(page.max).next(),
        }
        true
    }
}

/// Streams `source` as decoded events, page by page, fetching one page ahead.
pub(super) fn read<'a>(
    pool: SqlitePool,
    source: Source,
    limit: usize,
    max_event_size: usize,
) -> EventStream<'a> {
    let (stream, direction) = match &source {
        Source::Stream { id, direction, .. } => (Some(id.clone()), *direction),
        Source::Log { .. } => (None, Direction::Forward),
    };
    pages(pool, source, limit, max_event_size)
        .map(move |page| {
            page.and_then(|page| decode_page(page.json()?, stream.as_ref(), direction))
        })
        .map(|page| match page {
            Ok(events) => stream::iter(events.into_iter().map(Ok)).left_stream(),
            Err(err) => stream::iter(std::iter::once(Err(err))).right_stream(),
        })
        .flatten()
        .boxed()
}

/// Streams `source` page by page, undecoded, fetching one page ahead. When the very
/// first page is empty, that may be an error: a deleted stream, or a start past the end
/// of the log.
pub(super) fn pages<'a>(
    pool: SqlitePool,
    source: Source,
    limit: usize,
    max_event_size: usize,
) -> BoxStream<'a, Result<RawPage>> {
    let reader = Reader {
        pool,
        source,
        remaining: limit,
        sizer: PageSizer::new(max_event_size),
        asked: 0,
        pending: None,
        first: true,
        inline_done: false,
    };
    stream::try_unfold(reader, |mut reader| async move {
        let fetched = match reader.pending.take() {
            Some(mut pending) => (&mut pending.0)
                .await
                .map_err(|e| StoreError::Background(e.to_string()))??,
            // The first page is fetched right here: most reads (an aggregate's few events)
            // fit in it, and need no task. Only later pages are read ahead.
            None if reader.first && !reader.inline_done && reader.remaining > 0 => {
                reader.inline_done = true;
                reader.asked = reader.sizer.next(reader.remaining);
                fetch(reader.pool.clone(), reader.source.clone(), reader.asked).await?
            }
            None => return Ok(None),
        };
        let Some(page) = fetched else {
            // Too big for SQLite to build as one text: the same page in fewer rows.
            if !reader.sizer.shrink() {
                return Err(StoreError::Background(
                    "a single event is too large for SQLite to return".into(),
                ));
            }
            reader.start_fetch()?;
            return Ok(Some((None, reader)));
        };
        let first = std::mem::replace(&mut reader.first, false);
        if page.count == 0 {
            // A stream deleted between two pages ends the read with the error too, rather
            // than looking like a stream that simply ended.
            let stream_source = matches!(reader.source, Source::Stream { .. });
            if (first || stream_source)
                && let Some(err) = reader.empty_error(&page)
            {
                return Err(err);
            }
            return Ok(None);
        }
        let json = page.json()?;
        reader.remaining = reader.remaining.saturating_sub(page.count);
        reader.sizer.observe_bytes(json.len(), page.count);
        let more = page.count == reader.asked && reader.remaining > 0 && reader.advance(&page);
        if more {
            reader.start_fetch()?;
        }
        Ok(Some((Some(page), reader)))
    })
    .try_filter_map(|page| async move { Ok(page) })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_pages_are_the_stream_query_with_a_shorter_row() {
        for direction in [Direction::Forward, Direction::Backward] {
            let full = stream_sql(direction, false);
            let view = stream_sql(direction, true);
            for (from, to) in VIEW_EDITS {
                assert_eq!(
                    full.matches(from).count(),
                    1,
                    "the query moved: update {from}"
                );
                assert!(view.contains(to) && !view.contains(from));
            }
            for column in ["position", "event_id", "metadata", "recorded_at"] {
                assert!(!VIEW_ROW.contains(column), "{column}");
            }
        }
    }

    #[test]
    fn page_sizes_follow_event_sizes() {
        let mut sizer = PageSizer::new(1024 * 1024);
        assert_eq!(sizer.next(usize::MAX), 64);
        assert_eq!(sizer.next(10), 10);
        assert_eq!(PageSizer::new(1024).next(usize::MAX), FIRST_PAGE_ROWS);
        assert_eq!(PageSizer::new(usize::MAX).next(usize::MAX), 1);
        sizer.observe_bytes(200 * 100, 100);
        assert_eq!(sizer.next(usize::MAX), MAX_PAGE_ROWS);
        sizer.observe_bytes(2 * 1024 * 1024, 2);
        assert_eq!(sizer.next(usize::MAX), 4);
        sizer.observe_bytes(16 * 1024 * 1024, 1);
        assert_eq!(sizer.next(usize::MAX), 1);
        assert!(!sizer.shrink());
        sizer.observe_bytes(100, 1);
        assert!(sizer.shrink());
        assert_eq!(sizer.next(usize::MAX), MAX_PAGE_ROWS / 4);
    }
}
