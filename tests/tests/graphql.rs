//! The GraphQL read-model API end to end, over real HTTP against the running router, on
//! SQLite and PostgreSQL: key lookup, every filter operator, and/or/not, multi-key
//! ordering with nulls, forward and backward pagination through 300 rows, the page-size
//! cap, the depth limit, `atLeastPosition` after a write, and SQL injection attempts.
//! Also with the read models in a database of their own (a second SQLite file, a second
//! PostgreSQL database), which the API then serves from.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use factum::graphql::ReadModelApi;
use factum::projection::{
    Envelope, HandlerError, ProjectionDb, ProjectionRunner, ProjectionStore, ProjectionTx,
    Projections, RunnerOptions, RunningProjections, WithReadModels,
};
use factum::{Event, EventStore, ExpectedVersion, Position, ReadModel, StreamId};
use factum_tests::backends::{self, ReadModelsApart};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::AssertSqlSafe;

const ITEMS: usize = 300;
const NAMES: [&str; 9] = [
    "Apple",
    "apricot",
    "Banana",
    "blueberry",
    "Cherry",
    "cranberry",
    "Date",
    "50%_off",
    "O'Brien",
];

/// An item was put on sale.
#[derive(Event, Serialize, Deserialize, schemars::JsonSchema, Clone, Debug)]
#[event(name = "gql.ItemListed")]
struct ItemListed {
    id: String,
    name: String,
    score: Option<i64>,
    price: f64,
    active: bool,
    tag: Option<String>,
    #[schemars(with = "String")]
    at: DateTime<Utc>,
}

/// An item on sale.
#[derive(ReadModel, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[read_model(table = "items")]
struct Item {
    /// Its id.
    #[key]
    id: String,
    name: String,
    score: Option<i64>,
    price: f64,
    active: bool,
    tag: Option<String>,
    at: DateTime<Utc>,
}

struct Items;

#[factum::projection(name = "items", version = 1, read_models(Item))]
impl Items {
    #[on]
    async fn listed(
        &self,
        tx: &mut ProjectionTx,
        e: &Envelope<'_, ItemListed>,
    ) -> Result<(), HandlerError> {
        tx.put(&Item {
            id: e.id.clone(),
            name: e.name.clone(),
            score: e.score,
            price: e.price,
            active: e.active,
            tag: e.tag.clone(),
            at: e.at,
        })
        .await?;
        Ok(())
    }
}

fn item(i: usize) -> Item {
    Item {
        id: format!("item-{i:03}"),
        name: format!("{} {i}", NAMES[i % NAMES.len()]),
        score: (!i.is_multiple_of(7)).then(|| (i * 37 % 101) as i64 - 50),
        // Thirds do not print and parse back exactly: cursors must carry them exactly.
        price: (i % 13) as f64 * 1.5 + (i % 7) as f64 / 3.0,
        active: !i.is_multiple_of(3),
        tag: (!i.is_multiple_of(5)).then(|| ["red", "Green", "blue"][i % 3].to_owned()),
        at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
            + chrono::Duration::minutes(i as i64),
    }
}

async fn list_item<S: EventStore>(store: &S, it: &Item) -> Position {
    let event = ItemListed {
        id: it.id.clone(),
        name: it.name.clone(),
        score: it.score,
        price: it.price,
        active: it.active,
        tag: it.tag.clone(),
        at: it.at,
    };
    let stream = StreamId::new(format!("item-{}", it.id)).unwrap();
    store
        .append(
            &stream,
            ExpectedVersion::Any,
            vec![event.to_event_data().unwrap()],
        )
        .await
        .unwrap()
        .last_position()
}

struct Server {
    url: String,
    client: reqwest::Client,
    /// The same API's schema, run without the router.
    schema: async_graphql::dynamic::Schema,
    _runner: RunningProjections,
}

impl Server {
    async fn query(&self, query: &str, variables: Value) -> Value {
        let text = self
            .text(json!({ "query": query, "variables": variables }))
            .await;
        serde_json::from_str(&text).expect("a JSON response")
    }

