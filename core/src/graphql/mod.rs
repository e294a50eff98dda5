#![doc = include_str!("../../docs/graphql.md")]

// The schema's types are built from the read models' descriptors alone (`schema`,
// `subscriptions`), with the `graphql-schema` feature; what answers queries on a
// database comes in with `graphql` and an SQL backend (`serve`, `resolvers` and the
// query caches and plans of `documents` and `direct`).
#[cfg(all(feature = "graphql", sql))]
mod direct;
#[cfg(all(feature = "graphql", sql))]
mod documents;
#[cfg(all(feature = "graphql", sql))]
mod resolvers;
mod schema;
#[cfg(all(feature = "graphql", sql))]
pub(crate) use schema::field_name;
#[cfg(all(feature = "graphql", sql))]
mod serve;
mod subscriptions;

#[cfg(all(feature = "graphql", sql))]
pub use serve::ApiError;
#[cfg(all(feature = "graphql", sql))]
pub(crate) use serve::{Edge, Page};

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

use std::sync::Arc;
use std::time::Duration;

use async_graphql::ValidationMode;
use async_graphql::dynamic::Schema;

use crate::ProjectionDescriptor;
use crate::projection::read_model::{ReadModel, ReadModelDescriptor};

/// The resolvers the schema is built with: those that answer from the database, or,
/// built for the schema alone, ones that refuse every query.
#[cfg(all(feature = "graphql", sql))]
type On = resolvers::Served;
#[cfg(not(all(feature = "graphql", sql)))]
type On = schema::Unserved;

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
    /// The projection (only a served API reads its live version).
    #[cfg_attr(not(all(feature = "graphql", sql)), allow(dead_code))]
    projection: String,
}

/// A GraphQL API over read models. Build it, then take its `router` (or its
/// [`schema`](Self::schema) to serve it yourself, or its [`sdl`](Self::sdl)).
///
/// With the `graphql-schema` feature alone (no `graphql`, or no SQL backend) it has no
/// database and no router: [`schema_only`](Self::schema_only) builds it, for its SDL.
#[derive(Clone, Debug)]
pub struct ReadModelApi {
    /// The database; `None` for an API built for its schema only.
    #[cfg(all(feature = "graphql", sql))]
    db: Option<crate::projection::ProjectionDb>,
    exposed: Vec<Exposed>,
    limits: Limits,
}

/// The state behind the schema's resolvers.
pub(crate) struct Api {
    /// The database; `None` for an API built for its schema only.
    #[cfg(all(feature = "graphql", sql))]
    db: Option<crate::projection::ProjectionDb>,
    /// The database queries run on, made on first use (inside the runtime): see
    /// `ProjectionDb::for_queries`.
    #[cfg(all(feature = "graphql", sql))]
    query_db: std::sync::OnceLock<Box<dyn crate::store::sql::queries::QueryDb>>,
    /// Live versions by projection, with when they were looked up.
    #[cfg(all(feature = "graphql", sql))]
    live: std::sync::Mutex<std::collections::HashMap<String, (u32, std::time::Instant)>>,
    #[cfg(all(feature = "graphql", sql))]
    projections: Option<crate::projection::Projections>,
    exposed: Vec<Exposed>,
    limits: Limits,
}

impl ReadModelApi {
    /// The schema alone, with no database (for code generation): the same types and
    /// fields as the API served over a database, but every query fails, as it has no
    /// database to read.
    pub fn schema_only(projections: &[ProjectionDescriptor]) -> Self {
        ReadModelApi {
            #[cfg(all(feature = "graphql", sql))]
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

    /// The executable schema. Built without the `graphql` feature and an SQL backend
    /// (the `graphql-schema` feature alone), its queries all fail: it is for its SDL
    /// and introspection.
    pub fn schema(&self) -> Result<Schema, async_graphql::dynamic::SchemaError> {
        schema::build::<On>(self.api(), ValidationMode::Strict)
    }

    fn api(&self) -> Arc<Api> {
        Arc::new(Api {
            #[cfg(all(feature = "graphql", sql))]
            projections: self.db.clone().map(crate::projection::Projections::from_db),
            #[cfg(all(feature = "graphql", sql))]
            db: self.db.clone(),
            #[cfg(all(feature = "graphql", sql))]
            query_db: Default::default(),
            #[cfg(all(feature = "graphql", sql))]
            live: Default::default(),
            exposed: self.exposed.clone(),
            limits: self.limits,
        })
    }

    /// The schema in GraphQL SDL, as the code generator writes it.
    pub fn sdl(&self) -> Result<String, async_graphql::dynamic::SchemaError> {
        Ok(self.schema()?.sdl())
    }
}
