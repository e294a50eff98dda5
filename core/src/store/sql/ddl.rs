//! The read-model tables' DDL, in both SQL dialects.
//!
//! This is the one part of the SQL backends compiled without their features: the code
//! generator writes the DDL of both dialects whichever backend it links. The dialects
//! differ only in their column types; a backend's runtime creates its tables with the
//! same text ([`ReadSideTx::create_tables`](crate::projection::database::ReadSideTx)).

use crate::projection::read_model::{ColumnType, ReadModelDescriptor};

/// The SQL dialect a read-model table is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// An identifier quoted for SQL (both dialects use double quotes).
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The column type a field of `ty` is stored as in `dialect`.
pub(crate) fn column_type(ty: ColumnType, dialect: Dialect) -> &'static str {
    match (dialect, ty) {
        (Dialect::Sqlite, ColumnType::Text | ColumnType::Uuid | ColumnType::Json) => "TEXT",
        (Dialect::Sqlite, ColumnType::Integer | ColumnType::Boolean | ColumnType::Timestamp) => {
            "INTEGER"
        }
        (Dialect::Sqlite, ColumnType::Real) => "REAL",
        (Dialect::Postgres, ColumnType::Text) => "text",
        (Dialect::Postgres, ColumnType::Integer) => "bigint",
        (Dialect::Postgres, ColumnType::Real) => "double precision",
        (Dialect::Postgres, ColumnType::Boolean) => "boolean",
        (Dialect::Postgres, ColumnType::Timestamp) => "timestamptz",
        (Dialect::Postgres, ColumnType::Uuid) => "uuid",
        (Dialect::Postgres, ColumnType::Json) => "jsonb",
    }
}

/// The `CREATE TABLE IF NOT EXISTS` of `model`'s table for projection version `version`.
pub(crate) fn create_table(model: &ReadModelDescriptor, version: u32, dialect: Dialect) -> String {
    let columns: Vec<String> = model
        .columns
        .iter()
        .map(|c| {
            let ty = column_type(c.ty, dialect);
            let key = if c.name == model.key {
                " PRIMARY KEY"
            } else {
                ""
            };
            let null = if c.nullable || c.name == model.key {
                ""
            } else {
                " NOT NULL"
            };
            format!("{} {ty}{null}{key}", quote_ident(c.name))
        })
        .collect();
    format!(
        "CREATE TABLE IF NOT EXISTS {} ({})",
        quote_ident(&model.table_for(version)),
        columns.join(", ")
    )
}

/// The `CREATE INDEX IF NOT EXISTS` statements of `model`'s declared indexes for
/// projection version `version` (alike in both dialects).
pub(crate) fn create_indexes(model: &ReadModelDescriptor, version: u32) -> Vec<String> {
    let table = model.table_for(version);
    model
        .indexes
        .iter()
        .enumerate()
        .map(|(i, index)| {
            let mut columns: Vec<&str> = index.columns.to_vec();
            if !columns.contains(&model.key) {
                columns.push(model.key);
            }
            // PostgreSQL cuts names at 63 bytes; a long one gets a short, unique name.
            let mut name = format!("{table}_by_{}", index.columns.join("_"));
            if name.len() > 63 {
                name = format!("{table}_i{i}");
            }
            let columns: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
            format!(
                "CREATE INDEX IF NOT EXISTS {} ON {} ({})",
                quote_ident(&name),
                quote_ident(&table),
                columns.join(", ")
            )
        })
        .collect()
}

/// The `DROP TABLE IF EXISTS` of a read-model table.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) fn drop_table(table: &str) -> String {
    format!("DROP TABLE IF EXISTS {}", quote_ident(table))
}
