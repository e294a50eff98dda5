//! The predicates and orderings of a query: a client's filter, its ordering, and the
//! keyset bounds of its cursors, as SQL text with numbered parameters.

use async_graphql::{Name, Value};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::QuerySql;
use crate::graphql::ApiError;
use crate::projection::read_model::{Column, ColumnType, ReadModelDescriptor};
use crate::store::sql::ddl::quote_ident;

/// A bound parameter.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Bind {
    Text(String),
    Int(i64),
    Real(f64),
    Bool(bool),
    /// (Only PostgreSQL binds times and UUIDs as such.)
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    Time(DateTime<Utc>),
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    Uuid(Uuid),
}

/// A statement and its parameters.
#[derive(Clone, Debug, Default)]
pub(crate) struct Statement {
    pub sql: String,
    pub binds: Vec<Bind>,
}

/// One `orderBy` entry, resolved to a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Order {
    pub column: usize,
    pub descending: bool,
    pub nulls_first: bool,
}

impl Order {
    /// The same column in the opposite direction, `NULL`s on the other side.
    pub(crate) fn flipped(self) -> Order {
        Order {
            column: self.column,
            descending: !self.descending,
            nulls_first: !self.nulls_first,
        }
    }
}

/// Builds one statement: text plus parameters numbered in the backend's style.
pub(crate) struct Builder<'m> {
    pub sql: &'static dyn QuerySql,
    pub model: &'m ReadModelDescriptor,
    pub statement: Statement,
}

impl<'m> Builder<'m> {
    pub fn new(sql: &'static dyn QuerySql, model: &'m ReadModelDescriptor) -> Self {
        Builder {
            sql,
            model,
            statement: Statement::default(),
        }
    }

    /// Adds a parameter and returns its placeholder.
    fn bind(&mut self, value: Bind) -> String {
        self.statement.binds.push(value);
        self.sql.placeholder(self.statement.binds.len())
    }

    /// Whether a column can hold NULL (the key cannot).
    fn nullable(&self, index: usize) -> bool {
        let column = &self.model.columns[index];
        column.nullable && column.name != self.model.key
    }

    fn column(&self, index: usize) -> String {
        quote_ident(self.model.columns[index].name)
    }