    /// The response to a request, as the server wrote it.
    async fn text(&self, request: Value) -> String {
        self.client
            .post(&self.url)
            .json(&request)
            .send()
            .await
            .expect("the server answers")
            .text()
            .await
            .expect("a response body")
    }

    /// Every id a filter and ordering select, read page by page forward.
    async fn ids(&self, filter: Value, order_by: Value, page: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut after = Value::Null;
        loop {
            let r = self
                .query(
                    "query($f: ItemFilter, $o: [ItemOrder!], $n: Int, $a: String) {
                       items(filter: $f, orderBy: $o, first: $n, after: $a) {
                         nodes { id } pageInfo { hasNextPage endCursor } totalCount } }",
                    json!({ "f": filter, "o": order_by, "n": page, "a": after }),
                )
                .await;
            assert!(r.get("errors").is_none(), "{r}");
            let items = &r["data"]["items"];
            out.extend(
                items["nodes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|n| n["id"].as_str().unwrap().to_owned()),
            );
            if !items["pageInfo"]["hasNextPage"].as_bool().unwrap() {
                assert_eq!(
                    items["totalCount"].as_u64().unwrap() as usize,
                    out.len(),
                    "totalCount"
                );
                return out;
            }
            after = items["pageInfo"]["endCursor"].clone();
        }
    }
}

async fn serve<S: ProjectionStore>(store: &S) -> Server {
    let mut last = Position::START;
    for i in 0..ITEMS {
        last = list_item(store, &item(i)).await;
    }
    let runner = ProjectionRunner::new(store.clone())
        .options(
            RunnerOptions::default()
                .batch_size(100)
                .poll_interval(Duration::from_millis(20)),
        )
        .with_projection(Items)
        .start();
    Projections::new(store.clone())
        .wait_for("items", last, Duration::from_secs(30))
        .await
        .expect("the projection catches up");
    let api = ReadModelApi::new(store.clone())
        .expose::<Item>("items")
        .max_page_size(50)
        .max_depth(6)
        .max_complexity(60);
    let router = api.router().expect("the schema builds");
    let schema = api.schema().expect("the schema builds");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/graphql", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    Server {
        url,
        client: reqwest::Client::new(),
        schema,
        _runner: runner,
    }
}

fn expected(keep: impl Fn(&Item) -> bool) -> Vec<String> {
    (0..ITEMS)
        .map(item)
        .filter(|it| keep(it))
        .map(|it| it.id)
        .collect()
}

async fn lookup_and_cap_and_depth(server: &Server) {
    let r = server
        .query(
            r#"{ item(id: "item-007") { id name score price active tag at } }"#,
            json!({}),
        )
        .await;
    let it = item(7);
    // A NULL column is a null field, not an error.
    assert!(r.get("errors").is_none(), "{r}");
    assert_eq!(r["data"]["item"]["name"], it.name);
    assert_eq!(r["data"]["item"].get("score"), Some(&Value::Null), "{r}");
    assert_eq!(r["data"]["item"]["price"], json!(it.price));
    assert_eq!(r["data"]["item"]["at"], "2026-01-01T00:07:00.000000Z");
    let r = server
        .query(r#"{ item(id: "nope") { id } }"#, json!({}))
        .await;
    assert_eq!(r["data"]["item"], Value::Null);

    let r = server
        .query("{ items(first: 51) { nodes { id } } }", json!({}))
        .await;
    let message = r["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("page size 51") && message.contains("0 to 50"),
        "{r}"
    );
    let r = server
        .query("{ items(first: 2, last: 2) { nodes { id } } }", json!({}))
        .await;
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("not both"),
        "{r}"
    );

    let deep = "{ __schema { types { fields { type { ofType { ofType { name } } } } } } }";
    let r = server.query(deep, json!({})).await;
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("deep"),
        "{r}"
    );
    let wide: String = (0..70)
        .map(|i| format!("a{i}: item(id: \"item-001\") {{ id }} "))
        .collect();
    let r = server.query(&format!("{{ {wide} }}"), json!({})).await;
    let message = r["errors"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    assert!(message.contains("complex"), "{r}");
    let r = server
        .query(
            "{ items(after: \"bm90LWEtY3Vyc29y\") { nodes { id } } }",
            json!({}),
        )
        .await;
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("cursor"),
        "{r}"
    );
}

