//! GraphQL subscriptions over a real WebSocket (graphql-ws), on SQLite and PostgreSQL: a
//! client subscribed with a filter receives exactly the committed changes that match, in
//! commit order, while writers append and a projection applies them in batches.

use std::collections::BTreeMap;
use std::time::Duration;

use factum::graphql::ReadModelApi;
use factum::projection::{
    Envelope, HandlerError, ProjectionRunner, ProjectionStore, ProjectionTx, RunnerOptions,
};
use factum::{EventData, ExpectedVersion, ReadModel, StreamId};
use factum_tests::backends;
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const WAIT: Duration = Duration::from_secs(30);

/// A ticket was opened, re-prioritised or closed.
#[derive(factum::Event, Serialize, Deserialize, schemars::JsonSchema, Clone, Debug)]
struct TicketEvent {
    /// `open`, `priority` or `close`.
    kind: String,
    priority: i64,
}

/// A support ticket; its changes are recorded for subscribers.
#[derive(ReadModel, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[read_model(table = "tickets", changes)]
struct Ticket {
    #[key]
    id: String,
    status: String,
    priority: i64,
}

struct Tickets;

#[factum::projection(name = "tickets", read_models(Ticket))]
impl Tickets {
    #[on]
    async fn ticket_event(
        &self,
        tx: &mut ProjectionTx,
        e: &Envelope<'_, TicketEvent>,
    ) -> Result<(), HandlerError> {
        let id = e.stream_id().key().to_owned();
        match e.kind.as_str() {
            "open" => tx.upsert(Ticket {
                id,
                status: "open".into(),
                priority: e.priority,
            })?,
            "priority" => {
                let priority = e.priority;
                tx.update::<Ticket, _>(&id.clone(), move |row| {
                    row.map(|mut t| {
                        t.priority = priority;
                        t
                    })
                })?
            }
            _ => tx.delete::<Ticket, _>(&id)?,
        }
        Ok(())
    }
}

/// A graphql-ws client on `/graphql/ws`.
struct Client {
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

impl Client {
    async fn connect(addr: std::net::SocketAddr) -> Client {
        let mut request = format!("ws://{addr}/graphql/ws")
            .into_client_request()
            .unwrap();
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            "graphql-transport-ws".parse().unwrap(),
        );
        let (socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        let mut client = Client { socket };
        client.send(json!({ "type": "connection_init" })).await;
        assert_eq!(client.next().await["type"], "connection_ack");
        client
    }

    async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .unwrap();
    }

    /// The next message (pings answered on the way).
    async fn next(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("a message in time")
                .expect("the socket stays open")
                .unwrap();
            match message {
                Message::Text(text) => {
                    let value: Value = serde_json::from_str(&text).unwrap();
                    if value["type"] == "ping" {
                        self.send(json!({ "type": "pong" })).await;
                        continue;
                    }
                    return value;
                }
                Message::Ping(_) | Message::Pong(_) => {}
                other => panic!("unexpected message {other:?}"),
            }
        }
    }

    /// The next change of subscription `id`, as (op, id, status, priority).
    async fn change(&mut self, id: &str) -> (String, String, String, i64) {
        let message = self.next().await;
        assert_eq!(message["type"], "next", "{message}");
        assert_eq!(message["id"], id);
        assert!(message["payload"]["errors"].is_null(), "{message}");
        let change = &message["payload"]["data"]["ticketChanged"];
        let row = &change["row"];
        (
            change["op"].as_str().unwrap().to_owned(),
            row["id"].as_str().unwrap().to_owned(),
            row["status"].as_str().unwrap().to_owned(),
            row["priority"].as_i64().unwrap(),
        )
    }
}

async fn append<S: ProjectionStore>(store: &S, ticket: &str, kind: &str, priority: i64) {
    store
        .append(
            &StreamId::new(format!("ticket-{ticket}")).unwrap(),
            ExpectedVersion::Any,
            vec![EventData::new(
                "TicketEvent",
                json!({ "kind": kind, "priority": priority }),
            )],
        )
        .await
        .unwrap();
}

/// Every recorded change of the tickets table after `after`, as the client would see it
/// unfiltered: (seq, op, id, status, priority).
async fn recorded<S: ProjectionStore>(
    store: &S,
    after: i64,
) -> Vec<(i64, String, String, String, i64)> {
    let rows: Vec<(i64, String, String)> = match backends::pools(&store.projection_db()) {
        backends::Pools::Sqlite { reader, .. } => sqlx::query_as(
            "SELECT seq, op, row FROM factum_read_model_changes WHERE projection = 'tickets' \
             AND seq > ?1 ORDER BY seq",
        )
        .bind(after)
        .fetch_all(&reader)
        .await
        .unwrap(),
        backends::Pools::Postgres { pool, .. } => sqlx::query_as(
            "SELECT seq, op, row::text FROM read_model_changes WHERE projection = 'tickets' \
             AND seq > $1 ORDER BY seq",
        )
        .bind(after)
        .fetch_all(&pool)
        .await
        .unwrap(),
    };
    rows.into_iter()
        .map(|(seq, op, row)| {
            let row: Value = serde_json::from_str(&row).unwrap();
            (
                seq,
                op.to_uppercase(),
                row["id"].as_str().unwrap().to_owned(),
                row["status"].as_str().unwrap().to_owned(),
                row["priority"].as_i64().unwrap(),
            )
        })
        .collect()
}