    /// The select list: every column, as the backend decodes it.
    pub fn select_list(&self) -> String {
        self.model
            .columns
            .iter()
            .map(|c| self.sql.select_column(c, quote_ident(c.name)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A parameter of the statement's own (not a client's value for a column).
    pub fn param(&mut self, value: Bind) -> String {
        self.bind(value)
    }

    /// A GraphQL input value as a parameter for `column`.
    pub fn value(&mut self, column: usize, value: &Value) -> Result<String, ApiError> {
        let bind = to_bind(self.sql, &self.model.columns[column], value)?;
        Ok(self.bind(bind))
    }

    /// The predicate of a `…Filter` input object.
    pub fn filter(&mut self, filter: &Value) -> Result<String, ApiError> {
        let Value::Object(fields) = filter else {
            return Ok("TRUE".into());
        };
        let mut parts = Vec::new();
        for (name, value) in fields {
            match name.as_str() {
                "and" | "or" => {
                    let items = match value {
                        Value::List(items) => items.as_slice(),
                        Value::Null => continue,
                        other => std::slice::from_ref(other),
                    };
                    let inner = items
                        .iter()
                        .map(|item| self.filter(item).map(|p| format!("({p})")))
                        .collect::<Result<Vec<_>, _>>()?;
                    let (joiner, empty) = if name.as_str() == "and" {
                        (" AND ", "TRUE")
                    } else {
                        (" OR ", "FALSE")
                    };
                    parts.push(if inner.is_empty() {
                        empty.to_owned()
                    } else {
                        format!("({})", inner.join(joiner))
                    });
                }
                "not" => {
                    // A condition that is unknown on a NULL counts as false before it is
                    // negated, so that `not: { x: { eq: 1 } }` keeps the rows where x is
                    // NULL, as `x: { ne: 1 }` does.
                    if !matches!(value, Value::Null) {
                        parts.push(format!("NOT COALESCE(({}), FALSE)", self.filter(value)?));
                    }
                }
                field => {
                    let column = column_by_field(self.model, field)
                        .ok_or_else(|| ApiError::UnknownField(field.to_owned()))?;
                    if let Value::Object(ops) = value {
                        for (op, operand) in ops {
                            parts.push(self.operator(column, op, operand)?);
                        }
                    }
                }
            }
        }
        Ok(if parts.is_empty() {
            "TRUE".into()
        } else {
            parts.join(" AND ")
        })
    }

    fn operator(&mut self, column: usize, op: &Name, operand: &Value) -> Result<String, ApiError> {
        let col = self.column(column);
        // `eq: null` and friends mean "is null": parameters are never NULL.
        if matches!(operand, Value::Null) {
            return Ok(match op.as_str() {
                "eq" => format!("{col} IS NULL"),
                "ne" => format!("{col} IS NOT NULL"),
                _ => "TRUE".into(),
            });
        }
        let comparison = |b: &mut Self, symbol: &str| -> Result<String, ApiError> {
            let p = b.value(column, operand)?;
            Ok(format!("{col} {symbol} {p}"))
        };
        Ok(match op.as_str() {
            "eq" => comparison(self, "=")?,
            "ne" => {
                let p = self.value(column, operand)?;
                self.sql.distinct(&col, &p)
            }
            "lt" => comparison(self, "<")?,
            "lte" => comparison(self, "<=")?,
            "gt" => comparison(self, ">")?,
            "gte" => comparison(self, ">=")?,
            "in" | "notIn" => {
                let Value::List(items) = operand else {
                    return Err(ApiError::BadValue {
                        column: self.model.columns[column].name,
                        reason: format!("`{op}` takes a list"),
                    });
                };
                let placeholders = items
                    .iter()
                    .filter(|v| !matches!(v, Value::Null))
                    .map(|v| self.value(column, v))
                    .collect::<Result<Vec<_>, _>>()?;
                match (op.as_str(), placeholders.is_empty()) {
                    ("in", true) => "FALSE".into(),
                    ("notIn", true) => "TRUE".into(),
                    ("in", false) => format!("{col} IN ({})", placeholders.join(", ")),
                    // Like `ne`: a NULL is not in the list.
                    _ => format!(
                        "({col} IS NULL OR {col} NOT IN ({}))",
                        placeholders.join(", ")
                    ),
                }
            }
            "isNull" => match operand {
                Value::Boolean(true) => format!("{col} IS NULL"),
                _ => format!("{col} IS NOT NULL"),
            },
            "contains" => {
                let p = self.value(column, operand)?;
                self.sql.contains(&col, &p)
            }
            "startsWith" => {
                let p = self.value(column, operand)?;
                self.sql.starts_with(&col, &p)
            }
            "eqInsensitive" => {
                let p = self.value(column, operand)?;
                format!("lower({col}) = lower({p})")
            }
            "containsInsensitive" | "startsWithInsensitive" => {
                let text = match operand {
                    Value::String(s) => s,
                    _ => {
                        return Err(ApiError::BadValue {
                            column: self.model.columns[column].name,
                            reason: format!("`{op}` takes a string"),
                        });
                    }
                };
                let escaped = escape_like(text);
                let pattern = if op.as_str() == "containsInsensitive" {
                    format!("%{escaped}%")
                } else {
                    format!("{escaped}%")
                };
                let p = self.bind(Bind::Text(pattern));
                self.sql.like_insensitive(&col, &p)
            }
            other => return Err(ApiError::UnknownOperator(other.to_owned())),
        })
    }

    /// `ORDER BY` for `orders` (the key last). `NULLS FIRST/LAST` is written only where
    /// it changes something (a nullable column, placed against the dialect's default):
    /// SQLite cannot walk an index for an ordering that spells out another placement.
    pub fn order_by(&self, orders: &[Order]) -> String {
        orders
            .iter()
            .map(|o| {
                let default_first = self.sql.nulls_first_by_default(o.descending);
                let nulls = if self.nullable(o.column) && o.nulls_first != default_first {
                    if o.nulls_first {
                        " NULLS FIRST"
                    } else {
                        " NULLS LAST"
                    }
                } else {
                    ""
                };
                format!(
                    "{} {}{nulls}",
                    self.column(o.column),
                    if o.descending { "DESC" } else { "ASC" },
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The rows that come after (or, with `before`, before) the row whose ordering
    /// values are `values`, in the order `orders`.
    pub fn keyset(
        &mut self,
        orders: &[Order],
        values: &[Value],
        before: bool,
    ) -> Result<String, ApiError> {
        let mut alternatives = Vec::new();
        for i in 0..orders.len() {
            let mut conjuncts = Vec::new();
            for j in 0..i {
                let col = self.column(orders[j].column);
                conjuncts.push(match &values[j] {
                    Value::Null => format!("{col} IS NULL"),
                    v => {
                        let p = self.value(orders[j].column, v)?;
                        format!("{col} = {p}")
                    }
                });
            }
            let order = if before {
                orders[i].flipped()
            } else {
                orders[i]
            };
            let col = self.column(order.column);
            let nullable = self.nullable(order.column);
            let after = match &values[i] {
                Value::Null if order.nulls_first => Some(format!("{col} IS NOT NULL")),
                Value::Null => None,
                v => {
                    let p = self.value(order.column, v)?;
                    let symbol = if order.descending { "<" } else { ">" };
                    Some(if order.nulls_first || !nullable {
                        format!("{col} {symbol} {p}")
                    } else {
                        format!("({col} {symbol} {p} OR {col} IS NULL)")
                    })
                }
            };
            if let Some(after) = after {
                conjuncts.push(after);
                alternatives.push(format!("({})", conjuncts.join(" AND ")));
            }
        }
        Ok(if alternatives.is_empty() {
            "FALSE".into()
        } else {
            format!("({})", alternatives.join(" OR "))
        })
    }
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The column a GraphQL field name (camelCase) stands for.
pub(crate) fn column_by_field(model: &ReadModelDescriptor, field: &str) -> Option<usize> {
    model
        .columns
        .iter()
        .position(|c| crate::graphql::field_name(c.name) == field)
}

fn to_bind(sql: &dyn QuerySql, column: &Column, value: &Value) -> Result<Bind, ApiError> {
    let bad = |reason: &str| ApiError::BadValue {
        column: column.name,
        reason: reason.to_owned(),
    };
    Ok(match (column.ty, value) {
        (ColumnType::Text, Value::String(s)) => Bind::Text(s.clone()),
        (ColumnType::Integer, Value::Number(n)) => {
            Bind::Int(n.as_i64().ok_or_else(|| bad("expected a 64-bit integer"))?)
        }
        (ColumnType::Integer, Value::String(s)) => {
            Bind::Int(s.parse().map_err(|_| bad("expected a 64-bit integer"))?)
        }
        (ColumnType::Real, Value::Number(n)) => {
            Bind::Real(n.as_f64().ok_or_else(|| bad("expected a number"))?)
        }
        (ColumnType::Boolean, Value::Boolean(b)) => Bind::Bool(*b),
        (ColumnType::Timestamp, Value::String(s)) => {
            let at = DateTime::parse_from_rfc3339(s)
                .map_err(|e| bad(&format!("expected an RFC 3339 time: {e}")))?
                .with_timezone(&Utc);
            sql.bind_time(at)
        }
        (ColumnType::Uuid, Value::String(s)) => {
            let id = Uuid::parse_str(s).map_err(|e| bad(&format!("expected a UUID: {e}")))?;
            sql.bind_uuid(id)
        }
        (ColumnType::Json, _) => return Err(bad("JSON columns cannot be compared")),
        (ty, other) => {
            return Err(bad(&format!(
                "a {ty:?} column cannot be compared with {other}"
            )));
        }
    })
}

#[cfg(all(test, feature = "sqlite", feature = "postgres"))]
mod tests {
    use super::*;

    use crate::graphql::fixture::MODEL;

    #[test]
    fn keyset_handles_nulls_on_either_side() {
        let orders = [
            Order {
                column: 1,
                descending: true,
                nulls_first: false,
            },
            Order {
                column: 0,
                descending: false,
                nulls_first: false,
            },
        ];
        let mut b = Builder::new(&sqlx::Postgres, &MODEL);
        let sql = b
            .keyset(&orders, &[Value::Null, Value::String("k".into())], false)
            .unwrap();
        // After a NULL score (NULLs last): only other NULL scores with a greater key.
        assert_eq!(sql, "((\"score\" IS NULL AND \"id\" > $1))");
        let mut b = Builder::new(&sqlx::Sqlite, &MODEL);
        let sql = b
            .keyset(&orders, &[Value::from(5), Value::String("k".into())], false)
            .unwrap();
        assert_eq!(
            sql,
            "(((\"score\" < ?1 OR \"score\" IS NULL)) OR (\"score\" = ?2 AND \"id\" > ?3))"
        );
    }

    #[test]
    fn nulls_placement_is_spelled_out_only_where_it_matters() {
        let orders = [
            Order {
                column: 1,
                descending: true,
                nulls_first: false,
            },
            Order {
                column: 2,
                descending: false,
                nulls_first: false,
            },
            Order {
                column: 0,
                descending: false,
                nulls_first: false,
            },
        ];
        let sqlite = Builder::new(&sqlx::Sqlite, &MODEL).order_by(&orders);
        assert_eq!(
            sqlite,
            "\"score\" DESC, \"name\" ASC NULLS LAST, \"id\" ASC"
        );
        let postgres = Builder::new(&sqlx::Postgres, &MODEL).order_by(&orders);
        assert_eq!(
            postgres,
            "\"score\" DESC NULLS LAST, \"name\" ASC, \"id\" ASC"
        );
    }

    #[test]
    fn like_patterns_are_escaped_and_values_are_parameters() {
        let mut b = Builder::new(&sqlx::Postgres, &MODEL);
        let filter = Value::from_json(serde_json::json!({
            "name": { "containsInsensitive": "50%_off\\" },
            "or": [{ "id": { "eq": "x' OR 1=1 --" } }, { "not": { "score": { "in": [] } } }]
        }))
        .unwrap();
        let sql = b.filter(&filter).unwrap();
        assert!(!sql.contains("1=1"), "{sql}");
        assert_eq!(b.statement.binds[0], Bind::Text("%50\\%\\_off\\\\%".into()));
        assert_eq!(b.statement.binds[1], Bind::Text("x' OR 1=1 --".into()));
    }
}