async fn every_filter_operator(server: &Server) {
    let none = Value::Null;
    let t = |m: i64| {
        (Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::minutes(m))
            .to_rfc3339()
    };
    let cases: Vec<(Value, Vec<String>)> = vec![
        (
            json!({ "id": { "eq": "item-042" } }),
            expected(|i| i.id == "item-042"),
        ),
        (
            json!({ "tag": { "ne": "red" } }),
            expected(|i| i.tag.as_deref() != Some("red")),
        ),
        (
            json!({ "score": { "lt": -40 } }),
            expected(|i| i.score.is_some_and(|s| s < -40)),
        ),
        (
            json!({ "score": { "lte": -40 } }),
            expected(|i| i.score.is_some_and(|s| s <= -40)),
        ),
        (
            json!({ "price": { "gt": 15.0 } }),
            expected(|i| i.price > 15.0),
        ),
        (
            json!({ "price": { "gte": 15.0 } }),
            expected(|i| i.price >= 15.0),
        ),
        (
            json!({ "at": { "gte": t(290) } }),
            expected(|i| i.at >= Utc.with_ymd_and_hms(2026, 1, 1, 4, 50, 0).unwrap()),
        ),
        (
            json!({ "id": { "in": ["item-001", "item-002", "item-999"] } }),
            expected(|i| ["item-001", "item-002"].contains(&i.id.as_str())),
        ),
        (
            json!({ "tag": { "notIn": ["red", "blue"] } }),
            expected(|i| !matches!(i.tag.as_deref(), Some("red" | "blue"))),
        ),
        (
            json!({ "score": { "isNull": true } }),
            expected(|i| i.score.is_none()),
        ),
        (
            json!({ "tag": { "isNull": false } }),
            expected(|i| i.tag.is_some()),
        ),
        (
            json!({ "score": { "eq": none } }),
            expected(|i| i.score.is_none()),
        ),
        (
            json!({ "active": { "eq": false } }),
            expected(|i| !i.active),
        ),
        (
            json!({ "name": { "contains": "berry" } }),
            expected(|i| i.name.contains("berry")),
        ),
        (
            json!({ "name": { "startsWith": "Ap" } }),
            expected(|i| i.name.starts_with("Ap")),
        ),
        (
            json!({ "name": { "eqInsensitive": "APPLE 0" } }),
            expected(|i| i.name == "Apple 0"),
        ),
        (
            json!({ "name": { "containsInsensitive": "BERRY" } }),
            expected(|i| i.name.to_lowercase().contains("berry")),
        ),
        (
            json!({ "name": { "startsWithInsensitive": "ap" } }),
            expected(|i| i.name.to_lowercase().starts_with("ap")),
        ),
        (
            json!({ "name": { "containsInsensitive": "%_" } }),
            expected(|i| i.name.contains("%_")),
        ),
        (
            json!({ "and": [{ "active": { "eq": true } }, { "price": { "lt": 3.0 } }] }),
            expected(|i| i.active && i.price < 3.0),
        ),
        (
            json!({ "or": [{ "tag": { "eq": "blue" } }, { "score": { "gt": 45 } }] }),
            expected(|i| i.tag.as_deref() == Some("blue") || i.score.is_some_and(|s| s > 45)),
        ),
        (
            json!({ "not": { "tag": { "eq": "red" } } }),
            expected(|i| i.tag.as_deref() != Some("red")),
        ),
        (
            json!({ "not": { "or": [{ "active": { "eq": true } }, { "tag": { "isNull": true } }] } }),
            expected(|i| !(i.active || i.tag.is_none())),
        ),
    ];
    for (filter, want) in cases {
        assert!(
            !want.is_empty() || filter.to_string().contains("999"),
            "a case that selects nothing proves little: {filter}"
        );
        let got = server.ids(filter.clone(), Value::Null, 50).await;
        assert_eq!(got, want, "filter {filter}");
    }
}

