//! Validated queries of the common shape, answered without the general executor.
//!
//! async-graphql resolves every field of every row through its dynamic machinery: an
//! argument map, a path entry, a boxed future and a scalar check per field, and a few
//! strings per list item, about as much work for a page of rows as the page's SQL
//! (`docs/BENCHMARKS.md` has the figures). Yet almost every query a read-model API serves has one shape: lookups and lists
//! at the root, connection fields, and columns. Such a query, once its text has passed
//! full validation, is compiled here into a [`Plan`] that calls the same resolvers
//! (`Api::lookup`, `Api::page`, `Api::count`, with arguments read by the same
//! functions) and builds the same response directly.
//!
//! A request without variables whose text has passed full validation is answered from
//! the plan at once. A request with variables is validated in full by async-graphql
//! (its variables against their types, every time) and then answered from the plan by
//! the [`RunPlans`] extension, which fills the variables in as the general executor
//! does.
//!
//! Anything else goes to async-graphql: fragments, directives, introspection, a
//! response key selected twice (which the general executor merges), and any operation
//! that is not a query. Errors are reported as the general executor reports them: the
//! message and the field's location (no path: async-graphql's dynamic executor gives
//! none), and the field left out of its parent. The tests run the same requests both
//! ways and compare the responses. One difference is deliberate: root fields come in
//! the order the query asks for them, where the general executor, which runs them
//! concurrently, lists them as they finish.

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute};
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Field, OperationType, Selection, SelectionSet,
    VariableDefinition,
};
use async_graphql::{Error, Name, Pos, Positioned, Response, ServerError, Value, Variables};
use indexmap::IndexMap;

use super::schema::{field_name, lower_first, plural, scalar_accepts};
use super::serve::{Args, list_args, lookup_args};
use super::{Api, Edge, Page};

/// A compiled query: its variables and its root fields in order.
pub(crate) struct Plan {
    variables: Vec<Positioned<VariableDefinition>>,
    roots: Vec<Root>,
}

/// A field as the plan keeps it: its response key and where it was asked.
struct At {
    key: Name,
    pos: Pos,
}

enum Root {
    Typename(Name),
    /// A lookup or a list: the field as the query wrote it (its response key, where it
    /// stands, and its arguments: literals, or variables to fill in) and the read model.
    Field {
        field: Positioned<Field>,
        model: usize,
        selection: Selected,
    },
}

/// What a lookup or a list selects.
enum Selected {
    Lookup(Vec<Column>),
    List(Vec<Connection>),
}

/// A field of a read model's object.
enum Column {
    Typename(Name),
    Value(Name, usize),
}

enum Connection {
    Typename(Name),
    Nodes(Name, Vec<Column>),
    Edges(Name, Vec<EdgeField>),
    PageInfo(Name, Vec<PageInfoField>),
    TotalCount(At),
}

enum EdgeField {
    Typename(Name),
    Cursor(Name),
    Node(Name, Vec<Column>),
}

enum PageInfoField {
    Typename(Name),
    HasNext(Name),
    HasPrevious(Name),
    Start(Name),
    End(Name),
}

