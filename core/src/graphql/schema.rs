//! The GraphQL schema of the exposed read models, built at run time from their
//! descriptors (async-graphql's dynamic schema).
//!
//! This module builds the schema's types: their names, fields, arguments, filters and
//! connections, from the descriptors alone. How a field gets its value comes from a set
//! of [`Resolvers`]: those that answer from the database (`super::resolvers`, with the
//! `graphql` feature and an SQL backend), or [`Unserved`], which refuse every query, for
//! a schema built to print its SDL. Both build the same schema, so the SDL printed with
//! the `graphql-schema` feature alone is the one the API serves.

use std::sync::Arc;

use async_graphql::dynamic::{
    Enum, Field, FieldFuture, InputObject, InputValue, Object, ResolverContext, Scalar, Schema,
    SchemaBuilder, SchemaError, Subscription, SubscriptionFieldFuture, TypeRef,
};
use async_graphql::{ValidationMode, Value};

use super::{Api, Exposed};
use crate::projection::read_model::{ColumnType, ReadModelDescriptor};

/// A field's resolver, as the dynamic schema takes it.
pub(crate) trait Resolver:
    for<'a> Fn(ResolverContext<'a>) -> FieldFuture<'a> + Send + Sync + 'static
{
}

impl<F> Resolver for F where
    F: for<'a> Fn(ResolverContext<'a>) -> FieldFuture<'a> + Send + Sync + 'static
{
}

/// A subscription field's resolver, as the dynamic schema takes it.
pub(crate) trait SubscriptionResolver:
    for<'a> Fn(ResolverContext<'a>) -> SubscriptionFieldFuture<'a> + Send + Sync + 'static
{
}

impl<F> SubscriptionResolver for F where
    F: for<'a> Fn(ResolverContext<'a>) -> SubscriptionFieldFuture<'a> + Send + Sync + 'static
{
}

/// One of the fields of `PageInfo`.
#[derive(Clone, Copy, Debug)]
pub(crate) enum PageInfoPart {
    HasNextPage,
    HasPreviousPage,
    StartCursor,
    EndCursor,
}

/// How each field of the schema gets its value. The schema's types are built once, by
/// [`build`]; the resolvers are the part that reads the database.
///
/// A model's index is its place among the API's exposed read models; a column's, its
/// place among its model's columns.
pub(crate) trait Resolvers {
    /// A field of `PageInfo`, read from a page.
    fn page_info(part: PageInfoPart) -> impl Resolver;
    /// Column `column` of a read model's row.
    fn column(column: usize) -> impl Resolver;
    /// An edge's `cursor`.
    fn edge_cursor() -> impl Resolver;
    /// An edge's `node`: its row.
    fn edge_node() -> impl Resolver;
    /// A connection's `edges`.
    fn edges() -> impl Resolver;
    /// A connection's `nodes`: the rows of its edges.
    fn nodes() -> impl Resolver;
    /// A connection's `pageInfo`.
    fn page() -> impl Resolver;
    /// A connection's `totalCount`.
    fn total_count() -> impl Resolver;
    /// The root field looking up one row of model `model` by its key.
    fn lookup(model: usize) -> impl Resolver;
    /// The root field listing the rows of model `model`, a page at a time.
    fn list(model: usize) -> impl Resolver;
    /// A change's `op`.
    fn change_op() -> impl Resolver;
    /// A change's `seq`.
    fn change_seq() -> impl Resolver;
    /// A change's `row`.
    fn change_row() -> impl Resolver;
    /// The subscription to the changes of model `model`.
    fn changed(model: usize) -> impl SubscriptionResolver;
}

/// The resolvers of a schema built for its SDL alone, with no database: every field
/// refuses, with the message a served API without a database gives
/// (`ApiError::NoDatabase`). A schema is built with them only without the `graphql`
/// feature and an SQL backend (and by the tests, to compare the two schemas).
#[cfg(any(test, not(all(feature = "graphql", sql))))]
pub(crate) struct Unserved;