async fn ordering_and_pagination(server: &Server) {
    // Score descending with NULLs last, then name ascending; the key breaks ties.
    let order =
        json!([{ "field": "SCORE", "direction": "DESC", "nulls": "LAST" }, { "field": "NAME" }]);
    let mut want: Vec<Item> = (0..ITEMS).map(item).collect();
    want.sort_by(|a, b| {
        let score = match (a.score, b.score) {
            (Some(x), Some(y)) => y.cmp(&x),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        };
        score
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| a.id.cmp(&b.id))
    });
    let want: Vec<String> = want.into_iter().map(|i| i.id).collect();
    assert_eq!(
        server.ids(Value::Null, order.clone(), 7).await,
        want,
        "forward pages of 7"
    );

    // A float sort key with ties: pages of 6 by price, highest first.
    let mut by_price: Vec<Item> = (0..ITEMS).map(item).collect();
    by_price.sort_by(|a, b| {
        b.price
            .partial_cmp(&a.price)
            .unwrap()
            .then_with(|| a.id.cmp(&b.id))
    });
    let by_price: Vec<String> = by_price.into_iter().map(|i| i.id).collect();
    let order_price = json!([{ "field": "PRICE", "direction": "DESC" }]);
    assert_eq!(
        server.ids(Value::Null, order_price, 6).await,
        by_price,
        "pages by a float"
    );

    // Backward from the end with `last`/`before`, with NULLs first this time.
    let order_nulls_first = json!([{ "field": "SCORE", "direction": "ASC", "nulls": "FIRST" }]);
    let forward = server.ids(Value::Null, order_nulls_first.clone(), 50).await;
    let mut backward: Vec<String> = Vec::new();
    let mut before = Value::Null;
    loop {
        let r = server
            .query(
                "query($o: [ItemOrder!], $b: String) { items(orderBy: $o, last: 9, before: $b) {
                   edges { cursor node { id } } pageInfo { hasPreviousPage startCursor } } }",
                json!({ "o": order_nulls_first, "b": before }),
            )
            .await;
        assert!(r.get("errors").is_none(), "{r}");
        let page = &r["data"]["items"];
        let ids: Vec<String> = page["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
            .collect();
        backward.splice(0..0, ids);
        if !page["pageInfo"]["hasPreviousPage"].as_bool().unwrap() {
            break;
        }
        before = page["pageInfo"]["startCursor"].clone();
    }
    assert_eq!(
        backward, forward,
        "backward pages of 9 give the same rows in the same order"
    );
    assert_eq!(forward.len(), ITEMS);
    let nulls: Vec<&String> = forward
        .iter()
        .take_while(|id| item(id[5..].parse().unwrap()).score.is_none())
        .collect();
    assert_eq!(
        nulls.len(),
        (0..ITEMS).filter(|i| i % 7 == 0).count(),
        "NULLs first"
    );
}

async fn injection_finds_nothing_and_breaks_nothing(server: &Server) {
    for attempt in [
        "x' OR '1'='1",
        "'; DROP TABLE items_v1; --",
        "\" OR \"\"=\"",
        "item-001' --",
    ] {
        for op in [
            "eq",
            "contains",
            "startsWith",
            "containsInsensitive",
            "eqInsensitive",
        ] {
            let got = server
                .ids(json!({ "id": { op: attempt } }), Value::Null, 50)
                .await;
            assert_eq!(got, Vec::<String>::new(), "{op} {attempt:?}");
        }
    }
    let r = server.query("{ items { totalCount } }", json!({})).await;
    assert_eq!(
        r["data"]["items"]["totalCount"],
        json!(ITEMS),
        "the table is intact: {r}"
    );
    // The one name with a quote in it is found by its literal text.
    let obrien = server
        .ids(json!({ "name": { "eq": "O'Brien 8" } }), Value::Null, 50)
        .await;
    assert_eq!(obrien, ["item-008"]);
}

