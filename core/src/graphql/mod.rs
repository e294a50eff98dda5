#![doc = include_str!("../../docs/graphql.md")]

mod direct;
mod documents;
mod schema;
pub(crate) use schema::field_name;
mod subscriptions;

/// A read model for the module's unit tests.
#[cfg(test)]
pub(crate) mod fixture {
    use crate::projection::read_model::{Column, ColumnType, ReadModelDescriptor};

    static COLUMNS: [Column; 4] = [
        Column {
            name: "id",
            ty: ColumnType::Text,
            nullable: false,
            description: "",
        },
        Column {
            name: "score",
            ty: ColumnType::Integer,
            nullable: true,
            description: "",
        },
        Column {
            name: "name",
            ty: ColumnType::Text,
            nullable: true,
            description: "",
        },
        Column {
            name: "unit_price",
            ty: ColumnType::Real,
            nullable: true,
            description: "",
        },
    ];

    pub(crate) static MODEL: ReadModelDescriptor = ReadModelDescriptor {
        name: "Row",
        table: "rows",
        key: "id",
        columns: &COLUMNS,
        indexes: &[],
        changes: false,
        description: "",
    };
}

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use async_graphql::dynamic::Schema;
use async_graphql::{ValidationMode, Value};
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use self::documents::Executor;
use crate::projection::read_model::{ColumnType, ReadModel, ReadModelDescriptor};
use crate::projection::{ProjectionDb, ProjectionError, ProjectionStore, Projections};
use crate::store::sql::queries::{self, Bounds, Order, QueryDb, RowValues};
use crate::{Position, ProjectionDescriptor};

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

/// Limits on what one query may ask.
#[derive(Clone, Copy, Debug)]
struct Limits {
    max_page_size: usize,
    default_page_size: usize,
    max_depth: usize,
    max_complexity: usize,
    wait_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_page_size: 100,
            default_page_size: 20,
            max_depth: 12,
            max_complexity: 500,
            wait_timeout: Duration::from_secs(5),
        }
    }
}

/// One read model on the API, and the projection whose live version fills it.
#[derive(Clone, Debug)]
struct Exposed {
    model: &'static ReadModelDescriptor,
    projection: String,
}

/// A GraphQL API over read models. Build it, then take its [`router`](Self::router) (or
/// its [`schema`](Self::schema) to serve it yourself, or its [`sdl`](Self::sdl)).
#[derive(Clone, Debug)]
pub struct ReadModelApi {
    db: Option<ProjectionDb>,
    exposed: Vec<Exposed>,
    limits: Limits,
}

/// How long a projection's live version is taken as known before it is looked up again.
/// A `switch` reaches the API within this time; the old version's tables stay until
/// `drop_version`, and a query that finds its table gone looks the version up at once.
const LIVE_VERSION_TTL: Duration = Duration::from_millis(250);

/// The state behind the schema's resolvers.
pub(crate) struct Api {
    db: Option<ProjectionDb>,
    /// The database queries run on, made on first use (inside the runtime): see
    /// `ProjectionDb::for_queries`.
    query_db: OnceLock<Box<dyn QueryDb>>,
    /// Live versions by projection, with when they were looked up.
    live: Mutex<HashMap<String, (u32, Instant)>>,
    projections: Option<Projections>,
    exposed: Vec<Exposed>,
    limits: Limits,
}

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
    edges: Vec<Edge>,
    has_next: bool,
    has_previous: bool,
    /// The read model and table, and the filter, for `totalCount` if asked.
    model: usize,
    table: String,
    filter: Option<Value>,
}

impl ReadModelApi {
    /// An API over `store`'s read models, exposing none yet.
    pub fn new<S: ProjectionStore>(store: S) -> Self {
        ReadModelApi {
            db: Some(store.projection_db()),
            exposed: Vec::new(),
            limits: Limits::default(),
        }
    }

    /// An API exposing every read model of every (non-generic) projection linked into
    /// the program, as [`projections`](crate::projections) lists them.
    pub fn from_registry<S: ProjectionStore>(store: S) -> Self {
        Self::new(store).expose_registered(&crate::projections())
    }

    /// The schema alone, with no database (for code generation): the same types and
    /// fields, but queries fail with [`ApiError::NoDatabase`].
    pub fn schema_only(projections: &[ProjectionDescriptor]) -> Self {
        ReadModelApi {
            db: None,
            exposed: Vec::new(),
            limits: Limits::default(),
        }
        .expose_registered(projections)
    }

    fn expose_registered(mut self, projections: &[ProjectionDescriptor]) -> Self {
        for projection in projections {
            for model in &projection.read_models {
                self = self.expose_descriptor(model, projection.name);
            }
        }
        self
    }

    /// Exposes read model `M`, filled by the projection named `projection`.
    pub fn expose<M: ReadModel>(self, projection: &str) -> Self {
        self.expose_descriptor(M::descriptor(), projection)
    }

    /// Exposes a read model by its descriptor. A read model already exposed is left
    /// as it is.
    pub fn expose_descriptor(
        mut self,
        model: &'static ReadModelDescriptor,
        projection: &str,
    ) -> Self {
        if !self.exposed.iter().any(|e| e.model.name == model.name) {
            self.exposed.push(Exposed {
                model,
                projection: projection.to_owned(),
            });
            self.exposed.sort_by_key(|e| e.model.name);
        }
        self
    }

    /// The most rows one page may hold (default 100); asking for more is an error.
    pub fn max_page_size(mut self, rows: usize) -> Self {
        self.limits.max_page_size = rows;
        self
    }

    /// Rows per page when neither `first` nor `last` is given (default 20).
    pub fn default_page_size(mut self, rows: usize) -> Self {
        self.limits.default_page_size = rows;
        self
    }

    /// The deepest a query may nest (default 12).
    pub fn max_depth(mut self, depth: usize) -> Self {
        self.limits.max_depth = depth;
        self
    }

    /// The most fields a query may select in all (default 500).
    pub fn max_complexity(mut self, complexity: usize) -> Self {
        self.limits.max_complexity = complexity;
        self
    }

    /// How long `atLeastPosition` may wait (default 5 s).
    pub fn wait_timeout(mut self, timeout: Duration) -> Self {
        self.limits.wait_timeout = timeout;
        self
    }

    /// The executable schema.
    pub fn schema(&self) -> Result<Schema, async_graphql::dynamic::SchemaError> {
        schema::build(self.api(), ValidationMode::Strict)
    }

    fn api(&self) -> Arc<Api> {
        Arc::new(Api {
            projections: self.db.clone().map(Projections::from_db),
            db: self.db.clone(),
            query_db: OnceLock::new(),
            live: Mutex::default(),
            exposed: self.exposed.clone(),
            limits: self.limits,
        })
    }

    /// The schema in GraphQL SDL, as the code generator writes it.
    pub fn sdl(&self) -> Result<String, async_graphql::dynamic::SchemaError> {
        Ok(self.schema()?.sdl())
    }

    /// An axum router serving the API at `/graphql`: `POST` for queries, `GET` for
    /// GraphiQL. Merge or nest it into your application.
    ///
    /// The router parses and validates each distinct query text once (see
    /// [`schema`](Self::schema) for serving without that).
    pub fn router(&self) -> Result<Router, async_graphql::dynamic::SchemaError> {
        let api = self.api();
        let subscriptions = schema::build(api.clone(), async_graphql::ValidationMode::Strict)?;
        let executor = Executor::new(|mode| schema::build(api.clone(), mode))?
            .with_plans(api.clone(), schema::build_planned(api)?);
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
    fn db(&self) -> Result<(&dyn QueryDb, &Projections), ApiError> {
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