impl Plan {
    /// The plan of `document`'s operation, or `None` when the query is not of the shape
    /// this module answers. `document` must have passed full validation against the
    /// API's schema, and so must every request [`run`](Self::run) answers (with its
    /// variables).
    pub(crate) fn compile(
        api: &Api,
        document: &ExecutableDocument,
        operation_name: Option<&str>,
    ) -> Option<Plan> {
        let operation = match (&document.operations, operation_name) {
            (DocumentOperations::Single(op), None) => op,
            (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name)?,
            (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next()?,
            _ => return None,
        };
        let operation = &operation.node;
        if operation.ty != OperationType::Query || !operation.directives.is_empty() {
            return None;
        }
        let roots = fields(&operation.selection_set)?
            .into_iter()
            .map(|field| root(api, field))
            .collect::<Option<_>>()?;
        Some(Plan {
            variables: operation.variable_definitions.clone(),
            roots,
        })
    }

    /// A root field's arguments with the request's variables filled in, as the general
    /// executor fills them: a variable not given takes its default, or null when it
    /// may be null.
    fn args(&self, field: &Positioned<Field>, variables: &Variables) -> Result<Args, ServerError> {
        field
            .node
            .arguments
            .iter()
            .map(|(name, value)| {
                let filled = value.node.clone().into_const_with(|variable| {
                    self.variables
                        .iter()
                        .find(|def| def.node.name.node == variable)
                        .and_then(|def| {
                            variables
                                .get(&def.node.name.node)
                                .or_else(|| def.node.default_value())
                        })
                        .cloned()
                        .ok_or_else(|| {
                            ServerError::new(
                                format!("Variable {variable} is not defined."),
                                Some(value.pos),
                            )
                        })
                })?;
                Ok((name.node.clone(), filled))
            })
            .collect()
    }

    /// Answers the query for a request with these variables, or `None` when a stored
    /// value is one the general executor would refuse (see [`Unanswerable`]).
    pub(crate) async fn run(&self, api: &Api, variables: &Variables) -> Option<Response> {
        self.answer(api, variables).await.ok()
    }

    async fn answer(&self, api: &Api, variables: &Variables) -> Result<Response, Unanswerable> {
        let mut errors = Vec::new();
        let mut data = IndexMap::new();
        for root in &self.roots {
            let (field, model, selection) = match root {
                Root::Typename(key) => {
                    data.insert(key.clone(), Value::from("Query"));
                    continue;
                }
                Root::Field {
                    field,
                    model,
                    selection,
                } => (field, *model, selection),
            };
            let args = match self.args(field, variables) {
                Ok(args) => args,
                Err(err) => {
                    errors.push(err);
                    continue;
                }
            };
            let value = match selection {
                Selected::Lookup(fields) => lookup(api, model, &args, fields).await?,
                Selected::List(fields) => match page(api, model, &args).await {
                    Ok(page) => Ok(connection(api, &page, fields, &mut errors).await?),
                    Err(err) => Err(err),
                },
            };
            match value {
                Ok(value) => {
                    data.insert(key_of(field), value);
                }
                Err(err) => errors.push(err.into_server_error(field.pos)),
            }
        }
        let mut response = Response::new(object(data));
        response.errors = errors;
        Ok(response)
    }
}

/// What a request answered through [`RunPlans`] carries in its data.
pub(crate) struct PlanRequest {
    pub(crate) plan: Arc<Plan>,
    pub(crate) variables: Variables,
}

/// An extension that answers a request carrying a [`PlanRequest`] from its plan once
/// async-graphql has validated it (variables included), instead of executing it. The
/// router adds it to a schema instance of its own: on a schema that executes queries,
/// any extension sends every field through a boxed hook.
pub(crate) struct RunPlans;

impl ExtensionFactory for RunPlans {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RunPlans)
    }
}

#[async_trait::async_trait]
impl Extension for RunPlans {
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        match (ctx.data_opt::<PlanRequest>(), ctx.data_opt::<Arc<Api>>()) {
            (Some(request), Some(api)) => match request.plan.run(api, &request.variables).await {
                Some(response) => response,
                None => next.run(ctx, operation_name).await,
            },
            _ => next.run(ctx, operation_name).await,
        }
    }
}

/// An object's value; an object with no fields is `null`, as the general executor has it.
fn object(fields: IndexMap<Name, Value>) -> Value {
    if fields.is_empty() {
        Value::Null
    } else {
        Value::Object(fields)
    }
}

/// The fields of a selection set, or `None` if it holds anything but plain fields or
/// selects a response key twice.
fn fields(set: &Positioned<SelectionSet>) -> Option<Vec<&Positioned<Field>>> {
    let mut fields: Vec<&Positioned<Field>> = Vec::with_capacity(set.node.items.len());
    for item in &set.node.items {
        let Selection::Field(field) = &item.node else {
            return None;
        };
        let key = &field.node.response_key().node;
        if !field.node.directives.is_empty()
            || fields.iter().any(|f| f.node.response_key().node == *key)
        {
            return None;
        }
        fields.push(field);
    }
    Some(fields)
}

