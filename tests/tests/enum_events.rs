//! Enum events, end to end: stored by an aggregate on each SQL backend, upcast from a
//! struct version, read through their catch-all, and gated in the catalog like structs.

use factum::{
    Event, EventData, EventSet, EventStore, ExpectedVersion, Metadata, ReadStream, Repository,
};
use factum_catalog::{Catalog, check};
use factum_codegen::Codegen;
use futures_util::TryStreamExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// How version 1 was stored: the lamp was on or off.
#[derive(Serialize, Deserialize, JsonSchema)]
struct SwitchedV1 {
    on: bool,
}

fn from_v1(old: SwitchedV1) -> Switched {
    if old.on { Switched::On } else { Switched::Off }
}

/// The lamp changed: on, off or dimmed (version 2; version 1 knew only on and off).
#[factum::payload]
#[derive(Event, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[event(name = "lamp.Switched", version = 2, upcast(from = 1, with = from_v1))]
#[serde(tag = "to", rename_all = "snake_case")]
enum Switched {
    On,
    Off,
    Dimmed {
        #[serde(alias = "level")]
        percent: u8,
    },
    /// A kind of change a later version of the code writes.
    #[serde(other)]
    Unknown,
}

#[derive(EventSet, Clone, Debug, PartialEq)]
enum LampEvent {
    Switched(Switched),
}

#[derive(Default, Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Lamp {
    brightness: u8,
    changes: u32,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("a lamp dims between 1 and 99 percent")]
struct OutOfRange;

#[derive(Clone)]
struct Dim {
    percent: u8,
}

#[factum::aggregate(category = "lamp", events = LampEvent, error = OutOfRange)]
impl Lamp {
    #[apply]
    fn switched(&mut self, e: &Switched) {
        self.changes += 1;
        match e {
            Switched::On => self.brightness = 100,
            Switched::Off => self.brightness = 0,
            Switched::Dimmed { percent } => self.brightness = *percent,
            Switched::Unknown => {}
        }
    }

    #[handle]
    fn dim(&self, cmd: Dim) -> Result<Vec<LampEvent>, OutOfRange> {
        if !(1..=99).contains(&cmd.percent) {
            return Err(OutOfRange);
        }
        Ok(vec![
            Switched::Dimmed {
                percent: cmd.percent,
            }
            .into(),
        ])
    }
}

async fn stored_and_upcast<S: EventStore + Clone + 'static>(store: &S) {
    let repo = Repository::<Lamp, S>::new(store.clone());
    let stream = repo.stream_id("hall").unwrap();
    // Two events of version 1 (a struct), then one a later code wrote (an unknown kind).
    let v1 = |on: bool| EventData::new("lamp.Switched", json!({ "on": on })).with_schema_version(1);
    let later =
        EventData::new("lamp.Switched", json!({ "to": "strobe", "hz": 4 })).with_schema_version(2);
    store
        .append(
            &stream,
            ExpectedVersion::NoStream,
            vec![v1(true), v1(false), later],
        )
        .await
        .unwrap();

    repo.execute("hall", Dim { percent: 40 }, Metadata::new())
        .await
        .unwrap();
    assert!(
        repo.execute("hall", Dim { percent: 0 }, Metadata::new())
            .await
            .is_err()
    );
    let lamp = repo.load("hall").await.unwrap();
    assert_eq!(
        lamp.state,
        Lamp {
            brightness: 40,
            changes: 4
        }
    );

    let events: Vec<_> = store
        .read_stream(&stream, ReadStream::forward())
        .try_collect()
        .await
        .unwrap();
    let read: Vec<Switched> = events
        .iter()
        .map(|e| Switched::from_recorded(e).unwrap())
        .collect();
    assert_eq!(
        read,
        [
            Switched::On,
            Switched::Off,
            Switched::Unknown,
            Switched::Dimmed { percent: 40 }
        ]
    );
    // What the aggregate wrote is stored as serde writes the enum, at the current version.
    let last = events.last().unwrap();
    assert_eq!(last.schema_version, 2);
    assert_eq!(
        last.payload.to_value(),
        json!({ "to": "dimmed", "percent": 40 })
    );
    // The alias is read too.
    let aliased = EventData::new("lamp.Switched", json!({ "to": "dimmed", "level": 7 }))
        .with_schema_version(2);
    store
        .append(&stream, ExpectedVersion::Any, vec![aliased])
        .await
        .unwrap();
    let lamp = repo.load("hall").await.unwrap();
    assert_eq!(lamp.state.brightness, 7);
}

factum_tests::sql_backend_tests!(stored_and_upcast);

/// Paid in one unit or another: serde tries the alternatives in order.
#[derive(Event, Serialize, Deserialize, JsonSchema)]
#[event(name = "shop.Paid")]
#[serde(untagged)]
enum Paid {
    Cents {
        cents: u64,
    },
    Whole {
        amount: u64,
        currency: Option<String>,
    },
}

/// The same event with a new alternative put first: `{ "amount": 5 }` stored as `Whole`
/// now reads as `Any`, another variant, without an error.
#[derive(Event, Serialize, Deserialize, JsonSchema)]
#[event(name = "shop.PaidAnyFirst")]
#[serde(untagged)]
enum PaidAnyFirst {
    Any {
        amount: u64,
    },
    Cents {
        cents: u64,
    },
    Whole {
        amount: u64,
        currency: Option<String>,
    },
}

/// The same event with the new alternative put last: old payloads read as before.
#[derive(Event, Serialize, Deserialize, JsonSchema)]
#[event(name = "shop.PaidAnyLast")]
#[serde(untagged)]
enum PaidAnyLast {
    Cents {
        cents: u64,
    },
    Whole {
        amount: u64,
        currency: Option<String>,
    },
    Any {
        amount: u64,
    },
}

/// The catalog of `E`'s descriptor, stored under `shop.Paid` as if it were the next
/// version of the code, and read back from its AsyncAPI document.
fn catalog_of<E: Event>() -> Catalog {
    let dir = tempfile::tempdir().unwrap();
    let mut descriptor = E::descriptor();
    descriptor.name = "shop.Paid";
    let codegen = Codegen::new("shop", "0.1.0", dir.path())
        .with_events(vec![descriptor, Switched::descriptor()])
        .with_aggregates(Vec::new())
        .with_projections(Vec::new())
        .with_process_managers(Vec::new());
    codegen.write().unwrap();
    factum_catalog::read(dir.path().join("asyncapi.yaml")).unwrap()
}

#[test]
fn the_gate_reads_enum_events_as_serde_does() {
    let old = catalog_of::<Paid>();
    let lamp = &old.events["lamp.Switched"];
    assert_eq!(lamp.version, 2);
    assert!(
        lamp.schemas.contains_key(&1),
        "the struct version is in the catalog"
    );
    assert_eq!(check(&old, &catalog_of::<Paid>()), []);
    assert_eq!(check(&old, &catalog_of::<PaidAnyLast>()), []);
    let breaking = check(&old, &catalog_of::<PaidAnyFirst>());
    assert_eq!(breaking.len(), 1, "{breaking:#?}");
    assert!(
        breaking[0].to_string().contains("shop.Paid"),
        "{}",
        breaking[0]
    );
    // serde agrees: an old `Whole` payload now reads as `Any`.
    let stored = serde_json::to_value(Paid::Whole {
        amount: 5,
        currency: None,
    })
    .unwrap();
    assert!(matches!(
        serde_json::from_value::<PaidAnyFirst>(stored).unwrap(),
        PaidAnyFirst::Any { .. }
    ));
}
