//! What answers queries: the root fields' arguments read, the read models' rows looked
//! up and paged through on the projection's live table, cursors, and the axum router.
//! Built with the `graphql` feature and an SQL backend; the schema's types are built
//! without them (`schema.rs`), and its resolvers (`resolvers.rs`) call into this.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_graphql::{Error, Name, Value};
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use indexmap::IndexMap;

use super::documents::Executor;
use super::resolvers::Served;
use super::schema::field_name;
use super::{Api, ReadModelApi, schema};
use crate::Position;
use crate::projection::read_model::{ColumnType, ReadModelDescriptor};
use crate::projection::{ProjectionError, ProjectionStore, Projections};
use crate::store::sql::queries::{self, Bounds, Order, QueryDb, RowValues};

/// What a query did wrong, or what failed while answering it. The message is what the
/// client sees in the GraphQL `errors` list.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// `first`/`last` above the cap, or negative.
    #[error("page size {asked} is not allowed: ask for 0 to {max} rows")]
    PageSize {
        /// What was asked.
        asked: i64,
        /// The cap.
        max: usize,
    },
    /// Both `first` and `last`.
    #[error("give `first` (forward) or `last` (backward), not both")]
    BothDirections,
    /// A cursor that this list did not hand out, or that belongs to another ordering.
    #[error("the cursor is not one this list handed out for this ordering; start again without it")]
    BadCursor,
    /// A filter or order names a field the read model does not have.
    #[error("the read model has no field `{0}`")]
    UnknownField(String),
    /// A filter operator that does not exist.
    #[error("unknown filter operator `{0}`")]
    UnknownOperator(String),
    /// A value of the wrong shape for its column.
    #[error("bad value for `{column}`: {reason}")]
    BadValue {
        /// The column.
        column: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// The projection's state could not be read, or `atLeastPosition` timed out.
    #[error(transparent)]
    Projection(#[from] ProjectionError),
    /// The database failed.
    #[error("the read model could not be read: {0}")]
    Database(#[from] sqlx::Error),
    /// A stored value could not be decoded.
    #[error("a stored value could not be decoded: {0}")]
    Corrupt(String),
    /// The API was built without a database (for its schema only) and then queried.
    #[error("this API was built for its schema only and has no database")]
    NoDatabase,
}

/// How long a projection's live version is taken as known before it is looked up again.
/// A `switch` reaches the API within this time; the old version's tables stay until
/// `drop_version`, and a query that finds its table gone looks the version up at once.
const LIVE_VERSION_TTL: Duration = Duration::from_millis(250);

/// The arguments of a list field.
pub(crate) struct ListArgs {
    first: Option<i64>,
    last: Option<i64>,
    after: Option<String>,
    before: Option<String>,
    filter: Option<Value>,
    order_by: Option<Value>,
    at_least: Option<u64>,
}

/// One page of a list, as the connection's fields read it.
pub(crate) struct Page {
    pub(super) edges: Vec<Edge>,
    pub(super) has_next: bool,
    pub(super) has_previous: bool,
    /// The read model and table, and the filter, for `totalCount` if asked.
    pub(super) model: usize,
    pub(super) table: String,
    pub(super) filter: Option<Value>,
}

impl ReadModelApi {
    /// An API over `store`'s read models, exposing none yet.
    pub fn new<S: ProjectionStore>(store: S) -> Self {
        ReadModelApi {
            db: Some(store.projection_db()),
            exposed: Vec::new(),
            limits: Default::default(),
        }
    }

    /// An API exposing every read model of every (non-generic) projection linked into
    /// the program, as [`projections`](crate::projections) lists them.
    pub fn from_registry<S: ProjectionStore>(store: S) -> Self {
        Self::new(store).expose_registered(&crate::projections())
    }

    /// An axum router serving the API at `/graphql`: `POST` for queries, `GET` for
    /// GraphiQL. Merge or nest it into your application.
    ///
    /// The router parses and validates each distinct query text once (see
    /// [`schema`](Self::schema) for serving without that).
    pub fn router(&self) -> Result<Router, async_graphql::dynamic::SchemaError> {
        let api = self.api();
        let strict = async_graphql::ValidationMode::Strict;
        let subscriptions = schema::build::<Served>(api.clone(), strict)?;
        let planned = schema::builder::<Served>(api.clone(), strict)?
            .extension(super::direct::RunPlans)
            .finish()?;
        let executor = Executor::new(|mode| schema::build::<Served>(api.clone(), mode))?
            .with_plans(api, planned);
        Ok(Router::new()
            .route("/graphql", get(graphiql).post(execute))
            .route_service(
                "/graphql/ws",
                async_graphql_axum::GraphQLSubscription::new(subscriptions),
            )
            .with_state(Arc::new(executor)))
    }
}

async fn execute(
    State(executor): State<Arc<Executor>>,
    Json(request): Json<async_graphql::Request>,
) -> Json<async_graphql::Response> {
    Json(executor.execute(request).await)
}

async fn graphiql() -> Html<String> {
    Html(
        async_graphql::http::GraphiQLSource::build()
            .endpoint("graphql")
            .subscription_endpoint("graphql/ws")
            .title("Factum read models")
            .finish(),
    )
}

impl Api {
    pub(super) fn db(&self) -> Result<(&dyn QueryDb, &Projections), ApiError> {
        match (&self.db, &self.projections) {
            (Some(db), Some(projections)) => Ok((
                &**self.query_db.get_or_init(|| db.for_queries()),
                projections,
            )),
            _ => Err(ApiError::NoDatabase),
        }
    }

    /// Waits for `position` if asked, then names the live version's table (looked up at
    /// most every [`LIVE_VERSION_TTL`], or at once with `fresh`).
    async fn table(
        &self,
        index: usize,
        at_least: Option<u64>,
        fresh: bool,
    ) -> Result<String, ApiError> {
        let (_, projections) = self.db()?;
        let exposed = &self.exposed[index];
        if let Some(position) = at_least {
            projections
                .wait_for(
                    &exposed.projection,
                    Position(position),
                    self.limits.wait_timeout,
                )
                .await?;
        }
        let cached = self
            .live
            .lock()
            .ok()
            .and_then(|live| live.get(&exposed.projection).copied())
            .filter(|(_, at)| !fresh && at.elapsed() < LIVE_VERSION_TTL);
        let version = match cached {
            Some((version, _)) => version,
            None => {
                let version = projections.live(&exposed.projection).await?.key.version;
                if let Ok(mut live) = self.live.lock() {
                    live.insert(exposed.projection.clone(), (version, Instant::now()));
                }
                version
            }
        };
        Ok(exposed.model.table_for(version))
    }

    /// Runs `query` on the live table; if that table has just been dropped (a switch
    /// and `drop_version` within the cache's lifetime), looks the version up again and
    /// runs it once more.
    async fn on_live_table<T, F, Fut>(
        &self,
        index: usize,
        at_least: Option<u64>,
        query: F,
    ) -> Result<T, ApiError>
    where
        F: Fn(String) -> Fut,
        Fut: std::future::Future<Output = Result<T, ApiError>>,
    {
        let table = self.table(index, at_least, false).await?;
        match query(table).await {
            Err(ApiError::Database(err)) if self.db()?.0.sql().is_missing_table(&err) => {
                query(self.table(index, None, true).await?).await
            }
            other => other,
        }
    }

    pub(crate) async fn lookup(
        &self,
        index: usize,
        key: Value,
        at_least: Option<u64>,
    ) -> Result<Option<RowValues>, ApiError> {
        let (db, _) = self.db()?;
        let model = self.exposed[index].model;
        let key_column = model
            .columns
            .iter()
            .position(|c| c.name == model.key)
            .ok_or_else(|| ApiError::UnknownField(model.key.to_owned()))?;
        let key = &key;
        self.on_live_table(index, at_least, |table| async move {
            let statement = queries::statements::by_key(db.sql(), model, &table, key_column, key)?;
            Ok(db.rows(model, &statement).await?.into_iter().next())
        })
        .await
    }

    pub(crate) async fn page(&self, index: usize, args: ListArgs) -> Result<Page, ApiError> {
        let model = self.exposed[index].model;
        let max = self.limits.max_page_size;
        let size = |asked: i64| {
            usize::try_from(asked)
                .ok()
                .filter(|n| *n <= max)
                .ok_or(ApiError::PageSize { asked, max })
        };
        let (limit, backward) = match (args.first, args.last) {
            (Some(_), Some(_)) => return Err(ApiError::BothDirections),
            (Some(first), None) => (size(first)?, false),
            (None, Some(last)) => (size(last)?, true),
            (None, None) => (
                self.limits.default_page_size.min(max),
                args.before.is_some() && args.after.is_none(),
            ),
        };
        let orders = orders(model, args.order_by.as_ref())?;
        let fingerprint = fingerprint(model, &orders);
        let cursor = |c: &Option<String>| {
            c.as_deref()
                .map(|c| decode_cursor(model, c, &fingerprint, &orders))
                .transpose()
        };
        let bounds = Bounds {
            after: cursor(&args.after)?,
            before: cursor(&args.before)?,
            orders,
            backward,
            limit,
        };
        let (db, _) = self.db()?;
        let (filter, bounds_ref) = (&args.filter, &bounds);
        let (table, mut rows) = self
            .on_live_table(index, args.at_least, |table| async move {
                let statement = bounds_ref.statement(db.sql(), model, &table, filter.as_ref())?;
                Ok((table, db.rows(model, &statement).await?))
            })
            .await?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        if backward {
            rows.reverse();
        }
        let (has_next, has_previous) = if backward {
            (bounds.before.is_some(), more)
        } else {
            (more, bounds.after.is_some())
        };
        let key = Arc::new(CursorKey {
            model,
            fingerprint,
            orders: bounds.orders,
        });
        let edges = rows
            .into_iter()
            .map(|row| Edge {
                row,
                key: key.clone(),
            })
            .collect();
        Ok(Page {
            edges,
            has_next,
            has_previous,
            model: index,
            table,
            filter: args.filter,
        })
    }

    pub(crate) async fn count(&self, page: &Page) -> Result<i64, ApiError> {
        let (db, _) = self.db()?;
        let model = self.exposed[page.model].model;
        let statement =
            queries::statements::count(db.sql(), model, &page.table, page.filter.as_ref())?;
        db.count(&statement).await
    }
}

/// A row of a page, and what its cursor is made from. Cursors are encoded only when a
/// query asks for them (most ask for `endCursor` at most).
pub(crate) struct Edge {
    row: RowValues,
    key: Arc<CursorKey>,
}

/// What every cursor of a page shares.
struct CursorKey {
    model: &'static ReadModelDescriptor,
    fingerprint: String,
    orders: Vec<Order>,
}

impl Edge {
    pub(crate) fn row(&self) -> &RowValues {
        &self.row
    }

    pub(crate) fn cursor(&self) -> String {
        let key = &*self.key;
        encode_cursor(key.model, &key.fingerprint, &key.orders, &self.row)
    }
}

impl Page {
    pub(crate) fn edges(&self) -> &[Edge] {
        &self.edges
    }

    pub(crate) fn start_cursor(&self) -> Option<String> {
        self.edges.first().map(Edge::cursor)
    }

    pub(crate) fn end_cursor(&self) -> Option<String> {
        self.edges.last().map(Edge::cursor)
    }
}

/// The `orderBy` argument resolved to columns, with the key appended as the tiebreaker.
fn orders(model: &ReadModelDescriptor, order_by: Option<&Value>) -> Result<Vec<Order>, ApiError> {
    let mut orders = Vec::new();
    if let Some(Value::List(items)) = order_by {
        for item in items {
            let Value::Object(fields) = item else {
                continue;
            };
            let field = match fields.get("field") {
                Some(Value::Enum(name)) => name.as_str().to_lowercase(),
                Some(Value::String(name)) => name.to_lowercase(),
                _ => return Err(ApiError::UnknownField(String::new())),
            };
            let column = model
                .columns
                .iter()
                .position(|c| c.name == field)
                .ok_or(ApiError::UnknownField(field))?;
            let enum_is = |key: &str, value: &str| {
                matches!(fields.get(key), Some(Value::Enum(n)) if n.as_str() == value)
                    || matches!(fields.get(key), Some(Value::String(s)) if s == value)
            };
            let descending = enum_is("direction", "DESC");
            let nulls_first = if enum_is("nulls", "FIRST") {
                true
            } else if enum_is("nulls", "LAST") {
                false
            } else {
                descending
            };
            if !orders.iter().any(|o: &Order| o.column == column) {
                orders.push(Order {
                    column,
                    descending,
                    nulls_first,
                });
            }
        }
    }
    let key = model
        .columns
        .iter()
        .position(|c| c.name == model.key)
        .ok_or_else(|| ApiError::UnknownField(model.key.to_owned()))?;
    if !orders.iter().any(|o| o.column == key) {
        orders.push(Order {
            column: key,
            descending: false,
            nulls_first: false,
        });
    }
    Ok(orders)
}

/// What a cursor must match: the ordering it was made under.
fn fingerprint(model: &ReadModelDescriptor, orders: &[Order]) -> String {
    orders
        .iter()
        .map(|o| {
            format!(
                "{}:{}:{}",
                model.columns[o.column].name,
                if o.descending { 'd' } else { 'a' },
                if o.nulls_first { 'f' } else { 'l' }
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// A cursor: the ordering's fingerprint and the row's values of the ordering's columns.
/// Floats are kept as their bits, so that the tie test on them is exact (a float printed
/// and parsed back can be off in its last place).
fn encode_cursor(
    model: &ReadModelDescriptor,
    fingerprint: &str,
    orders: &[Order],
    row: &RowValues,
) -> String {
    let values: Vec<serde_json::Value> = orders
        .iter()
        .map(|o| match (&row[o.column], model.columns[o.column].ty) {
            (Value::Number(n), ColumnType::Real) => n
                .as_f64()
                .map(|x| serde_json::Value::String(format!("{:016x}", x.to_bits())))
                .unwrap_or(serde_json::Value::Null),
            (value, _) => value.clone().into_json().unwrap_or(serde_json::Value::Null),
        })
        .collect();
    let json = serde_json::json!({ "o": fingerprint, "v": values });
    URL_SAFE_NO_PAD.encode(json.to_string())
}

fn decode_cursor(
    model: &ReadModelDescriptor,
    cursor: &str,
    fingerprint: &str,
    orders: &[Order],
) -> Result<Vec<Value>, ApiError> {
    let len = orders.len();
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| ApiError::BadCursor)?;
    let json: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|_| ApiError::BadCursor)?;
    if json.get("o").and_then(serde_json::Value::as_str) != Some(fingerprint) {
        return Err(ApiError::BadCursor);
    }
    let values = json
        .get("v")
        .and_then(serde_json::Value::as_array)
        .filter(|v| v.len() == len)
        .ok_or(ApiError::BadCursor)?;
    values
        .iter()
        .zip(orders)
        .map(|(v, o)| match (v, model.columns[o.column].ty) {
            (serde_json::Value::String(bits), ColumnType::Real) => u64::from_str_radix(bits, 16)
                .map(|bits| queries::float_value(f64::from_bits(bits)))
                .map_err(|_| ApiError::BadCursor),
            _ => Value::from_json(v.clone()).map_err(|_| ApiError::BadCursor),
        })
        .collect()
}

/// The arguments of a field, as the query gave them.
pub(crate) type Args = IndexMap<Name, Value>;

/// A lookup field's key and `atLeastPosition`.
pub(crate) fn lookup_args(
    api: &Api,
    index: usize,
    args: &Args,
) -> Result<(Value, Option<u64>), Error> {
    let name = field_name(api.exposed[index].model.key);
    let key = args
        .get(name.as_str())
        .ok_or_else(|| Error::new(format!("the key argument `{name}` is missing")))?;
    Ok((key.clone(), at_least(args)?))
}

/// A list field's arguments.
pub(crate) fn list_args(args: &Args) -> Result<ListArgs, Error> {
    let string = |name: &str| match args.get(name) {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    Ok(ListArgs {
        first: optional_int(args, "first")?,
        last: optional_int(args, "last")?,
        after: string("after"),
        before: string("before"),
        filter: args.get("filter").cloned(),
        order_by: args.get("orderBy").cloned(),
        at_least: at_least(args)?,
    })
}

fn at_least(args: &Args) -> Result<Option<u64>, Error> {
    match optional_int(args, "atLeastPosition")? {
        None => Ok(None),
        Some(n) => u64::try_from(n)
            .map(Some)
            .map_err(|_| Error::new("atLeastPosition must not be negative")),
    }
}

fn optional_int(args: &Args, name: &str) -> Result<Option<i64>, Error> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| Error::new(format!("`{name}` must be an integer"))),
        Some(_) => Err(Error::new(format!("`{name}` must be an integer"))),
    }
}