/// What a query of a schema built for its SDL alone is told.
#[cfg(any(test, not(all(feature = "graphql", sql))))]
const NO_DATABASE: &str = "this API was built for its schema only and has no database";

/// A field's resolver that refuses: there is no database to read.
#[cfg(any(test, not(all(feature = "graphql", sql))))]
fn refuse(_: ResolverContext<'_>) -> FieldFuture<'_> {
    FieldFuture::new(async {
        Err::<Option<async_graphql::dynamic::FieldValue<'_>>, _>(async_graphql::Error::new(
            NO_DATABASE,
        ))
    })
}

/// A subscription's resolver that refuses: there is no database to follow.
#[cfg(any(test, not(all(feature = "graphql", sql))))]
fn refuse_subscription(_: ResolverContext<'_>) -> SubscriptionFieldFuture<'_> {
    SubscriptionFieldFuture::new(async {
        Err::<
            futures_util::stream::Empty<
                async_graphql::Result<async_graphql::dynamic::FieldValue<'_>>,
            >,
            _,
        >(async_graphql::Error::new(NO_DATABASE))
    })
}

#[cfg(any(test, not(all(feature = "graphql", sql))))]
impl Resolvers for Unserved {
    fn page_info(_: PageInfoPart) -> impl Resolver {
        refuse
    }
    fn column(_: usize) -> impl Resolver {
        refuse
    }
    fn edge_cursor() -> impl Resolver {
        refuse
    }
    fn edge_node() -> impl Resolver {
        refuse
    }
    fn edges() -> impl Resolver {
        refuse
    }
    fn nodes() -> impl Resolver {
        refuse
    }
    fn page() -> impl Resolver {
        refuse
    }
    fn total_count() -> impl Resolver {
        refuse
    }
    fn lookup(_: usize) -> impl Resolver {
        refuse
    }
    fn list(_: usize) -> impl Resolver {
        refuse
    }
    fn change_op() -> impl Resolver {
        refuse
    }
    fn change_seq() -> impl Resolver {
        refuse
    }
    fn change_row() -> impl Resolver {
        refuse
    }
    fn changed(_: usize) -> impl SubscriptionResolver {
        refuse_subscription
    }
}

/// `updated_at` → `updatedAt`.
pub(crate) fn field_name(column: &str) -> String {
    let mut out = String::with_capacity(column.len());
    let mut upper = false;
    for c in column.chars() {
        if c == '_' {
            upper = !out.is_empty();
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `AccountBalance` → `accountBalance`.
pub(crate) fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_lowercase().chain(chars).collect())
        .unwrap_or_default()
}

/// `accountBalance` → `accountBalances`, `address` → `addresses`, `entry` → `entries`.
pub(crate) fn plural(name: &str) -> String {
    let vowel = |c: char| "aeiou".contains(c);
    if ["s", "x", "z", "ch", "sh"]
        .iter()
        .any(|end| name.ends_with(end))
    {
        format!("{name}es")
    } else if name.ends_with('y') && name.chars().rev().nth(1).is_some_and(|c| !vowel(c)) {
        format!("{}ies", &name[..name.len() - 1])
    } else {
        format!("{name}s")
    }
}

/// The GraphQL type of a column's values.
pub(crate) fn scalar_of(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Text => TypeRef::STRING,
        ColumnType::Integer => "Long",
        ColumnType::Real => TypeRef::FLOAT,
        ColumnType::Boolean => TypeRef::BOOLEAN,
        ColumnType::Timestamp => "DateTime",
        ColumnType::Uuid => "UUID",
        ColumnType::Json => "JSON",
    }
}

/// Whether the scalar of a column type accepts `value` (`null` aside): async-graphql
/// checks every value a field returns against its scalar, and the plans do the same.
pub(crate) fn scalar_accepts(ty: ColumnType, value: &Value) -> bool {
    match ty {
        ColumnType::Text => matches!(value, Value::String(_)),
        ColumnType::Integer => matches!(value, Value::Number(n) if n.is_i64()),
        ColumnType::Real => matches!(value, Value::Number(_)),
        ColumnType::Boolean => matches!(value, Value::Boolean(_)),
        ColumnType::Timestamp => {
            matches!(value, Value::String(s) if chrono::DateTime::parse_from_rfc3339(s).is_ok())
        }
        ColumnType::Uuid => matches!(value, Value::String(s) if uuid::Uuid::parse_str(s).is_ok()),
        ColumnType::Json => true,
    }
}

/// The filter input of a column type (`None`: not filterable).
fn filter_of(ty: ColumnType) -> Option<&'static str> {
    Some(match ty {
        ColumnType::Text => "StringFilter",
        ColumnType::Integer => "LongFilter",
        ColumnType::Real => "FloatFilter",
        ColumnType::Boolean => "BooleanFilter",
        ColumnType::Timestamp => "DateTimeFilter",
        ColumnType::Uuid => "UUIDFilter",
        ColumnType::Json => return None,
    })
}

