//! The API's statements: a row by its key, a page between cursors, a count, and pages of
//! a read model's change feed.

use async_graphql::Value;

use super::{Bind, Builder, Order, QuerySql, Statement};
use crate::graphql::ApiError;
use crate::projection::read_model::ReadModelDescriptor;
use crate::store::sql::ddl::quote_ident;

/// The row of `table` whose key is `key`.
pub(crate) fn by_key(
    sql: &'static dyn QuerySql,
    model: &ReadModelDescriptor,
    table: &str,
    key_column: usize,
    key: &Value,
) -> Result<Statement, ApiError> {
    let mut b = Builder::new(sql, model);
    let p = b.value(key_column, key)?;
    b.statement.sql = format!(
        "SELECT {} FROM {} WHERE {} = {p}",
        b.select_list(),
        quote_ident(table),
        quote_ident(model.key)
    );
    Ok(b.statement)
}

/// How many rows of `table` pass `filter`.
pub(crate) fn count(
    sql: &'static dyn QuerySql,
    model: &ReadModelDescriptor,
    table: &str,
    filter: Option<&Value>,
) -> Result<Statement, ApiError> {
    let mut b = Builder::new(sql, model);
    let where_clause = match filter {
        Some(filter) => format!(" WHERE {}", b.filter(filter)?),
        None => String::new(),
    };
    b.statement.sql = format!("SELECT COUNT(*) FROM {}{where_clause}", quote_ident(table));
    Ok(b.statement)
}

/// Where a page starts and ends, and in which order it is read.
pub(crate) struct Bounds {
    /// The ordering values of the row the page starts after.
    pub(crate) after: Option<Vec<Value>>,
    /// The ordering values of the row the page ends before.
    pub(crate) before: Option<Vec<Value>>,
    /// The ordering, the key last.
    pub(crate) orders: Vec<Order>,
    /// Reading with `last`: the order reversed, the rows reversed back afterwards.
    pub(crate) backward: bool,
    /// The page's size.
    pub(crate) limit: usize,
}

impl Bounds {
    /// The page's statement: filter, cursor bounds, order, and one row more than the
    /// page, to know whether there is another.
    pub(crate) fn statement(
        &self,
        sql: &'static dyn QuerySql,
        model: &ReadModelDescriptor,
        table: &str,
        filter: Option<&Value>,
    ) -> Result<Statement, ApiError> {
        let mut b = Builder::new(sql, model);
        let mut conditions = Vec::new();
        if let Some(filter) = filter {
            conditions.push(b.filter(filter)?);
        }
        if let Some(values) = &self.after {
            conditions.push(b.keyset(&self.orders, values, false)?);
        }
        if let Some(values) = &self.before {
            conditions.push(b.keyset(&self.orders, values, true)?);
        }
        let scan_orders: Vec<Order> = if self.backward {
            self.orders.iter().map(|o| o.flipped()).collect()
        } else {
            self.orders.clone()
        };
        let where_clause = if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        };
        b.statement.sql = format!(
            "SELECT {} FROM {}{where_clause} ORDER BY {} LIMIT {}",
            b.select_list(),
            quote_ident(table),
            b.order_by(&scan_orders),
            self.limit + 1
        );
        Ok(b.statement)
    }
}

/// One read model version's change feed, read a page at a time.
pub(crate) struct ChangesPage<'a> {
    /// The backend's SQL.
    pub(crate) sql: &'static dyn QuerySql,
    /// The read model.
    pub(crate) model: &'a ReadModelDescriptor,
    /// The projection that writes it.
    pub(crate) projection: &'a str,
    /// The projection's version.
    pub(crate) version: u32,
}

impl ChangesPage<'_> {
    /// The `seq` of the last of the next `page` changes after `after` (`after` if none).
    pub(crate) fn page_end(&self, after: i64, page: usize) -> Statement {
        let mut b = Builder::new(self.sql, self.model);
        let feed = self.feed(&mut b, "");
        let a = b.param(Bind::Int(after));
        b.statement.sql = format!(
            "SELECT COALESCE(MAX(seq), {a}) FROM (SELECT seq FROM {} \
             WHERE {feed} AND seq > {a} ORDER BY seq LIMIT {page}) AS page",
            self.sql.changes_table()
        );
        b.statement
    }

    /// The newest change's `seq` (0 if none).
    pub(crate) fn last_seq(&self) -> Statement {
        let mut b = Builder::new(self.sql, self.model);
        let feed = self.feed(&mut b, "");
        b.statement.sql = format!(
            "SELECT COALESCE(MAX(seq), 0) FROM {} WHERE {feed}",
            self.sql.changes_table()
        );
        b.statement
    }

    /// The changes in `(after, upto]`, each change's row as the table's columns,
    /// filtered like a query, in `seq` order.
    pub(crate) fn changes(
        &self,
        (after, upto): (i64, i64),
        filter: Option<&Value>,
    ) -> Result<Statement, ApiError> {
        let mut b = Builder::new(self.sql, self.model);
        let feed = self.feed(&mut b, "c.");
        let (a, u) = (b.param(Bind::Int(after)), b.param(Bind::Int(upto)));
        let feed = format!("{feed} AND c.seq > {a} AND c.seq <= {u}");
        let rows = self.sql.feed_rows(self.model, self.version, &feed);
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

    /// The predicate picking this version's changes (columns prefixed with `prefix`),
    /// its values bound on `b`.
    fn feed(&self, b: &mut Builder<'_>, prefix: &str) -> String {
        let p = b.param(Bind::Text(self.projection.to_owned()));
        let v = b.param(Bind::Int(i64::from(self.version)));
        let m = b.param(Bind::Text(self.model.table.to_owned()));
        format!("{prefix}projection = {p} AND {prefix}version = {v} AND {prefix}model = {m}")
    }
}