fn key_of(field: &Positioned<Field>) -> Name {
    field.node.response_key().node.clone()
}

fn at_of(field: &Positioned<Field>) -> At {
    At {
        key: key_of(field),
        pos: field.pos,
    }
}

fn root(api: &Api, field: &Positioned<Field>) -> Option<Root> {
    let name = field.node.name.node.as_str();
    if name == "__typename" {
        return Some(Root::Typename(key_of(field)));
    }
    for (model, exposed) in api.exposed.iter().enumerate() {
        let lookup = lower_first(exposed.model.name);
        let selection = if name == lookup {
            Selected::Lookup(columns(api, model, field)?)
        } else if name == plural(&lookup) {
            Selected::List(sub_fields(field, |_, _, f| {
                connection_field(api, model, f)
            })?)
        } else {
            continue;
        };
        return Some(Root::Field {
            field: field.clone(),
            model,
            selection,
        });
    }
    None
}

fn columns(api: &Api, model: usize, parent: &Positioned<Field>) -> Option<Vec<Column>> {
    let columns = &api.exposed[model].model.columns;
    sub_fields(parent, |name, key, _| {
        if name == "__typename" {
            return Some(Column::Typename(key));
        }
        let index = columns.iter().position(|c| field_name(c.name) == name)?;
        Some(Column::Value(key, index))
    })
}

/// The fields selected under `parent`, each read by `read` from its name, response key
/// and itself (`None` from `read`: not a shape for a plan).
fn sub_fields<T>(
    parent: &Positioned<Field>,
    read: impl Fn(&str, Name, &Positioned<Field>) -> Option<T>,
) -> Option<Vec<T>> {
    fields(&parent.node.selection_set)?
        .into_iter()
        .map(|f| read(f.node.name.node.as_str(), key_of(f), f))
        .collect()
}

fn connection_field(api: &Api, model: usize, field: &Positioned<Field>) -> Option<Connection> {
    let key = key_of(field);
    Some(match field.node.name.node.as_str() {
        "__typename" => Connection::Typename(key),
        "nodes" => Connection::Nodes(key, columns(api, model, field)?),
        "totalCount" => Connection::TotalCount(at_of(field)),
        "edges" => Connection::Edges(
            key,
            sub_fields(field, |name, key, f| {
                Some(match name {
                    "__typename" => EdgeField::Typename(key),
                    "cursor" => EdgeField::Cursor(key),
                    "node" => EdgeField::Node(key, columns(api, model, f)?),
                    _ => return None,
                })
            })?,
        ),
        "pageInfo" => Connection::PageInfo(
            key,
            sub_fields(field, |name, key, _| {
                Some(match name {
                    "__typename" => PageInfoField::Typename(key),
                    "hasNextPage" => PageInfoField::HasNext(key),
                    "hasPreviousPage" => PageInfoField::HasPrevious(key),
                    "startCursor" => PageInfoField::Start(key),
                    "endCursor" => PageInfoField::End(key),
                    _ => return None,
                })
            })?,
        ),
        _ => return None,
    })
}

/// A lookup's answer; the error inside is the field's, the outer one abandons the plan.
async fn lookup(
    api: &Api,
    model: usize,
    args: &Args,
    fields: &[Column],
) -> Result<Result<Value, Error>, Unanswerable> {
    let found = match lookup_args(api, model, args) {
        Ok((key, position)) => api.lookup(model, key, position).await,
        Err(err) => return Ok(Err(err)),
    };
    Ok(match found {
        Ok(Some(row)) => Ok(row_object(api, model, &row, fields)?),
        Ok(None) => Ok(Value::Null),
        Err(err) => Err(err.into()),
    })
}