fn shared_types<R: Resolvers>(
    builder: async_graphql::dynamic::SchemaBuilder,
) -> async_graphql::dynamic::SchemaBuilder {
    let long = Scalar::new("Long")
        .description("A 64-bit signed integer, as a JSON number.")
        .validator(|v| scalar_accepts(ColumnType::Integer, v));
    let datetime = Scalar::new("DateTime")
        .description("A point in time, RFC 3339 (`2026-01-01T00:00:00.000000Z`).")
        .validator(|v| scalar_accepts(ColumnType::Timestamp, v));
    let uuid = Scalar::new("UUID")
        .description("A UUID in its hyphenated form.")
        .validator(|v| scalar_accepts(ColumnType::Uuid, v));
    let json = Scalar::new("JSON").description("Any JSON value.");
    let direction = Enum::new("SortDirection")
        .description("Ascending or descending.")
        .item("ASC")
        .item("DESC");
    let nulls = Enum::new("NullsOrder")
        .description("Where NULLs sort. Default: as if larger than every value (last when ascending, first when descending).")
        .item("FIRST")
        .item("LAST");
    let page_info = Object::new("PageInfo")
        .description("Where a page sits in the whole list (Relay cursor connections).")
        .field(Field::new(
            "hasNextPage",
            TypeRef::named_nn(TypeRef::BOOLEAN),
            R::page_info(PageInfoPart::HasNextPage),
        ))
        .field(Field::new(
            "hasPreviousPage",
            TypeRef::named_nn(TypeRef::BOOLEAN),
            R::page_info(PageInfoPart::HasPreviousPage),
        ))
        .field(Field::new(
            "startCursor",
            TypeRef::named(TypeRef::STRING),
            R::page_info(PageInfoPart::StartCursor),
        ))
        .field(Field::new(
            "endCursor",
            TypeRef::named(TypeRef::STRING),
            R::page_info(PageInfoPart::EndCursor),
        ));
    let mut builder = builder
        .register(long)
        .register(datetime)
        .register(uuid)
        .register(json)
        .register(direction)
        .register(nulls)
        .register(page_info);
    for ty in [
        ColumnType::Text,
        ColumnType::Integer,
        ColumnType::Real,
        ColumnType::Boolean,
        ColumnType::Timestamp,
        ColumnType::Uuid,
    ] {
        builder = builder.register(scalar_filter(ty));
    }
    builder
}

/// `StringFilter`, `LongFilter`, …: the operators one column type supports.
fn scalar_filter(ty: ColumnType) -> InputObject {
    let name = filter_of(ty).unwrap_or_default();
    let scalar = scalar_of(ty);
    let mut input = InputObject::new(name).description(format!(
        "Conditions on one {scalar} column; all given must hold. `eq: null` means IS NULL."
    ));
    let mut ops = vec!["eq", "ne"];
    if ty != ColumnType::Boolean {
        ops.extend(["lt", "lte", "gt", "gte"]);
    }
    for op in ops {
        input = input.field(InputValue::new(op, TypeRef::named(scalar)));
    }
    if ty != ColumnType::Boolean {
        input = input
            .field(InputValue::new("in", TypeRef::named_nn_list(scalar)))
            .field(InputValue::new("notIn", TypeRef::named_nn_list(scalar)));
    }
    input = input.field(InputValue::new("isNull", TypeRef::named(TypeRef::BOOLEAN)));
    if ty == ColumnType::Text {
        for op in [
            "contains",
            "startsWith",
            "eqInsensitive",
            "containsInsensitive",
            "startsWithInsensitive",
        ] {
            input = input.field(InputValue::new(op, TypeRef::named(TypeRef::STRING)));
        }
    }
    input
}

