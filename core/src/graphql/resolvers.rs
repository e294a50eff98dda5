//! The resolvers that answer the schema's fields from the database: the root lookups
//! and lists through [`Api`], the connections' and rows' fields from what those
//! returned, and the subscriptions through the change feed.

use std::any::Any;
use std::sync::Arc;

use async_graphql::Value;
use async_graphql::dynamic::{FieldFuture, FieldValue, ResolverContext, SubscriptionFieldFuture};

use super::schema::{PageInfoPart, Resolver, Resolvers, SubscriptionResolver};
use super::serve::{list_args, lookup_args};
use super::subscriptions::Change;
use super::{Api, Edge, Page};
use crate::store::sql::queries::RowValues;

/// The resolvers of an API served over a database (which fail with
/// [`ApiError::NoDatabase`](super::ApiError::NoDatabase) on an API built without one).
pub(crate) struct Served;

/// A scalar field's value; `null` is no value at all, which is how async-graphql takes a
/// null (as a value, it fails the scalar's check).
fn scalar_value<'a>(value: Value) -> Option<FieldValue<'a>> {
    match value {
        Value::Null => None,
        value => Some(FieldValue::value(value)),
    }
}

/// A field read from its parent's value, with no I/O: handed back at once, with no future
/// to allocate (a page of 50 rows resolves a few hundred such fields).
fn from_parent<'a, T: Any>(
    ctx: &ResolverContext<'a>,
    read: impl FnOnce(&'a T) -> Option<FieldValue<'a>>,
) -> FieldFuture<'a> {
    match ctx.parent_value.try_downcast_ref::<T>() {
        Ok(parent) => FieldFuture::Value(read(parent)),
        Err(err) => FieldFuture::new(async move { Err::<Option<FieldValue<'a>>, _>(err) }),
    }
}

impl Resolvers for Served {
    fn page_info(part: PageInfoPart) -> impl Resolver {
        let get: fn(&Page) -> Value = match part {
            PageInfoPart::HasNextPage => |p| Value::Boolean(p.has_next),
            PageInfoPart::HasPreviousPage => |p| Value::Boolean(p.has_previous),
            PageInfoPart::StartCursor => |p| p.start_cursor().map_or(Value::Null, Value::String),
            PageInfoPart::EndCursor => |p| p.end_cursor().map_or(Value::Null, Value::String),
        };
        move |ctx| from_parent(&ctx, |page: &Page| scalar_value(get(page)))
    }

    fn column(column: usize) -> impl Resolver {
        move |ctx| from_parent(&ctx, |row: &RowValues| scalar_value(row[column].clone()))
    }

    fn edge_cursor() -> impl Resolver {
        |ctx| {
            from_parent(&ctx, |edge: &Edge| {
                Some(FieldValue::value(Value::String(edge.cursor())))
            })
        }
    }

    fn edge_node() -> impl Resolver {
        |ctx| {
            from_parent(&ctx, |edge: &Edge| {
                Some(FieldValue::borrowed_any(edge.row()))
            })
        }
    }

    fn edges() -> impl Resolver {
        |ctx| {
            from_parent(&ctx, |page: &Page| {
                Some(FieldValue::list(
                    page.edges()
                        .iter()
                        .map(|edge| FieldValue::borrowed_any(edge)),
                ))
            })
        }
    }

    fn nodes() -> impl Resolver {
        |ctx| {
            from_parent(&ctx, |page: &Page| {
                Some(FieldValue::list(
                    page.edges()
                        .iter()
                        .map(|edge| FieldValue::borrowed_any(edge.row())),
                ))
            })
        }
    }

    fn page() -> impl Resolver {
        |ctx| from_parent(&ctx, |page: &Page| Some(FieldValue::borrowed_any(page)))
    }

    fn total_count() -> impl Resolver {
        |ctx| {
            FieldFuture::new(async move {
                let page = ctx.parent_value.try_downcast_ref::<Page>()?;
                let api = ctx.data::<Arc<Api>>()?;
                let count = api.count(page).await?;
                Ok(Some(FieldValue::value(Value::from(count))))
            })
        }
    }

    fn lookup(model: usize) -> impl Resolver {
        move |ctx| {
            FieldFuture::new(async move {
                let api = ctx.data::<Arc<Api>>()?;
                let (key, position) = lookup_args(api, model, ctx.args.as_index_map())?;
                let row = api.lookup(model, key, position).await?;
                Ok(row.map(FieldValue::owned_any))
            })
        }
    }

    fn list(model: usize) -> impl Resolver {
        move |ctx| {
            FieldFuture::new(async move {
                let api = ctx.data::<Arc<Api>>()?;
                let args = list_args(ctx.args.as_index_map())?;
                let page = api.page(model, args).await?;
                Ok(Some(FieldValue::owned_any(page)))
            })
        }
    }

    fn change_op() -> impl Resolver {
        |ctx| {
            FieldFuture::new(async move {
                let change = ctx.parent_value.try_downcast_ref::<Change>()?;
                let op = if change.op == "delete" {
                    "DELETE"
                } else {
                    "UPSERT"
                };
                Ok(Some(FieldValue::value(Value::Enum(
                    async_graphql::Name::new(op),
                ))))
            })
        }
    }

    fn change_seq() -> impl Resolver {
        |ctx| {
            FieldFuture::new(async move {
                let change = ctx.parent_value.try_downcast_ref::<Change>()?;
                Ok(Some(FieldValue::value(Value::from(change.seq))))
            })
        }
    }

    fn change_row() -> impl Resolver {
        |ctx| {
            FieldFuture::new(async move {
                let change = ctx.parent_value.try_downcast_ref::<Change>()?;
                Ok(Some(FieldValue::owned_any(change.row.clone())))
            })
        }
    }

    fn changed(model: usize) -> impl SubscriptionResolver {
        move |ctx| {
            SubscriptionFieldFuture::new(async move {
                let api = ctx.data::<Arc<Api>>()?.clone();
                let filter = ctx
                    .args
                    .get("filter")
                    .map(|f| f.as_value().clone())
                    .filter(|f| !matches!(f, Value::Null));
                let stream = api.change_stream(model, filter).await?;
                Ok(futures_util::StreamExt::map(stream, |change| {
                    change
                        .map(FieldValue::owned_any)
                        .map_err(async_graphql::Error::from)
                }))
            })
        }
    }
}
