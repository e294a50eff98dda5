//! The GraphQL schema of the exposed read models, built at run time from their
//! descriptors (async-graphql's dynamic schema).

use std::any::Any;
use std::sync::Arc;

use async_graphql::dynamic::{
    Enum, Field, FieldFuture, FieldValue, InputObject, InputValue, Object, ResolverContext, Scalar,
    Schema, SchemaBuilder, SchemaError, Subscription, TypeRef,
};
use async_graphql::{Error, Name, ValidationMode, Value};
use indexmap::IndexMap;

use super::{Api, Edge, Exposed, ListArgs, Page};
use crate::projection::read_model::{ColumnType, ReadModelDescriptor};
use crate::store::sql::queries::RowValues;

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

fn shared_types(
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
        .field(page_field(
            "hasNextPage",
            TypeRef::named_nn(TypeRef::BOOLEAN),
            |p| Value::Boolean(p.has_next),
        ))
        .field(page_field(
            "hasPreviousPage",
            TypeRef::named_nn(TypeRef::BOOLEAN),
            |p| Value::Boolean(p.has_previous),
        ))
        .field(page_field(
            "startCursor",
            TypeRef::named(TypeRef::STRING),
            |p| p.start_cursor().map_or(Value::Null, Value::String),
        ))
        .field(page_field(
            "endCursor",
            TypeRef::named(TypeRef::STRING),
            |p| p.end_cursor().map_or(Value::Null, Value::String),
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

fn page_field(name: &str, ty: TypeRef, get: fn(&Page) -> Value) -> Field {
    Field::new(name, ty, move |ctx| {
        from_parent(&ctx, |page: &Page| scalar_value(get(page)))
    })
}

/// A scalar field's value; `null` is no value at all, which is how async-graphql takes a
/// null (as a value, it fails the scalar's check).
fn scalar_value<'a>(value: Value) -> Option<FieldValue<'a>> {
    match value {
        Value::Null => None,
        value => Some(FieldValue::value(value)),
    }
}

/// A field read from its parent's value, with no I/O: handed back at once, with no future
/// to allocate (a page of 50 rows resolves a few hundred such fields).
fn from_parent<'a, T: Any>(
    ctx: &ResolverContext<'a>,
    read: impl FnOnce(&'a T) -> Option<FieldValue<'a>>,
) -> FieldFuture<'a> {
    match ctx.parent_value.try_downcast_ref::<T>() {
        Ok(parent) => FieldFuture::Value(read(parent)),
        Err(err) => FieldFuture::new(async move { Err::<Option<FieldValue<'a>>, _>(err) }),
    }
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
pub(crate) fn build(api: Arc<Api>, validation: ValidationMode) -> Result<Schema, SchemaError> {
    builder(api, validation)?.finish()
}

/// The schema validating queries in full and answering the requests that carry a plan
/// from it (see [`super::direct::RunPlans`]).
pub(crate) fn build_planned(api: Arc<Api>) -> Result<Schema, SchemaError> {
    builder(api, ValidationMode::Strict)?
        .extension(super::direct::RunPlans)
        .finish()
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

fn builder(api: Arc<Api>, validation: ValidationMode) -> Result<SchemaBuilder, SchemaError> {
    check_names(&api)?;
    let mut query =
        Object::new("Query").description("The read models, as their projections keep them.");
    let changing = api.exposed.iter().any(|e| e.model.changes);
    let mut builder = shared_types(Schema::build(
        "Query",
        None,
        changing.then_some("Subscription"),
    ));
    let mut subscription = Subscription::new("Subscription")
        .description("Committed changes of the read models that record them.");
    for (index, exposed) in api.exposed.iter().enumerate() {
        let (types, lookup, list) = model_types(index, exposed);
        for ty in types {
            builder = builder.register(ty);
        }
        query = query.field(lookup).field(list);
        if exposed.model.changes {
            builder = builder.register(super::subscriptions::change_object(exposed.model.name));
            subscription = subscription.field(super::subscriptions::field(index, exposed.model));
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

fn model_types(index: usize, exposed: &Exposed) -> (Vec<Registered>, Field, Field) {
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
        let mut field = Field::new(field_name(column.name), ty, move |ctx| {
            from_parent(&ctx, |row: &RowValues| scalar_value(row[i].clone()))
        });
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
            |ctx| {
                from_parent(&ctx, |edge: &Edge| {
                    Some(FieldValue::value(Value::String(edge.cursor())))
                })
            },
        ))
        .field(Field::new("node", TypeRef::named_nn(name), |ctx| {
            from_parent(&ctx, |edge: &Edge| {
                Some(FieldValue::borrowed_any(edge.row()))
            })
        }));
    let connection = Object::new(format!("{name}Connection"))
        .description(format!(
            "A page of `{name}` rows (Relay cursor connection)."
        ))
        .field(Field::new(
            "edges",
            TypeRef::named_nn_list_nn(format!("{name}Edge")),
            |ctx| {
                from_parent(&ctx, |page: &Page| {
                    Some(FieldValue::list(
                        page.edges()
                            .iter()
                            .map(|edge| FieldValue::borrowed_any(edge)),
                    ))
                })
            },
        ))
        .field(Field::new(
            "nodes",
            TypeRef::named_nn_list_nn(name),
            |ctx| {
                from_parent(&ctx, |page: &Page| {
                    Some(FieldValue::list(
                        page.edges()
                            .iter()
                            .map(|edge| FieldValue::borrowed_any(edge.row())),
                    ))
                })
            },
        ))
        .field(Field::new(
            "pageInfo",
            TypeRef::named_nn("PageInfo"),
            |ctx| from_parent(&ctx, |page: &Page| Some(FieldValue::borrowed_any(page))),
        ))
        .field(Field::new("totalCount", TypeRef::named_nn("Long"), |ctx| {
            FieldFuture::new(async move {
                let page = ctx.parent_value.try_downcast_ref::<Page>()?;
                let api = ctx.data::<Arc<Api>>()?;
                let count = api.count(page).await?;
                Ok(Some(FieldValue::value(Value::from(count))))
            })
        }));

    let key = model.key_column();
    let key_type = key.map_or(TypeRef::STRING, |k| scalar_of(k.ty));
    let key_arg = key.map_or_else(|| "key".to_owned(), |k| field_name(k.name));
    let lookup_name = lower_first(name);
    let lookup = Field::new(
        lookup_name,
        TypeRef::named(name),
        move |ctx: ResolverContext<'_>| {
            FieldFuture::new(async move {
                let api = ctx.data::<Arc<Api>>()?;
                let (key, position) = lookup_args(api, index, ctx.args.as_index_map())?;
                let row = api.lookup(index, key, position).await?;
                Ok(row.map(FieldValue::owned_any))
            })
        },
    )
    .description(format!("One `{name}` by its key, or null."))
    .argument(InputValue::new(key_arg, TypeRef::named_nn(key_type)))
    .argument(at_least_argument());

    let list = Field::new(
        plural(&lower_first(name)),
        TypeRef::named_nn(format!("{name}Connection")),
        move |ctx| {
            FieldFuture::new(async move {
                let api = ctx.data::<Arc<Api>>()?;
                let args = list_args(ctx.args.as_index_map())?;
                let page = api.page(index, args).await?;
                Ok(Some(FieldValue::owned_any(page)))
            })
        },
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

/// The arguments of a field, as the query gave them.
pub(crate) type Args = IndexMap<Name, Value>;

/// A lookup field's key and `atLeastPosition`.
pub(crate) fn lookup_args(
    api: &Api,
    index: usize,
    args: &Args,
) -> Result<(Value, Option<u64>), Error> {
    let name = field_name(api.exposed[index].model.key);
    let key = args
        .get(name.as_str())
        .ok_or_else(|| Error::new(format!("the key argument `{name}` is missing")))?;
    Ok((key.clone(), at_least(args)?))
}

/// A list field's arguments.
pub(crate) fn list_args(args: &Args) -> Result<ListArgs, Error> {
    let string = |name: &str| match args.get(name) {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    Ok(ListArgs {
        first: optional_int(args, "first")?,
        last: optional_int(args, "last")?,
        after: string("after"),
        before: string("before"),
        filter: args.get("filter").cloned(),
        order_by: args.get("orderBy").cloned(),
        at_least: at_least(args)?,
    })
}

fn at_least(args: &Args) -> Result<Option<u64>, Error> {
    match optional_int(args, "atLeastPosition")? {
        None => Ok(None),
        Some(n) => u64::try_from(n)
            .map(Some)
            .map_err(|_| Error::new("atLeastPosition must not be negative")),
    }
}

fn optional_int(args: &Args, name: &str) -> Result<Option<i64>, Error> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| Error::new(format!("`{name}` must be an integer"))),
        Some(_) => Err(Error::new(format!("`{name}` must be an integer"))),
    }
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
}