/// The whole schema, validating queries in the given mode.
pub(crate) fn build<R: Resolvers>(
    api: Arc<Api>,
    validation: ValidationMode,
) -> Result<Schema, SchemaError> {
    builder::<R>(api, validation)?.finish()
}

/// Refuses names that would meet: a field added under a name already taken would
/// silently replace the first (two read models `Bus` and `Buses` both list as `buses`;
/// columns `a_b` and `aB` are both the field `aB`).
fn check_names(api: &Api) -> Result<(), SchemaError> {
    let mut roots = std::collections::HashSet::new();
    for exposed in &api.exposed {
        let model = exposed.model;
        let lookup = lower_first(model.name);
        for root in [plural(&lookup), lookup] {
            if !roots.insert(root.clone()) {
                return Err(SchemaError(format!(
                    "two exposed read models would both be the query field `{root}`: \
                     expose each once, and rename a type whose name meets another's plural"
                )));
            }
        }
        let mut fields = std::collections::HashSet::new();
        for column in model.columns {
            let field = field_name(column.name);
            if !fields.insert(field.clone()) {
                return Err(SchemaError(format!(
                    "read model `{}`: two columns would both be the GraphQL field `{field}`; \
                     rename one",
                    model.name
                )));
            }
        }
    }
    Ok(())
}

/// The whole schema, before it is finished (to add an extension).
pub(crate) fn builder<R: Resolvers>(
    api: Arc<Api>,
    validation: ValidationMode,
) -> Result<SchemaBuilder, SchemaError> {
    check_names(&api)?;
    let mut query =
        Object::new("Query").description("The read models, as their projections keep them.");
    let changing = api.exposed.iter().any(|e| e.model.changes);
    let mut builder = shared_types::<R>(Schema::build(
        "Query",
        None,
        changing.then_some("Subscription"),
    ));
    let mut subscription = Subscription::new("Subscription")
        .description("Committed changes of the read models that record them.");
    for (index, exposed) in api.exposed.iter().enumerate() {
        let (types, lookup, list) = model_types::<R>(index, exposed);
        for ty in types {
            builder = builder.register(ty);
        }
        query = query.field(lookup).field(list);
        if exposed.model.changes {
            builder =
                builder.register(super::subscriptions::change_object::<R>(exposed.model.name));
            subscription =
                subscription.field(super::subscriptions::field::<R>(index, exposed.model));
        }
    }
    if changing {
        builder = builder
            .register(super::subscriptions::op_enum())
            .register(subscription);
    }
    Ok(builder
        .register(query)
        .data(api.clone())
        .validation_mode(validation)
        .limit_depth(api.limits.max_depth)
        .limit_complexity(api.limits.max_complexity))
}

enum Registered {
    Object(Object),
    Input(InputObject),
    Enum(Enum),
}

impl From<Registered> for async_graphql::dynamic::Type {
    fn from(r: Registered) -> Self {
        match r {
            Registered::Object(o) => o.into(),
            Registered::Input(i) => i.into(),
            Registered::Enum(e) => e.into(),
        }
    }
}

