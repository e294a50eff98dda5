//! The read side on SQLite: the statements of [`ReadSideTx`] inside a batch's
//! transaction and of [`ReadSidePools`] on the store's pools, with their SQL beside them
//! (one folder per table). Times are stored as microseconds since the epoch.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use sqlx::{Row, Sqlite, SqlitePool, Transaction};

use crate::projection::ProjectionKey;
use crate::projection::database::{
    LetterFilter, LetterRow, NewLetter, ReadSidePools, ReadSideTx, Result, Settlement,
};
use crate::projection::dlq::DeadLetter;
use crate::projection::lease::HeldLease;
use crate::{EventId, Position};

/// A SQLite database's pools, as the read side uses them: dead letters are read on the
/// readers, deliveries on the writer (so a check sees the record just written).
pub(crate) struct SqliteReadSide<'a> {
    pub(crate) writer: &'a SqlitePool,
    pub(crate) reader: &'a SqlitePool,
}

fn time_of(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

impl ReadSideTx for Transaction<'static, Sqlite> {
    fn park<'a>(&'a mut self, letter: &'a NewLetter<'a>) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let event = letter.event;
            sqlx::query(include_str!("dead_letters/park.sql"))
                .bind(&letter.key.name)
                .bind(i64::from(letter.key.version))
                .bind(event.position.0 as i64)
                .bind(event.stream_id.as_str())
                .bind(event.stream_version as i64)
                .bind(event.event_id.as_uuid())
                .bind(&event.event_type)
                .bind(letter.reason)
                .bind(i64::from(letter.attempts))
                .bind(letter.at.timestamp_micros())
                .bind(letter.kind.as_str())
                .execute(&mut **self)
                .await?;
            Ok(())
        })
    }

    fn stream_parked<'a>(
        &'a mut self,
        key: &'a ProjectionKey,
        stream: &'a str,
    ) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            Ok(
                sqlx::query_scalar(include_str!("dead_letters/stream_parked.sql"))
                    .bind(&key.name)
                    .bind(i64::from(key.version))
                    .bind(stream)
                    .fetch_one(&mut **self)
                    .await?,
            )
        })
    }

    fn settle_letter<'a>(
        &'a mut self,
        key: &'a ProjectionKey,
        position: Position,
        settlement: Settlement<'a>,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let (sql, why) = match settlement {
                Settlement::Remove => (include_str!("dead_letters/remove.sql"), None),
                Settlement::Skip(why) => (include_str!("dead_letters/skip.sql"), Some(why)),
            };
            let query = sqlx::query(sql)
                .bind(&key.name)
                .bind(i64::from(key.version))
                .bind(position.0 as i64);
            match why {
                Some(why) => query.bind(why).execute(&mut **self).await?,
                None => query.execute(&mut **self).await?,
            };
            Ok(())
        })
    }

    fn record_letter_failure<'a>(
        &'a mut self,
        key: &'a ProjectionKey,
        position: Position,
        reason: &'a str,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            sqlx::query(include_str!("dead_letters/record_failure.sql"))
                .bind(&key.name)
                .bind(i64::from(key.version))
                .bind(position.0 as i64)
                .bind(reason)
                .bind(at.timestamp_micros())
                .execute(&mut **self)
                .await?;
            Ok(())
        })
    }
}

/// A lease row of `factum_projections`, this owner's until it expires.
#[derive(Debug)]
struct RowLease {
    writer: SqlitePool,
    owner: String,
}

fn expiry(ttl: Duration) -> i64 {
    Utc::now().timestamp_micros() + i64::try_from(ttl.as_micros()).unwrap_or(i64::MAX / 2)
}

impl HeldLease for RowLease {
    fn owner(&self) -> Option<&str> {
        Some(&self.owner)
    }

    fn renew<'a>(
        &'a mut self,
        key: &'a ProjectionKey,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let renewed = sqlx::query(include_str!("projections/renew_lease.sql"))
                .bind(&key.name)
                .bind(i64::from(key.version))
                .bind(&self.owner)
                .bind(expiry(ttl))
                .execute(&self.writer)
                .await?;
            Ok(renewed.rows_affected() == 1)
        })
    }

    fn release<'a>(self: Box<Self>, key: &'a ProjectionKey) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            sqlx::query(include_str!("projections/release_lease.sql"))
                .bind(&key.name)
                .bind(i64::from(key.version))
                .bind(&self.owner)
                .execute(&self.writer)
                .await?;
            Ok(())
        })
    }
}

impl ReadSidePools for SqliteReadSide<'_> {
    fn try_lease<'a>(
        &'a self,
        key: &'a ProjectionKey,
        owner: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Option<Box<dyn HeldLease>>>> {
        Box::pin(async move {
            let taken = sqlx::query(include_str!("projections/take_lease.sql"))
                .bind(&key.name)
                .bind(i64::from(key.version))
                .bind(owner)
                .bind(expiry(ttl))
                .bind(Utc::now().timestamp_micros())
                .execute(self.writer)
                .await?;
            Ok((taken.rows_affected() == 1).then(|| {
                Box::new(RowLease {
                    writer: self.writer.clone(),
                    owner: owner.to_owned(),
                }) as Box<dyn HeldLease>
            }))
        })
    }

    fn letters<'a>(
        &'a self,
        key: &'a ProjectionKey,
        filter: LetterFilter<'a>,
    ) -> BoxFuture<'a, Result<Vec<DeadLetter>>> {
        Box::pin(async move {
            let rows = sqlx::query(include_str!("dead_letters/list.sql"))
                .bind(&key.name)
                .bind(i64::from(key.version))
                .bind(filter.stream)
                .bind(filter.parked_only)
                .fetch_all(self.reader)
                .await?;
            rows.iter()
                .map(|row| {
                    Ok(LetterRow {
                        position: row.try_get("position")?,
                        stream_id: row.try_get("stream_id")?,
                        stream_version: row.try_get("stream_version")?,
                        event_id: row.try_get("event_id")?,
                        event_type: row.try_get("event_type")?,
                        status: row.try_get("status")?,
                        reason: row.try_get("reason")?,
                        attempts: row.try_get("attempts")?,
                        parked_at: time_of(row.try_get("parked_at")?),
                        last_attempt_at: time_of(row.try_get("last_attempt_at")?),
                        skip_reason: row.try_get("skip_reason")?,
                        error_kind: row.try_get("error_kind")?,
                    }
                    .into_letter(key))
                })
                .collect()
        })
    }

    fn delivered<'a>(&'a self, consumer: &'a str, id: EventId) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            Ok(sqlx::query_scalar(include_str!("delivered/check.sql"))
                .bind(consumer)
                .bind(id.as_uuid())
                .fetch_one(self.writer)
                .await?)
        })
    }

    fn record_delivered<'a>(
        &'a self,
        consumer: &'a str,
        id: EventId,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let done = sqlx::query(include_str!("delivered/record.sql"))
                .bind(consumer)
                .bind(id.as_uuid())
                .bind(at.timestamp_micros())
                .execute(self.writer)
                .await?;
            Ok(done.rows_affected() == 1)
        })
    }
}
