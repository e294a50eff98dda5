//! Read models: the tables projections write, described for DDL and queries (the guide is on [`ReadModel`]).

use std::borrow::Borrow;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// How a field is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ColumnType {
    /// `String`, `&str`, `char`: SQLite `TEXT`, PostgreSQL `text`.
    Text,
    /// Signed and unsigned integers up to 64 bits (`u64` above `i64::MAX` is refused):
    /// SQLite `INTEGER`, PostgreSQL `bigint`.
    Integer,
    /// `f32`, `f64`: SQLite `REAL`, PostgreSQL `double precision`.
    Real,
    /// `bool`: SQLite `INTEGER` 0/1, PostgreSQL `boolean`.
    Boolean,
    /// `chrono::DateTime<Utc>`: SQLite `INTEGER` microseconds since the epoch (so that
    /// it sorts), PostgreSQL `timestamptz`.
    Timestamp,
    /// `uuid::Uuid`: SQLite `TEXT`, PostgreSQL `uuid`.
    Uuid,
    /// Anything else serde can write (vectors, maps, nested structs): SQLite `TEXT`
    /// holding JSON, PostgreSQL `jsonb`.
    Json,
}

impl ColumnType {
    /// The SQLite column type.
    pub fn sqlite(self) -> &'static str {
        crate::store::sql::ddl::column_type(self, Dialect::Sqlite)
    }

    /// The PostgreSQL column type.
    pub fn postgres(self) -> &'static str {
        crate::store::sql::ddl::column_type(self, Dialect::Postgres)
    }
}

/// One column of a read model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Column {
    /// The column (and field) name.
    pub name: &'static str,
    /// How it is stored.
    pub ty: ColumnType,
    /// Whether it may be NULL (the field is an `Option`).
    pub nullable: bool,
    /// The field's doc comment.
    pub description: &'static str,
}

/// An index a read model declares (`#[index]` on a field, or
/// `#[read_model(index(a, b))]` for several columns). The key column is appended to it,
/// so that a filter on its columns and an ordering by them (with the key as the
/// tie-break, as GraphQL pages are read) can both walk it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Index {
    /// Its columns, in order.
    pub columns: &'static [&'static str],
}

/// What `#[derive(ReadModel)]` knows about a read model: the codegen step and the
/// projection runtime read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadModelDescriptor {
    /// The Rust type's name.
    pub name: &'static str,
    /// The base table name (each projection version adds `_v{n}`).
    pub table: &'static str,
    /// The primary-key column.
    pub key: &'static str,
    /// All columns, the key among them, in field order.
    pub columns: &'static [Column],
    /// The declared indexes (the key's own index is the primary key).
    pub indexes: &'static [Index],
    /// Whether its projections record its row changes for subscribers
    /// (`#[read_model(changes)]`, see [`projection::changes`](crate::projection::changes)).
    pub changes: bool,
    /// The type's doc comment.
    pub description: &'static str,
}

pub(crate) use crate::store::sql::ddl::Dialect;

impl ReadModelDescriptor {
    /// The `CREATE TABLE IF NOT EXISTS` of this read model's table for one projection
    /// version, as the projection runtime runs it and the code generator writes it.
    pub fn create_table(&self, version: u32, dialect: Dialect) -> String {
        crate::store::sql::ddl::create_table(self, version, dialect)
    }

    /// The `CREATE INDEX IF NOT EXISTS` statements of this read model's declared
    /// indexes for one projection version (the same on both dialects), as the projection
    /// runtime runs them and the code generator writes them.
    pub fn create_indexes(&self, version: u32) -> Vec<String> {
        crate::store::sql::ddl::create_indexes(self, version)
    }

    /// The table a projection version writes: `{table}_v{version}`.
    pub fn table_for(&self, version: u32) -> String {
        format!("{}_v{version}", self.table)
    }

    /// The key column (`None` only for a hand-made descriptor that names no column).
    pub fn key_column(&self) -> Option<&'static Column> {
        self.columns.iter().find(|c| c.name == self.key)
    }
}

/// A table a projection writes. Derive it with `#[derive(ReadModel)]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a read model",
    label = "not a read model",
    note = "derive it: `#[derive(factum::ReadModel, Serialize, Deserialize)]` with one `#[key]` field"
)]
///
#[doc = include_str!("../../docs/read-models.md")]
pub trait ReadModel: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The key field's type.
    type Key: Serialize + Send + Sync;

    /// The table's description.
    fn descriptor() -> &'static ReadModelDescriptor;

    /// This row's key.
    fn key(&self) -> &Self::Key;
}

/// A key argument: the key type itself or anything it borrows as (`&str` for `String`).
pub trait KeyOf<M: ReadModel>: Serialize + Sync {}

impl<M: ReadModel, K: Serialize + Sync + ?Sized> KeyOf<M> for K where M::Key: Borrow<K> {}