fn model_types<R: Resolvers>(index: usize, exposed: &Exposed) -> (Vec<Registered>, Field, Field) {
    let model: &ReadModelDescriptor = exposed.model;
    let name = model.name;
    let mut object = Object::new(name);
    if !model.description.is_empty() {
        object = object.description(model.description);
    }
    let mut filter = InputObject::new(format!("{name}Filter")).description(format!(
        "Which `{name}` rows to return: every condition given must hold; combine with `and`, `or` and `not`."
    ));
    let mut fields =
        Enum::new(format!("{name}Field")).description(format!("A sortable field of `{name}`."));
    for (i, column) in model.columns.iter().enumerate() {
        let scalar = scalar_of(column.ty);
        let ty = if column.nullable {
            TypeRef::named(scalar)
        } else {
            TypeRef::named_nn(scalar)
        };
        let mut field = Field::new(field_name(column.name), ty, R::column(i));
        if !column.description.is_empty() {
            field = field.description(column.description);
        }
        object = object.field(field);
        if let Some(filter_type) = filter_of(column.ty) {
            filter = filter.field(InputValue::new(
                field_name(column.name),
                TypeRef::named(filter_type),
            ));
            fields = fields.item(column.name.to_uppercase());
        }
    }
    let filter_name = format!("{name}Filter");
    filter = filter
        .field(InputValue::new("and", TypeRef::named_nn_list(&filter_name)))
        .field(InputValue::new("or", TypeRef::named_nn_list(&filter_name)))
        .field(InputValue::new("not", TypeRef::named(&filter_name)));
    let order = InputObject::new(format!("{name}Order"))
        .description(format!(
            "One sort key of a `{name}` list; the key field always breaks ties."
        ))
        .field(InputValue::new(
            "field",
            TypeRef::named_nn(format!("{name}Field")),
        ))
        .field(
            InputValue::new("direction", TypeRef::named_nn("SortDirection"))
                .default_value(Value::Enum(async_graphql::Name::new("ASC"))),
        )
        .field(InputValue::new("nulls", TypeRef::named("NullsOrder")));
    let edge = Object::new(format!("{name}Edge"))
        .field(Field::new(
            "cursor",
            TypeRef::named_nn(TypeRef::STRING),
            R::edge_cursor(),
        ))
        .field(Field::new("node", TypeRef::named_nn(name), R::edge_node()));
    let connection = Object::new(format!("{name}Connection"))
        .description(format!(
            "A page of `{name}` rows (Relay cursor connection)."
        ))
        .field(Field::new(
            "edges",
            TypeRef::named_nn_list_nn(format!("{name}Edge")),
            R::edges(),
        ))
        .field(Field::new(
            "nodes",
            TypeRef::named_nn_list_nn(name),
            R::nodes(),
        ))
        .field(Field::new(
            "pageInfo",
            TypeRef::named_nn("PageInfo"),
            R::page(),
        ))
        .field(Field::new(
            "totalCount",
            TypeRef::named_nn("Long"),
            R::total_count(),
        ));

    let key = model.key_column();
    let key_type = key.map_or(TypeRef::STRING, |k| scalar_of(k.ty));
    let key_arg = key.map_or_else(|| "key".to_owned(), |k| field_name(k.name));
    let lookup_name = lower_first(name);
    let lookup = Field::new(lookup_name, TypeRef::named(name), R::lookup(index))
        .description(format!("One `{name}` by its key, or null."))
        .argument(InputValue::new(key_arg, TypeRef::named_nn(key_type)))
        .argument(at_least_argument());

    let list = Field::new(
        plural(&lower_first(name)),
        TypeRef::named_nn(format!("{name}Connection")),
        R::list(index),
    )
    .description(format!(
        "`{name}` rows, a page at a time: `first`/`after` forward, `last`/`before` backward."
    ))
    .argument(InputValue::new("first", TypeRef::named(TypeRef::INT)))
    .argument(InputValue::new("after", TypeRef::named(TypeRef::STRING)))
    .argument(InputValue::new("last", TypeRef::named(TypeRef::INT)))
    .argument(InputValue::new("before", TypeRef::named(TypeRef::STRING)))
    .argument(InputValue::new("filter", TypeRef::named(filter_name)))
    .argument(InputValue::new(
        "orderBy",
        TypeRef::named_nn_list(format!("{name}Order")),
    ))
    .argument(at_least_argument());

    (
        vec![
            Registered::Object(object),
            Registered::Input(filter),
            Registered::Enum(fields),
            Registered::Input(order),
            Registered::Object(edge),
            Registered::Object(connection),
        ],
        lookup,
        list,
    )
}