async fn page(api: &Api, model: usize, args: &Args) -> Result<Page, Error> {
    Ok(api.page(model, list_args(args)?).await?)
}

/// A stored value the general executor would refuse to return: NULL in a non-null
/// column, or a value its scalar does not accept. Such a request is handed to the
/// general executor, which reports it.
pub(crate) struct Unanswerable;

fn row_object(
    api: &Api,
    model: usize,
    row: &[Value],
    fields: &[Column],
) -> Result<Value, Unanswerable> {
    let model = api.exposed[model].model;
    let mut out = IndexMap::with_capacity(fields.len());
    for field in fields {
        let (key, value) = match field {
            Column::Typename(key) => (key, Value::from(model.name)),
            Column::Value(key, i) => {
                let column = &model.columns[*i];
                let value = &row[*i];
                let valid = match value {
                    Value::Null => column.nullable,
                    value => scalar_accepts(column.ty, value),
                };
                if !valid {
                    return Err(Unanswerable);
                }
                (key, value.clone())
            }
        };
        out.insert(key.clone(), value);
    }
    Ok(object(out))
}

async fn connection(
    api: &Api,
    page: &Page,
    fields: &[Connection],
    errors: &mut Vec<ServerError>,
) -> Result<Value, Unanswerable> {
    let model = page.model;
    let type_name = api.exposed[model].model.name;
    let mut out = IndexMap::with_capacity(fields.len());
    for field in fields {
        let (key, value) = match field {
            Connection::Typename(key) => (key, Value::from(format!("{type_name}Connection"))),
            Connection::Nodes(key, columns) => (
                key,
                Value::List(
                    page.edges()
                        .iter()
                        .map(|edge| row_object(api, model, edge.row(), columns))
                        .collect::<Result<_, _>>()?,
                ),
            ),
            Connection::Edges(key, edge_fields) => (
                key,
                Value::List(
                    page.edges()
                        .iter()
                        .map(|edge| edge_object(api, model, edge, edge_fields))
                        .collect::<Result<_, _>>()?,
                ),
            ),
            Connection::PageInfo(key, info) => (key, page_info(page, info)),
            Connection::TotalCount(count) => match api.count(page).await {
                Ok(n) => (&count.key, Value::from(n)),
                Err(err) => {
                    errors.push(Error::from(err).into_server_error(count.pos));
                    continue;
                }
            },
        };
        out.insert(key.clone(), value);
    }
    Ok(object(out))
}

fn edge_object(
    api: &Api,
    model: usize,
    edge: &Edge,
    fields: &[EdgeField],
) -> Result<Value, Unanswerable> {
    let type_name = api.exposed[model].model.name;
    let mut out = IndexMap::with_capacity(fields.len());
    for field in fields {
        let (key, value) = match field {
            EdgeField::Typename(key) => (key, Value::from(format!("{type_name}Edge"))),
            EdgeField::Cursor(key) => (key, Value::String(edge.cursor())),
            EdgeField::Node(key, columns) => (key, row_object(api, model, edge.row(), columns)?),
        };
        out.insert(key.clone(), value);
    }
    Ok(object(out))
}

