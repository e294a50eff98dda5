//! Tests: the statements the API runs for filters and orderings on declared indexes walk
//! those indexes, as `EXPLAIN` tells on both backends (5,000 rows, analysed).

use async_graphql::Value;
use sqlx::AssertSqlSafe;

use super::{Bounds, Order, QueryDb};
use crate::projection::ProjectionDb;
use crate::projection::read_model::{Column, ColumnType, Dialect, Index, ReadModelDescriptor};

static COLUMNS: [Column; 4] = [
    Column {
        name: "id",
        ty: ColumnType::Text,
        nullable: false,
        description: "",
    },
    Column {
        name: "customer",
        ty: ColumnType::Text,
        nullable: false,
        description: "",
    },
    Column {
        name: "total",
        ty: ColumnType::Integer,
        nullable: false,
        description: "",
    },
    Column {
        name: "note",
        ty: ColumnType::Text,
        nullable: true,
        description: "",
    },
];

static MODEL: ReadModelDescriptor = ReadModelDescriptor {
    name: "Order",
    table: "orders",
    key: "id",
    columns: &COLUMNS,
    indexes: &[
        Index {
            columns: &["customer"],
        },
        Index {
            columns: &["total"],
        },
    ],
    changes: false,
    description: "",
};

const ROWS: i64 = 5_000;

/// The DDL the runtime runs, the rows, and `ANALYZE`, through `run`.
fn setup(dialect: Dialect) -> Vec<String> {
    let mut sql = vec![MODEL.create_table(1, dialect)];
    sql.extend(MODEL.create_indexes(1));
    sql.push(format!(
        "INSERT INTO orders_v1 (id, customer, total, note) \
         SELECT 'o' || i, 'c' || (i % 100), i, NULL FROM {}",
        match dialect {
            Dialect::Postgres => format!("generate_series(1, {ROWS}) AS i"),
            Dialect::Sqlite => format!(
                "(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {ROWS}) \
                 SELECT i FROM n)"
            ),
        }
    ));
    sql.push("ANALYZE".into());
    sql
}

/// The plan of one page statement ordered by column `by` (if any, then the key), as
/// text.
async fn plan(
    db: &dyn QueryDb,
    filter: Option<serde_json::Value>,
    by: Option<(usize, bool)>,
) -> String {
    let filter = filter.map(|f| Value::from_json(f).unwrap());
    // As `orderBy` reads it: NULLs first when descending, unless told.
    let order = |column, descending| Order {
        column,
        descending,
        nulls_first: descending,
    };
    let mut orders: Vec<Order> = by.map(|(c, d)| order(c, d)).into_iter().collect();
    orders.push(order(0, false));
    let bounds = Bounds {
        after: None,
        before: None,
        orders,
        backward: false,
        limit: 20,
    };
    let statement = bounds
        .statement(db.sql(), &MODEL, "orders_v1", filter.as_ref())
        .unwrap();
    db.explain(&statement).await.unwrap()
}

/// Checks the three plans against what each backend calls an index walk.
async fn check(db: Box<dyn QueryDb>) {
    let db = &*db;
    let by_customer = plan(
        db,
        Some(serde_json::json!({ "customer": { "eq": "c7" } })),
        None,
    )
    .await;
    assert!(
        by_customer.contains("orders_v1_by_customer"),
        "a filter on an indexed column walks its index:\n{by_customer}"
    );
    let by_total = plan(db, None, Some((2, true))).await;
    assert!(
        by_total.contains("orders_v1_by_total"),
        "an ordering by an indexed column walks its index:\n{by_total}"
    );
    let both = plan(
        db,
        Some(serde_json::json!({ "total": { "gt": ROWS - 50 } })),
        Some((2, false)),
    )
    .await;
    assert!(
        both.contains("orders_v1_by_total"),
        "a range filter ordered by its column walks the index:\n{both}"
    );
    // Without a declared index the same ordering has to sort: the test can tell.
    let unindexed = plan(db, None, Some((3, false))).await;
    assert!(
        !unindexed.contains("orders_v1_by_"),
        "no declared index covers `note`:\n{unindexed}"
    );
}

#[tokio::test]
async fn sqlite_pages_walk_declared_indexes() {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteConnectOptions::new()
        .filename(dir.path().join("plans.sqlite"))
        .create_if_missing(true);
    let writer = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options.clone())
        .await
        .unwrap();
    for sql in setup(Dialect::Sqlite) {
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&writer)
            .await
            .unwrap();
    }
    let reader = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options.read_only(true))
        .await
        .unwrap();
    let db = ProjectionDb::new(crate::store::sql::read_side::SqlDatabase {
        writer,
        reader,
        schema: None,
    });
    check(db.for_queries()).await;
}

#[tokio::test]
async fn postgres_pages_walk_declared_indexes() {
    let Some(url) = crate::store::postgres::test_pg_url() else {
        return;
    };
    let schema = format!("plans_{}", uuid::Uuid::now_v7().simple());
    let db = ProjectionDb::connect_postgres(&url, &schema).await.unwrap();
    let pool = db.postgres().unwrap().writer();
    for sql in setup(Dialect::Postgres) {
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(pool)
            .await
            .unwrap();
    }
    check(db.for_queries()).await;
    sqlx::raw_sql(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(pool)
        .await
        .unwrap();
}
