//! Property: whatever mix of old schema versions a stream holds, loading it gives exactly
//! the events the current version's constructor gives, and the state they fold into.

use factum::{
    EventData, EventSet, EventStore, ExpectedVersion, MemoryStore, ReadStream, Repository,
};
use factum_tests::domain::{Account, AccountEvent, Deposited, Opened};
use futures_util::TryStreamExt;
use proptest::prelude::*;
use serde_json::json;

/// One deposit as some version of the code stored it, and what it means today.
#[derive(Debug, Clone)]
struct Stored {
    version: u32,
    payload: serde_json::Value,
    current: Deposited,
}

fn stored_deposit() -> impl Strategy<Value = Stored> {
    prop_oneof![
        (-1_000_000i64..1_000_000).prop_map(|dollars| Stored {
            version: 1,
            payload: json!({ "amount": dollars }),
            current: Deposited {
                cents: dollars * 100,
                memo: None
            },
        }),
        (any::<i32>(), any::<bool>()).prop_map(|(cents, extra)| {
            let mut payload = json!({ "cents": cents });
            if extra {
                // A field a later version dropped: ignored on read.
                payload["legacy"] = json!("x");
            }
            Stored {
                version: 2,
                payload,
                current: Deposited {
                    cents: i64::from(cents),
                    memo: None,
                },
            }
        }),
        (any::<i32>(), proptest::option::of("[a-zA-Z0-9 ]{0,12}")).prop_map(|(cents, memo)| {
            let mut payload = json!({ "cents": cents });
            if let Some(memo) = &memo {
                payload["memo"] = json!(memo);
            }
            Stored {
                version: 3,
                payload,
                current: Deposited {
                    cents: i64::from(cents),
                    memo,
                },
            }
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn any_mix_of_versions_loads_as_the_current_version(history in prop::collection::vec(stored_deposit(), 0..40)) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async {
            let store = MemoryStore::new();
            let repo = Repository::<Account, _>::new(store.clone());
            let stream = repo.stream_id("p").unwrap();
            let mut data = vec![EventData::new("test.AccountOpened", json!({ "owner": "p" }))];
            data.extend(history.iter().map(|s| {
                EventData::new("test.Deposited", s.payload.clone()).with_schema_version(s.version)
            }));
            store.append(&stream, ExpectedVersion::NoStream, data).await.unwrap();

            let recorded: Vec<_> = store.read_stream(&stream, ReadStream::forward()).try_collect().await.unwrap();
            let decoded: Vec<AccountEvent> = recorded
                .iter()
                .map(|e| AccountEvent::from_recorded(e).unwrap().unwrap())
                .collect();
            let mut expected = vec![AccountEvent::from(Opened { owner: "p".into() })];
            expected.extend(history.iter().map(|s| AccountEvent::from(s.current.clone())));
            prop_assert_eq!(&decoded, &expected);

            let loaded = repo.load("p").await.unwrap();
            let total: i64 = history.iter().map(|s| s.current.cents).sum();
            prop_assert_eq!(loaded.state.balance, total);
            prop_assert_eq!(loaded.version, history.len() as u64 + 1);
            Ok(())
        })?;
    }

    #[test]
    fn upcasting_is_the_same_step_by_step_or_at_once(dollars in -1_000_000i64..1_000_000) {
        use factum::Event;
        let v1 = json!({ "amount": dollars });
        let at_once = Deposited::upcast(1, v1.clone()).unwrap();
        let v2 = json!({ "cents": dollars * 100 });
        prop_assert_eq!(&at_once, &Deposited::upcast(2, v2).unwrap());
        prop_assert_eq!(Deposited::upcast(3, at_once.clone()).unwrap(), at_once);
    }
}
