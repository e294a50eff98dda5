//! Read models in a PostgreSQL database of their own ([`ProjectionDb::connect_postgres`]).

use crate::projection::{ProjectionDb, ProjectionError};
use crate::store::sql::read_side::{SqlDatabase, prepare_own_database};

type Result<T, E = ProjectionError> = std::result::Result<T, E>;

impl ProjectionDb {
    /// Read models in `schema` (created if missing) of the PostgreSQL database at `url`,
    /// with its projection tables created or brought up to date.
    pub async fn connect_postgres(url: &str, schema: &str) -> Result<Self> {
        use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
        use std::str::FromStr;

        crate::store::postgres::validate_schema(schema)?;
        let quoted = crate::store::sql::ddl::quote_ident(schema);
        let options = PgConnectOptions::from_str(url)?.options([("search_path", quoted.as_str())]);
        let pool = crate::store::sql::ping_when_idle(PgPoolOptions::new())
            .max_connections(10)
            .connect_with(options)
            .await?;
        crate::store::postgres::create_schema(&pool, &quoted).await?;
        prepare_own_database(&pool).await?;
        Ok(ProjectionDb::new(SqlDatabase {
            writer: pool.clone(),
            reader: pool,
            schema: Some(schema.into()),
        }))
    }
}
