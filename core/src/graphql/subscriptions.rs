//! GraphQL subscriptions to the changes of read models that record them
//! (`#[read_model(changes)]`, see [`projection::changes`](crate::projection::changes)).
//!
//! For such a read model, say `AccountBalance`, the schema has
//! `accountBalanceChanged(filter: AccountBalanceFilter): AccountBalanceChange!` with
//! `{ op: UPSERT | DELETE, seq, row { ... } }`: after the subscription starts, every
//! committed change of the live version's table whose row (for a deletion, the row
//! deleted) matches the filter, in commit order. The filter is the query filter, applied
//! in SQL to the change's row, so it means exactly what it means for a query. Clients
//! speak graphql-ws (or the older subscriptions-transport-ws) over a WebSocket at
//! `/graphql/ws`.
//!
//! A subscription reads the feed after the last change it delivered, so none is skipped
//! or repeated; it is woken at once by a commit in this process and otherwise looks every
//! [`POLL`] (changes committed by another process).

use std::sync::Arc;
use std::time::Duration;

use async_graphql::Value;
use async_graphql::dynamic::{
    Enum, Field, FieldFuture, FieldValue, InputValue, Object, SubscriptionField,
    SubscriptionFieldFuture, TypeRef,
};
use futures_util::Stream;

use super::fetch::{self, QueryDb, RowValues};
use super::sql::{Bind, Builder};
use super::{Api, ApiError};
use crate::projection::read_model::{Dialect, ReadModelDescriptor};
use crate::store::ddl::quote_ident;

/// How often a waiting subscription looks for changes committed by another process.
pub const POLL: Duration = Duration::from_millis(100);

/// Changes read at a time.
const PAGE: usize = 500;

/// One change, as the `…Change` object's fields read it.
pub(crate) struct Change {
    seq: i64,
    op: String,
    row: RowValues,
}

/// The `ChangeOp` enum.
pub(crate) fn op_enum() -> Enum {
    Enum::new("ChangeOp")
        .description("What a change did to its row.")
        .item("UPSERT")
        .item("DELETE")
}

/// The `…Change` object of read model `name`.
pub(crate) fn change_object(name: &str) -> Object {
    Object::new(format!("{name}Change"))
        .description(format!(
            "A committed change of a `{name}` row: the row it left, or for a deletion the row deleted."
        ))
        .field(Field::new("op", TypeRef::named_nn("ChangeOp"), |ctx| {
            FieldFuture::new(async move {
                let change = ctx.parent_value.try_downcast_ref::<Change>()?;
                let op = if change.op == "delete" { "DELETE" } else { "UPSERT" };
                Ok(Some(FieldValue::value(Value::Enum(async_graphql::Name::new(op)))))
            })
        }))
        .field(Field::new("seq", TypeRef::named_nn("Long"), |ctx| {
            FieldFuture::new(async move {
                let change = ctx.parent_value.try_downcast_ref::<Change>()?;
                Ok(Some(FieldValue::value(Value::from(change.seq))))
            })
        }))
        .field(Field::new("row", TypeRef::named_nn(name), |ctx| {
            FieldFuture::new(async move {
                let change = ctx.parent_value.try_downcast_ref::<Change>()?;
                Ok(Some(FieldValue::owned_any(change.row.clone())))
            })
        }))
}

/// The subscription field of exposed read model `index`.
pub(crate) fn field(index: usize, model: &'static ReadModelDescriptor) -> SubscriptionField {
    let name = format!("{}Changed", super::schema::lower_first(model.name));
    SubscriptionField::new(name, TypeRef::named_nn(format!("{}Change", model.name)), move |ctx| {
        SubscriptionFieldFuture::new(async move {
            let api = ctx.data::<Arc<Api>>()?.clone();
            let filter = ctx
                .args
                .get("filter")
                .map(|f| f.as_value().clone())
                .filter(|f| !matches!(f, Value::Null));
            let stream = api.change_stream(index, filter).await?;
            Ok(futures_util::StreamExt::map(stream, |change| {
                change
                    .map(FieldValue::owned_any)
                    .map_err(async_graphql::Error::from)
            }))
        })
    })
    .argument(InputValue::new(
        "filter",
        TypeRef::named(format!("{}Filter", model.name)),
    ))
    .description(format!(
        "Every change of a `{}` row committed from now on whose row matches the filter, in commit order.",
        model.name
    ))
}

/// Where a subscription stands.
struct Follow {
    api: Arc<Api>,
    index: usize,
    version: u32,
    filter: Option<Value>,
    after: i64,
    ready: std::collections::VecDeque<Change>,
    wake: tokio::sync::watch::Receiver<u64>,
}

