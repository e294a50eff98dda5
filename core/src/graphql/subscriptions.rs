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
//! `POLL` (changes committed by another process).
//!
//! The types and fields are built here from the descriptors; the resolvers come from the
//! schema's [`Resolvers`], and the feed they follow (below) is built with the `graphql`
//! feature and an SQL backend.

use async_graphql::dynamic::{Enum, Field, InputValue, Object, SubscriptionField, TypeRef};

use super::schema::Resolvers;
use crate::projection::read_model::ReadModelDescriptor;

/// The `ChangeOp` enum.
pub(crate) fn op_enum() -> Enum {
    Enum::new("ChangeOp")
        .description("What a change did to its row.")
        .item("UPSERT")
        .item("DELETE")
}

/// The `…Change` object of read model `name`.
pub(crate) fn change_object<R: Resolvers>(name: &str) -> Object {
    Object::new(format!("{name}Change"))
        .description(format!(
            "A committed change of a `{name}` row: the row it left, or for a deletion the row deleted."
        ))
        .field(Field::new(
            "op",
            TypeRef::named_nn("ChangeOp"),
            R::change_op(),
        ))
        .field(Field::new("seq", TypeRef::named_nn("Long"), R::change_seq()))
        .field(Field::new("row", TypeRef::named_nn(name), R::change_row()))
}

/// The subscription field of exposed read model `index`.
pub(crate) fn field<R: Resolvers>(
    index: usize,
    model: &'static ReadModelDescriptor,
) -> SubscriptionField {
    let name = format!("{}Changed", super::schema::lower_first(model.name));
    SubscriptionField::new(
        name,
        TypeRef::named_nn(format!("{}Change", model.name)),
        R::changed(index),
    )
    .argument(InputValue::new(
        "filter",
        TypeRef::named(format!("{}Filter", model.name)),
    ))
    .description(format!(
        "Every change of a `{}` row committed from now on whose row matches the filter, in commit order.",
        model.name
    ))
}

#[cfg(all(feature = "graphql", sql))]
pub(crate) use feed::Change;

/// The change feed a subscription follows.
#[cfg(all(feature = "graphql", sql))]
mod feed {
    use std::sync::Arc;
    use std::time::Duration;

    use async_graphql::Value;
    use futures_util::Stream;

    use super::super::{Api, ApiError};
    use crate::store::sql::queries::{ChangesPage, RowValues};

    /// How often a waiting subscription looks for changes committed by another process.
    pub const POLL: Duration = Duration::from_millis(100);

    /// Changes read at a time.
    const PAGE: usize = 500;

    /// One change, as the `…Change` object's fields read it.
    pub(crate) struct Change {
        pub(crate) seq: i64,
        pub(crate) op: String,
        pub(crate) row: RowValues,
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
        pub(crate) async fn change_stream(
            self: Arc<Self>,
            index: usize,
            filter: Option<Value>,
        ) -> Result<impl Stream<Item = Result<Change, ApiError>> + use<>, ApiError> {
            let (db, projections) = self.db()?;
            let exposed = &self.exposed[index];
            let version = projections.live(&exposed.projection).await?.key.version;
            let mut wake = crate::projection::changes::watch();
            wake.mark_unchanged();
            let feed = ChangesPage {
                sql: db.sql(),
                model: exposed.model,
                projection: &exposed.projection,
                version,
            };
            let after = db.count(&feed.last_seq()).await?;
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
                        let feed = ChangesPage {
                            sql: db.sql(),
                            model: exposed.model,
                            projection: &exposed.projection,
                            version: f.version,
                        };
                        // The next page of the feed, whatever the filter keeps of it: the
                        // subscription moves past every change it has looked at.
                        let upto = db.count(&feed.page_end(f.after, PAGE)).await?;
                        if upto > f.after {
                            let statement = feed.changes((f.after, upto), f.filter.as_ref())?;
                            for (row, seq, op) in db.changes(exposed.model, &statement).await? {
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
}