fn at_least_argument() -> InputValue {
    InputValue::new("atLeastPosition", TypeRef::named("Long")).description(
        "Read your own writes: wait (bounded) until the read model's projection has applied \
         the event at this global position, such as one a command returned.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_would_meet_are_refused() {
        use crate::projection::read_model::Column;
        static BUS: [Column; 1] = [Column {
            name: "id",
            ty: ColumnType::Text,
            nullable: false,
            description: "",
        }];
        static CLASH: [Column; 2] = [
            Column {
                name: "a_b",
                ty: ColumnType::Text,
                nullable: false,
                description: "",
            },
            Column {
                name: "aB",
                ty: ColumnType::Text,
                nullable: false,
                description: "",
            },
        ];
        let model = |name, columns: &'static [Column]| {
            &*Box::leak(Box::new(ReadModelDescriptor {
                name,
                table: "t",
                key: "id",
                columns,
                indexes: &[],
                changes: false,
                description: "",
            }))
        };
        let api = |models: &[&'static ReadModelDescriptor]| {
            models
                .iter()
                .fold(super::super::ReadModelApi::schema_only(&[]), |api, m| {
                    api.expose_descriptor(m, "p")
                })
                .schema()
                .map(|_| ())
                .map_err(|e| e.0)
        };
        assert!(api(&[model("Bus", &BUS), model("Car", &BUS)]).is_ok());
        let err = api(&[model("Bus", &BUS), model("Buses", &BUS)]).unwrap_err();
        assert!(err.contains("`buses`"), "{err}");
        let err = api(&[model("Clash", &CLASH)]).unwrap_err();
        assert!(err.contains("`aB`"), "{err}");
    }

    #[test]
    fn names() {
        assert_eq!(field_name("updated_at"), "updatedAt");
        assert_eq!(field_name("cents"), "cents");
        assert_eq!(plural("accountBalance"), "accountBalances");
        assert_eq!(plural("address"), "addresses");
        assert_eq!(plural("entry"), "entries");
        assert_eq!(plural("day"), "days");
        assert_eq!(lower_first("Transaction"), "transaction");
    }

    /// An API over the test read model and one that records its changes (so that the
    /// subscription's types are in the schema too).
    fn fixture_api() -> Arc<Api> {
        static CHANGING: ReadModelDescriptor = ReadModelDescriptor {
            name: "Changing",
            table: "changing",
            changes: true,
            description: "Rows whose changes are recorded.",
            ..super::super::fixture::MODEL
        };
        super::super::ReadModelApi::schema_only(&[])
            .expose_descriptor(&super::super::fixture::MODEL, "rows")
            .expose_descriptor(&CHANGING, "changing")
            .api()
    }

    /// The schema built for its SDL alone is the schema served: the resolvers are the
    /// only difference, and the SDL does not show them.
    #[cfg(all(feature = "graphql", sql))]
    #[test]
    fn the_sdl_without_a_database_is_the_served_one() {
        let served =
            build::<super::super::resolvers::Served>(fixture_api(), ValidationMode::Strict)
                .unwrap()
                .sdl();
        let unserved = build::<Unserved>(fixture_api(), ValidationMode::Strict)
            .unwrap()
            .sdl();
        assert!(
            served.contains("changingChanged(filter: ChangingFilter)"),
            "{served}"
        );
        assert_eq!(unserved, served);
        assert_eq!(NO_DATABASE, super::super::ApiError::NoDatabase.to_string());
    }

    #[tokio::test]
    async fn a_schema_without_a_database_refuses_queries() {
        let schema = build::<Unserved>(fixture_api(), ValidationMode::Strict).unwrap();
        for query in [r#"{ row(id: "a") { id } }"#, "{ rows { totalCount } }"] {
            let response = schema.execute(query).await;
            assert_eq!(response.errors.len(), 1, "{query}");
            assert_eq!(response.errors[0].message, NO_DATABASE, "{query}");
        }
        let introspected = schema.execute("{ __type(name: \"Row\") { name } }").await;
        assert!(introspected.errors.is_empty());
    }
}
