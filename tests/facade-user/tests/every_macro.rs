//! What every macro generated under `crate = "acme::factum"` works: constants, descriptors,
//! the catalog registrations, an upcaster, and an aggregate folded and driven through a
//! repository on the in-memory store.

use acme::factum::projection::Projection;
use acme::factum::saga::ProcessManager;
use acme::factum::{
    Aggregate, Event, EventData, EventSet, EventStore, ExpectedVersion, MemoryStore, Metadata,
    ReadModel, Repository, StreamId,
};
use factum_tests_facade_user::{
    Account, AccountEvent, Balance, Balances, Deposit, Deposited, Greeter, Open, Opened, Refused,
};
use serde_json::json;

#[test]
fn constants_and_descriptors() {
    assert_eq!(<Opened as Event>::NAME, "facade.Opened");
    assert_eq!(<Deposited as Event>::VERSION, 2);
    assert_eq!(AccountEvent::NAMES, &["facade.Opened", "facade.Deposited"]);
    assert_eq!(Account::CATEGORY, "account");
    let balance = Balance::descriptor();
    assert_eq!(balance.table, "balances");
    assert_eq!(balance.key, "account");
    assert_eq!(balance.indexes.len(), 2);
    assert_eq!(<Balances as Projection>::NAME, "balances");
    assert_eq!(<Balances as Projection>::VERSION, 2);
    assert_eq!(<Balances as Projection>::EVENT_TYPES, ["facade.Deposited"]);
    assert_eq!(<Balances as Projection>::read_models()[0].table, "balances");
    assert_eq!(<Greeter as ProcessManager>::NAME, "greeter");
    assert_eq!(<Greeter as ProcessManager>::EVENT_TYPES, ["facade.Opened"]);
    assert_eq!(<Greeter as ProcessManager>::CATEGORIES, ["account"]);
}

#[test]
fn registrations_reach_the_catalog() {
    let events = acme::factum::events();
    let deposited = events
        .iter()
        .find(|e| e.name == "facade.Deposited")
        .expect("Deposited is registered");
    assert_eq!(deposited.version, 2);
    assert_eq!(deposited.upcasters, [1]);
    assert!(
        acme::factum::aggregates()
            .iter()
            .any(|a| a.category == "account")
    );
    assert!(
        acme::factum::read_models()
            .iter()
            .any(|m| m.table == "balances")
    );
    assert!(
        acme::factum::projections()
            .iter()
            .any(|p| p.name == "balances")
    );
}

#[test]
fn the_upcaster_lifts_version_1() {
    let lifted = <Deposited as Event>::upcast(1, json!({ "dollars": 3 })).unwrap();
    assert_eq!(
        serde_json::from_value::<Deposited>(lifted).unwrap(),
        Deposited { cents: 300 }
    );
    assert!(<Deposited as Event>::upcast(3, json!({})).is_err());
}

#[tokio::test]
async fn an_aggregate_folds_and_decides_on_the_memory_store() {
    let store = MemoryStore::new();
    // History as older code stored it: a version 1 deposit, in dollars.
    store
        .append(
            &StreamId::new("account-1").unwrap(),
            ExpectedVersion::NoStream,
            vec![
                EventData::new("facade.Opened", json!({ "owner": "ann" })),
                EventData::new("facade.Deposited", json!({ "dollars": 2 })).with_schema_version(1),
            ],
        )
        .await
        .unwrap();
    let accounts = Repository::<Account, _>::new(store);
    accounts
        .execute("1", Deposit(50), Metadata::new())
        .await
        .unwrap();
    let loaded = accounts.load("1").await.unwrap();
    assert_eq!(loaded.version, 3);
    assert_eq!(loaded.state.owner.as_deref(), Some("ann"));
    assert_eq!(loaded.state.cents, 250);

    accounts
        .execute("2", Open("bob".into()), Metadata::new())
        .await
        .unwrap();
    let refused = accounts.execute("2", Deposit(0), Metadata::new()).await;
    assert!(refused.is_err());
    assert_eq!(accounts.load("2").await.unwrap().state.cents, 0);

    let mut account = Account::default();
    account.apply(&AccountEvent::from(Opened { owner: "cy".into() }));
    assert_eq!(account.owner.as_deref(), Some("cy"));
    let _ = Refused("unused");
}