impl Api {
    /// The changes of exposed read model `index` committed after now, matching `filter`.
    async fn change_stream(
        self: Arc<Self>,
        index: usize,
        filter: Option<Value>,
    ) -> Result<impl Stream<Item = Result<Change, ApiError>> + use<>, ApiError> {
        let (db, projections) = self.db()?;
        let exposed = &self.exposed[index];
        let version = projections.live(&exposed.projection).await?.key.version;
        let mut wake = crate::projection::changes::watch();
        wake.mark_unchanged();
        let after = last_seq(db, exposed.model, &exposed.projection, version).await?;
        let follow = Follow {
            api: self.clone(),
            index,
            version,
            filter,
            after,
            ready: Default::default(),
            wake,
        };
        Ok(futures_util::stream::try_unfold(
            follow,
            |mut f| async move {
                loop {
                    if let Some(change) = f.ready.pop_front() {
                        return Ok(Some((change, f)));
                    }
                    let (db, _) = f.api.db()?;
                    let exposed = &f.api.exposed[f.index];
                    let (model, projection) = (exposed.model, &exposed.projection);
                    // The next page of the feed, whatever the filter keeps of it: the
                    // subscription moves past every change it has looked at.
                    let upto = page_end(db, model, projection, f.version, f.after).await?;
                    if upto > f.after {
                        let statement = page(
                            db,
                            model,
                            projection,
                            f.version,
                            (f.after, upto),
                            f.filter.as_ref(),
                        )?;
                        for (row, seq, op) in fetch::changes(db, model, &statement).await? {
                            f.ready.push_back(Change { seq, op, row });
                        }
                        f.after = upto;
                        continue;
                    }
                    let _ = tokio::time::timeout(POLL, f.wake.changed()).await;
                }
            },
        ))
    }
}

/// The `seq` of the last of the next [`PAGE`] changes after `after` (`after` if none).
async fn page_end(
    db: &QueryDb,
    model: &ReadModelDescriptor,
    projection: &str,
    version: u32,
    after: i64,
) -> Result<i64, ApiError> {
    let mut b = Builder::new(db.sql_dialect(), model);
    let feed = feed_of(&mut b, "", projection, version, model);
    let a = b.param(Bind::Int(after));
    b.statement.sql = format!(
        "SELECT COALESCE(MAX(seq), {a}) FROM (SELECT seq FROM {} \
         WHERE {feed} AND seq > {a} ORDER BY seq LIMIT {PAGE}) AS page",
        changes_table(db.sql_dialect())
    );
    fetch::count(db, &b.statement).await
}

/// The newest change's `seq` of a read model's version (0 if none).
async fn last_seq(
    db: &QueryDb,
    model: &ReadModelDescriptor,
    projection: &str,
    version: u32,
) -> Result<i64, ApiError> {
    let mut b = Builder::new(db.sql_dialect(), model);
    let feed = feed_of(&mut b, "", projection, version, model);
    b.statement.sql = format!(
        "SELECT COALESCE(MAX(seq), 0) FROM {} WHERE {feed}",
        changes_table(db.sql_dialect())
    );
    fetch::count(db, &b.statement).await
}

/// The predicate picking one read model version's changes (columns prefixed with
/// `prefix`), its values bound on `b`.
fn feed_of(
    b: &mut Builder<'_>,
    prefix: &str,
    projection: &str,
    version: u32,
    model: &ReadModelDescriptor,
) -> String {
    let p = b.param(Bind::Text(projection.to_owned()));
    let v = b.param(Bind::Int(i64::from(version)));
    let m = b.param(Bind::Text(model.table.to_owned()));
    format!("{prefix}projection = {p} AND {prefix}version = {v} AND {prefix}model = {m}")
}

fn changes_table(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => "read_model_changes",
        Dialect::Sqlite => "factum_read_model_changes",
    }
}

/// The statement reading the changes in `(after, upto]`: each change's row as the
/// table's columns (PostgreSQL `jsonb_populate_record` of the table's row type; SQLite
/// `json_extract` of each column), filtered like a query, in `seq` order.
fn page(
    db: &QueryDb,
    model: &ReadModelDescriptor,
    projection: &str,
    version: u32,
    (after, upto): (i64, i64),
    filter: Option<&Value>,
) -> Result<super::sql::Statement, ApiError> {
    let dialect = db.sql_dialect();
    let mut b = Builder::new(dialect, model);
    let feed = feed_of(&mut b, "c.", projection, version, model);
    let (a, u) = (b.param(Bind::Int(after)), b.param(Bind::Int(upto)));
    let rows = match dialect {
        Dialect::Postgres => format!(
            "SELECT t.*, c.seq AS factum_change_seq, c.op AS factum_change_op \
             FROM read_model_changes c \
             CROSS JOIN LATERAL jsonb_populate_record(NULL::{}, c.row) AS t \
             WHERE {feed} AND c.seq > {a} AND c.seq <= {u}",
            quote_ident(&model.table_for(version))
        ),
        Dialect::Sqlite => {
            let columns: Vec<String> = model
                .columns
                .iter()
                .map(|c| {
                    format!(
                        "json_extract(c.row, '$.{}') AS {}",
                        c.name,
                        quote_ident(c.name)
                    )
                })
                .collect();
            format!(
                "SELECT {}, c.seq AS factum_change_seq, c.op AS factum_change_op \
                 FROM factum_read_model_changes c \
                 WHERE {feed} AND c.seq > {a} AND c.seq <= {u}",
                columns.join(", ")
            )
        }
    };
    let condition = match filter {
        Some(filter) => b.filter(filter)?,
        None => "TRUE".to_owned(),
    };
    b.statement.sql = format!(
        "SELECT {}, factum_change_seq, factum_change_op FROM ({rows}) AS t \
         WHERE {condition} ORDER BY factum_change_seq",
        b.select_list()
    );
    Ok(b.statement)
}