fn page_info(page: &Page, fields: &[PageInfoField]) -> Value {
    let cursor = |c: Option<String>| c.map_or(Value::Null, Value::String);
    object(
        fields
            .iter()
            .map(|field| match field {
                PageInfoField::Typename(key) => (key.clone(), Value::from("PageInfo")),
                PageInfoField::HasNext(key) => (key.clone(), Value::Boolean(page.has_next)),
                PageInfoField::HasPrevious(key) => (key.clone(), Value::Boolean(page.has_previous)),
                PageInfoField::Start(key) => (key.clone(), cursor(page.start_cursor())),
                PageInfoField::End(key) => (key.clone(), cursor(page.end_cursor())),
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use async_graphql::ValidationMode;

    use super::*;
    use crate::graphql::ReadModelApi;
    use crate::graphql::fixture::MODEL;

    /// An API over `MODEL` with no database: every lookup and list fails.
    fn api() -> Arc<Api> {
        ReadModelApi::schema_only(&[])
            .expose_descriptor(&MODEL, "rows")
            .api()
    }

    fn plan(api: &Api, query: &str, operation: Option<&str>) -> Option<Plan> {
        let document = async_graphql::parser::parse_query(query).unwrap();
        Plan::compile(api, &document, operation)
    }

    fn compiles(query: &str, operation: Option<&str>) -> bool {
        plan(&api(), query, operation).is_some()
    }

    #[tokio::test]
    async fn errors_are_reported_as_the_general_executor_reports_them() {
        let api = api();
        let schema = super::super::schema::build::<super::super::resolvers::Served>(
            api.clone(),
            ValidationMode::Strict,
        )
        .unwrap();
        let variables =
            || Variables::from_json(serde_json::json!({ "id": "a", "f": { "id": { "eq": "b" } } }));
        for query in [
            r#"{ row(id: "a") { id } }"#,
            r#"{ row(id: "a", atLeastPosition: -1) { id } }"#,
            "{ rows(first: 2) { nodes { id } totalCount } }",
            "{ __typename x: rows { totalCount } }",
            "query($id: String!) { row(id: $id) { id } }",
            "query($n: Int = 2, $f: RowFilter) { rows(first: $n, filter: $f) { totalCount } }",
        ] {
            let planned = plan(&api, query, None).expect("the query compiles");
            let planned = planned.run(&api, &variables()).await.unwrap();
            assert!(!planned.errors.is_empty(), "{query}");
            let general = schema
                .execute(async_graphql::Request::new(query).variables(variables()))
                .await;
            assert_eq!(
                serde_json::to_string(&planned).unwrap(),
                serde_json::to_string(&general).unwrap(),
                "{query}"
            );
        }
    }

    #[test]
    fn the_common_shapes_compile() {
        for query in [
            r#"{ row(id: "a") { id unitPrice __typename } }"#,
            r#"{ __typename a: row(id: "a") { id } b: row(id: "b") { x: unitPrice } }"#,
            "{ rows(first: 5, orderBy: [{ field: UNIT_PRICE, direction: DESC }]) { \
               nodes { id } edges { cursor node { id } __typename } \
               pageInfo { hasNextPage hasPreviousPage startCursor endCursor __typename } \
               totalCount __typename } }",
            r#"query Named { rows(filter: { id: { startsWith: "a" } }) { nodes { id } } }"#,
            "query($id: String!, $n: Int = 3) { row(id: $id) { id } rows(first: $n) { totalCount } }",
        ] {
            assert!(compiles(query, None), "{query}");
        }
        let two = "query A { row(id: \"a\") { id } } query B { rows { totalCount } }";
        assert!(compiles(two, Some("B")));
    }

    #[test]
    fn other_shapes_are_left_to_the_general_executor() {
        for (query, operation) in [
            // Fragments, directives, introspection.
            ("{ row(id: \"a\") { ...F } } fragment F on Row { id }", None),
            ("{ row(id: \"a\") { ... on Row { id } } }", None),
            ("{ row(id: \"a\") { id @include(if: true) } }", None),
            ("query @skip(if: false) { row(id: \"a\") { id } }", None),
            ("{ __schema { queryType { name } } }", None),
            ("{ __type(name: \"Row\") { name } }", None),
            // A response key twice (the general executor merges the selections).
            ("{ row(id: \"a\") { id id } }", None),
            ("{ rows { nodes { id } nodes { unitPrice } } }", None),
            // Not a query, or an operation chosen among several without a name.
            ("mutation { row(id: \"a\") { id } }", None),
            (
                "query A { row(id: \"a\") { id } } query B { rows { totalCount } }",
                None,
            ),
            ("{ row(id: \"a\") { id } }", Some("A")),
        ] {
            assert!(!compiles(query, operation), "{query}");
        }
    }
}