async fn filtered_changes_arrive_in_commit_order<S: ProjectionStore + Send + Sync>(store: &S) {
    let running = ProjectionRunner::new(store.clone())
        .options(
            RunnerOptions::default()
                .batch_size(8)
                .max_batch_size(16)
                .poll_interval(Duration::from_millis(20)),
        )
        .with_projection(Tickets)
        .start();
    let router = ReadModelApi::new(store.clone())
        .expose::<Ticket>("tickets")
        .router()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });

    // The projection exists (and the API finds its live version) before anyone subscribes.
    append(store, "warmup", "open", 1).await;
    let head = store.head_position().await.unwrap();
    factum::projection::Projections::new(store.clone())
        .wait_for("tickets", head, WAIT)
        .await
        .unwrap();

    let mut client = Client::connect(addr).await;
    client
        .send(json!({
            "id": "1",
            "type": "subscribe",
            "payload": { "query": "subscription { ticketChanged(filter: { priority: { gte: 5 } }) \
                { op seq row { id status priority } } }" }
        }))
        .await;
    // The subscription starts after the changes committed so far: open marker tickets
    // until one arrives, so the workload below is all after its start.
    let mut marker = 0;
    let from_seq = loop {
        marker += 1;
        append(store, &format!("marker{marker}"), "open", 9).await;
        let arrived = tokio::time::timeout(Duration::from_millis(300), client.next()).await;
        if let Ok(message) = arrived {
            assert_eq!(message["type"], "next", "{message}");
            let change = &message["payload"]["data"]["ticketChanged"];
            break change["seq"].as_i64().unwrap();
        }
        assert!(marker < 50, "the subscription never delivered");
    };

    // Writers: 30 tickets opened with priorities 0..9, re-prioritised, some closed, by
    // three concurrent writers. Each phase is projected before the next starts: within a
    // batch the changes of a row are coalesced (a ticket opened and closed in one batch
    // leaves no change at all), so without the pauses how many changes there are would
    // depend on how the batches fell.
    for phase in ["open", "priority", "close"] {
        let writers: Vec<_> = (0..3)
            .map(|w| {
                let store = store.clone();
                tokio::spawn(async move {
                    for t in 0..10 {
                        let id = format!("w{w}t{t}");
                        match phase {
                            "open" => append(&store, &id, "open", (t * 7 + w) % 10).await,
                            "priority" => {
                                append(&store, &id, "priority", (t * 3 + w * 5) % 10).await
                            }
                            _ if t % 3 == 0 => append(&store, &id, "close", 0).await,
                            _ => {}
                        }
                    }
                })
            })
            .collect();
        for w in writers {
            w.await.unwrap();
        }
        let head = store.head_position().await.unwrap();
        factum::projection::Projections::new(store.clone())
            .wait_for("tickets", head, WAIT)
            .await
            .unwrap();
    }

    // What was committed, filtered as the subscription's filter says.
    let all = recorded(store, from_seq).await;
    let expected: Vec<(String, String, String, i64)> = all
        .iter()
        .filter(|c| c.4 >= 5)
        .map(|c| (c.1.clone(), c.2.clone(), c.3.clone(), c.4))
        .collect();
    assert!(
        expected.len() >= 10 && expected.len() < all.len(),
        "the filter keeps some changes and drops others: {} of {}",
        expected.len(),
        all.len()
    );
    assert!(
        expected.iter().any(|c| c.0 == "DELETE"),
        "deletions are delivered"
    );
    let mut received = Vec::new();
    while received.len() < expected.len() {
        received.push(client.change("1").await);
    }
    assert_eq!(
        received, expected,
        "exactly the matching committed changes, in commit order"
    );
    // And nothing more arrives.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), client.next())
            .await
            .is_err(),
        "no change beyond the committed ones"
    );
    // The feed agrees with the table: each open ticket's last recorded change is its row.
    let mut last: BTreeMap<String, (String, i64)> = BTreeMap::new();
    for c in &all {
        if c.1 == "DELETE" {
            last.remove(&c.2);
        } else {
            last.insert(c.2.clone(), (c.3.clone(), c.4));
        }
    }
    let projections = factum::projection::Projections::new(store.clone());
    for (id, (status, priority)) in &last {
        let row: Ticket = projections.get("tickets", id).await.unwrap().unwrap();
        assert_eq!((&row.status, row.priority), (status, *priority), "{id}");
    }
    client.send(json!({ "id": "1", "type": "complete" })).await;
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_subscriptions_deliver_committed_changes() {
    let store = backends::sqlite_file("subscriptions", Default::default())
        .await
        .unwrap();
    filtered_changes_arrive_in_commit_order(store.store()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_subscriptions_deliver_committed_changes() {
    let Some(store) = backends::postgres("subscriptions", Default::default()).await else {
        return;
    };
    filtered_changes_arrive_in_commit_order(store.store()).await;
    store.cleanup().await;
}