async fn read_your_writes<S: ProjectionStore>(server: &Server, store: &S) {
    let mut fresh = item(0);
    fresh.id = "item-new".into();
    let position = list_item(store, &fresh).await;
    let r = server
        .query(
            "query($p: Long) { item(id: \"item-new\", atLeastPosition: $p) { id } }",
            json!({ "p": position.0 }),
        )
        .await;
    assert_eq!(r["data"]["item"]["id"], "item-new", "{r}");
    // A position nobody will write times out with a typed message instead of hanging.
    let r = server
        .query(
            "query($p: Long) { items(atLeastPosition: $p) { totalCount } }",
            json!({ "p": position.0 + 1_000_000_000 }),
        )
        .await;
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("items"),
        "{r}"
    );
}

/// The router answers a query text it has validated before from a compiled plan; every
/// answer must be the general executor's, byte for byte, errors included.
async fn plans_answer_as_the_general_executor(server: &Server) {
    let body = |query: &str, operation: Option<&str>| {
        server.text(json!({ "query": query, "operationName": operation }))
    };
    let page: Value = serde_json::from_str(
        &body(
            "{ items(first: 3, orderBy: [{ field: PRICE }]) { pageInfo { endCursor } } }",
            None,
        )
        .await,
    )
    .unwrap();
    let cursor = page["data"]["items"]["pageInfo"]["endCursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let fields = "id name score price active tag at __typename";
    let queries = [
        format!(r#"{{ item(id: "item-007") {{ {fields} }} }}"#),
        r#"{ __typename a: item(id: "item-001") { id } b: item(id: "nope") { x: name } }"#.into(),
        format!(
            "{{ items(first: 4, filter: {{ or: [{{ price: {{ gte: 9.5 }} }}, {{ tag: {{ isNull: true }} }}] }}, \
             orderBy: [{{ field: SCORE, direction: DESC, nulls: LAST }}]) {{ nodes {{ {fields} }} \
             edges {{ cursor node {{ id }} __typename }} pageInfo {{ hasNextPage hasPreviousPage \
             startCursor endCursor __typename }} totalCount __typename }} }}"
        ),
        format!(
            r#"{{ items(first: 5, after: "{cursor}", orderBy: [{{ field: PRICE }}]) {{ nodes {{ id price }} pageInfo {{ hasPreviousPage endCursor }} }} }}"#
        ),
        format!(
            r#"{{ items(last: 2, before: "{cursor}", orderBy: [{{ field: PRICE }}]) {{ n: nodes {{ id }} p: pageInfo {{ hasNextPage hasPreviousPage }} }} }}"#
        ),
        "query Named { items(last: 3) { nodes { id } totalCount } }".into(),
        "{ items(atLeastPosition: 1) { totalCount } }".into(),
        // Errors: a page too large, both directions, a bad cursor, a negative position,
        // and one failing root field beside one that succeeds.
        "{ items(first: 51) { nodes { id } } }".into(),
        "{ items(first: 2, last: 2) { nodes { id } } }".into(),
        r#"{ items(after: "bm90LWEtY3Vyc29y") { totalCount } }"#.into(),
        r#"{ item(id: "item-001", atLeastPosition: -1) { id } }"#.into(),
        r#"{ ok: item(id: "item-002") { id } bad: items(first: 99) { totalCount } }"#.into(),
    ];
    // The general executor runs root fields concurrently and lists them as they finish;
    // a plan lists them in the query's order. Anything else must match byte for byte.
    let same = |a: &str, b: &str, query: &str| {
        if a != b {
            let parse = |s: &str| serde_json::from_str::<Value>(s).unwrap();
            assert_eq!(parse(a), parse(b), "{query}");
            assert!(query.matches(") {").count() > 1, "{query}:\n{a}\n{b}");
        }
    };
    for query in &queries {
        let first = body(query, None).await;
        let again = body(query, None).await;
        let general = serde_json::to_string(&server.schema.execute(query.as_str()).await).unwrap();
        same(&again, &general, query);
        same(&first, &general, query);
    }
    let ordered = body(&queries[1], None).await;
    assert!(
        ordered.starts_with(r#"{"data":{"__typename":"Query","a":{"id":"item-001"},"b":null}"#),
        "{ordered}"
    );
    // With variables: every request is validated with them, then answered from the plan.
    let with_variables = |query: &str, variables: Value| {
        server.text(json!({ "query": query, "variables": variables }))
    };
    let lookup = "query($id: String!) { item(id: $id) { id name score } }";
    let list = "query($f: ItemFilter, $o: [ItemOrder!], $n: Int = 4, $a: String) { \
                items(filter: $f, orderBy: $o, first: $n, after: $a) { \
                nodes { id price tag } pageInfo { endCursor hasNextPage } totalCount } }";
    let cases = [
        (lookup, json!({ "id": "item-007" })),
        (lookup, json!({ "id": "nope" })),
        (lookup, json!({ "id": null })),
        (lookup, json!({})),
        (lookup, json!({ "id": 7 })),
        (list, json!({})),
        (
            list,
            json!({ "n": 6, "f": { "tag": { "in": ["red", "blue"] } } }),
        ),
        (
            list,
            json!({ "f": { "price": { "gt": 4.5 } }, "o": [{ "field": "PRICE", "direction": "DESC" }] }),
        ),
        (list, json!({ "o": [{ "field": "PRICE" }], "a": cursor })),
        (list, json!({ "n": "many" })),
        (list, json!({ "n": 51 })),
        (list, json!({ "f": { "price": { "gt": "cheap" } } })),
        (list, json!({ "o": [{ "field": "NOPE" }] })),
        (list, json!({ "a": "bm90LWEtY3Vyc29y" })),
    ];
    // The first request of each text runs on the general executor and compiles its plan.
    with_variables(lookup, json!({ "id": "item-001" })).await;
    with_variables(list, json!({})).await;
    for (query, variables) in cases {
        let planned = with_variables(query, variables.clone()).await;
        let request = async_graphql::Request::new(query)
            .variables(async_graphql::Variables::from_json(variables.clone()));
        let general = serde_json::to_string(&server.schema.execute(request).await).unwrap();
        same(&planned, &general, &format!("{query} {variables}"));
    }

    let two =
        "query A { item(id: \"item-003\") { id } } query B { items(first: 1) { nodes { id } } }";
    for operation in ["A", "B"] {
        let again = {
            body(two, Some(operation)).await;
            body(two, Some(operation)).await
        };
        let request = async_graphql::Request::new(two).operation_name(operation);
        let general = serde_json::to_string(&server.schema.execute(request).await).unwrap();
        same(&again, &general, operation);
    }
}

/// A stored value no field may return (on SQLite, a time out of range: its `at` reads as
/// NULL in a non-null field) is reported as the general executor reports it, also by a
/// query that was answered from its plan before.
async fn unanswerable_rows_are_reported(server: &Server, writer: &sqlx::SqlitePool) {
    let query = r#"{ item(id: "item-bad") { id at } }"#;
    let body = || server.text(json!({ "query": query }));
    // Known, validated and planned while the row does not exist yet.
    assert_eq!(body().await, r#"{"data":{"item":null}}"#);
    assert_eq!(body().await, r#"{"data":{"item":null}}"#);
    sqlx::query(
        "UPDATE items_v1 SET id = 'item-bad', at = 9223372036854775807 WHERE id = 'item-299'",
    )
    .execute(writer)
    .await
    .unwrap();
    let general = serde_json::to_string(&server.schema.execute(query).await).unwrap();
    assert!(general.contains("non-null"), "{general}");
    assert_eq!(body().await, general, "the plan hands the request over");
}

/// Runs every check against an API over `store`'s read models; returns the server.
async fn suite<S: ProjectionStore>(store: &S) -> Server {
    let server = serve(store).await;
    plans_answer_as_the_general_executor(&server).await;
    lookup_and_cap_and_depth(&server).await;
    every_filter_operator(&server).await;
    ordering_and_pagination(&server).await;
    injection_finds_nothing_and_breaks_nothing(&server).await;
    read_your_writes(&server, store).await;
    if let backends::Pools::Sqlite { writer, .. } = backends::pools(&store.projection_db()) {
        unanswerable_rows_are_reported(&server, &writer).await;
    }
    server
}

/// How many rows the `items` table holds in `db`, or `None` if `db` has no such table.
async fn items_rows(db: &ProjectionDb) -> Option<i64> {
    match backends::pools(db) {
        backends::Pools::Sqlite { reader, .. } => {
            let exists: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'items_v1')",
            )
            .fetch_one(&reader)
            .await
            .unwrap();
            if !exists {
                return None;
            }
            let count = sqlx::query_scalar("SELECT COUNT(*) FROM items_v1")
                .fetch_one(&reader)
                .await
                .unwrap();
            Some(count)
        }
        backends::Pools::Postgres { pool, schema } => {
            let table = format!("{schema}.items_v1");
            let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
                .bind(&table)
                .fetch_one(&pool)
                .await
                .unwrap();
            if !exists {
                return None;
            }
            let sql = format!("SELECT COUNT(*) FROM {table}");
            let count = sqlx::query_scalar(AssertSqlSafe(sql))
                .fetch_one(&pool)
                .await
                .unwrap();
            Some(count)
        }
    }
}

/// Renames `item-001` in `db`'s `items` table, behind the projection's back.
async fn rename_first_item(db: &ProjectionDb, name: &str) {
    let done = match backends::pools(db) {
        backends::Pools::Sqlite { writer, .. } => {
            sqlx::query("UPDATE items_v1 SET name = $1 WHERE id = 'item-001'")
                .bind(name)
                .execute(&writer)
                .await
                .map(|r| r.rows_affected())
        }
        backends::Pools::Postgres { pool, schema } => {
            let sql = format!("UPDATE {schema}.items_v1 SET name = $1 WHERE id = 'item-001'");
            sqlx::query(AssertSqlSafe(sql))
                .bind(name)
                .execute(&pool)
                .await
                .map(|r| r.rows_affected())
        }
    };
    assert_eq!(done.unwrap(), 1);
}

/// With the events in `events` and the read models in `views`, a database of their own,
/// the whole suite passes through the API, and the API serves from `views`: the store's
/// own database has no `items` table, `views` holds every row, and a row renamed in
/// `views` behind the projection's back is what the API answers.
async fn suite_with_read_models_apart<E: ProjectionStore>(events: &E, views: &ProjectionDb) {
    let store = WithReadModels::new(events.clone(), views.clone());
    let server = suite(&store).await;
    assert_eq!(
        items_rows(&events.projection_db()).await,
        None,
        "the store's own database has no read-model table"
    );
    // Every item, and the one `read_your_writes` listed.
    assert_eq!(items_rows(views).await, Some(ITEMS as i64 + 1));
    let marker = "renamed in the second database";
    rename_first_item(views, marker).await;
    let r = server
        .query(r#"{ item(id: "item-001") { id name } }"#, json!({}))
        .await;
    assert_eq!(r["data"]["item"]["name"], marker, "{r}");
    let found = server
        .ids(json!({ "name": { "eq": marker } }), Value::Null, 10)
        .await;
    assert_eq!(found, ["item-001"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_over_sqlite() {
    let store = backends::sqlite_file("graphql", factum_tests::conformance::limits())
        .await
        .unwrap();
    suite(store.store()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_over_postgres() {
    let Some(store) = backends::postgres("graphql", factum_tests::conformance::limits()).await
    else {
        return;
    };
    suite(store.store()).await;
    store.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_from_read_models_in_a_second_sqlite_file() {
    let events = backends::sqlite_file("graphql", factum_tests::conformance::limits())
        .await
        .unwrap();
    let views = ReadModelsApart::sqlite().await;
    suite_with_read_models_apart(events.store(), &views.db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_from_read_models_in_a_second_postgres_database() {
    let Some(events) = backends::postgres("graphql", factum_tests::conformance::limits()).await
    else {
        return;
    };
    let views = ReadModelsApart::postgres("graphql").await.unwrap();
    suite_with_read_models_apart(events.store(), &views.db).await;
    views.cleanup().await;
    events.cleanup().await;
}
