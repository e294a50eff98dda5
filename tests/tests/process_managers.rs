//! Process managers (sagas) and the dedup helper, on SQLite and PostgreSQL: commands sent
//! in reaction carry the triggering event's correlation and causation, a failed step is
//! compensated, and a reaction repeated after a crash appends nothing twice.

use std::time::Duration;

use factum::Backend;
use factum::projection::dedup::Dedup;
use factum::projection::{Envelope, HandlerError, ProjectionStore, Projections, RunnerOptions};
use factum::saga::{ProcessManagerRunner, Reaction};
use factum::{
    EventStore, Metadata, ReadStream, Repository, RepositoryError, SnapshotStore, StreamId,
};
use factum_tests::domain::{Account, AccountError, Deposit, Deposited, Open, Withdraw};
use futures_util::TryStreamExt;

/// Forwards deposits whose memo is `forward:<account>` to that account: withdraw here,
/// deposit there; if the other account refuses, deposit the money back here.
struct Forwarder<S> {
    accounts: Repository<Account, S>,
}

#[factum::process_manager(name = "forwarder", category = "account")]
impl<S: Backend> Forwarder<S> {
    #[on]
    async fn deposited(
        &self,
        cx: &Reaction,
        e: &Envelope<'_, Deposited>,
    ) -> Result<(), HandlerError> {
        let Some(target) = e.memo.as_deref().and_then(|m| m.strip_prefix("forward:")) else {
            return Ok(());
        };
        let source = e.stream_id().key().to_owned();
        cx.execute(&self.accounts, &source, Withdraw { cents: e.cents })
            .await?;
        match cx
            .execute(&self.accounts, target, Deposit { cents: e.cents })
            .await
        {
            Ok(_) => Ok(()),
            Err(RepositoryError::Rejected {
                error: AccountError::NotOpen,
                ..
            }) => {
                // Compensation: give the money back. Its key differs from the forward
                // step's (a refund, not a deposit to the target).
                let key = cx.key(&format!("refund-{source}"));
                self.accounts
                    .execute_idempotent(&source, Deposit { cents: e.cents }, cx.metadata(), &key)
                    .await?;
                Ok(())
            }
            Err(other) => Err(other.into()),
        }
    }
}

async fn history<S: EventStore>(store: &S, id: &str) -> Vec<factum::RecordedEvent> {
    let stream = StreamId::new(format!("account-{id}")).unwrap();
    store
        .read_stream(&stream, ReadStream::forward())
        .try_collect()
        .await
        .unwrap()
}

async fn sagas_carry_ids_and_compensate<S: ProjectionStore + SnapshotStore>(store: &S) {
    let accounts = Repository::<Account, _>::new(store.clone());
    for id in ["src", "dst"] {
        accounts
            .execute(id, Open { owner: id.into() }, Metadata::new())
            .await
            .unwrap();
    }
    let running = ProcessManagerRunner::new(store.clone())
        .options(
            RunnerOptions::default()
                .poll_interval(Duration::from_millis(20))
                .lease(Duration::from_secs(2), Duration::from_millis(20)),
        )
        .with_manager(Forwarder {
            accounts: Repository::new(store.clone()),
        })
        .start();

    // A forwarded deposit, then one to an account that does not exist.
    let meta = Metadata::new().with_correlation_id("order-7");
    let stream = StreamId::new("account-src").unwrap();
    let deposit = |cents: i64, memo: &str| {
        factum::Event::to_event_data(&Deposited {
            cents,
            memo: Some(memo.to_owned()),
        })
        .unwrap()
        .with_metadata(meta.clone())
    };
    let first = store
        .append(
            &stream,
            factum::ExpectedVersion::Any,
            vec![deposit(500, "forward:dst")],
        )
        .await
        .unwrap();
    store
        .append(
            &stream,
            factum::ExpectedVersion::Any,
            vec![deposit(70, "forward:nobody")],
        )
        .await
        .unwrap();
    let projections = Projections::new(store.clone());
    loop {
        let head = store.head_position().await.unwrap();
        projections
            .wait_for("forwarder", head, Duration::from_secs(30))
            .await
            .unwrap();
        if store.head_position().await.unwrap() == head {
            break;
        }
    }
    running.stop().await.unwrap();

    let dst = history(store, "dst").await;
    let forwarded = dst.last().unwrap();
    assert_eq!(forwarded.event_type, "test.Deposited");
    assert_eq!(forwarded.decode::<Deposited>().unwrap().cents, 500);
    assert_eq!(
        forwarded.metadata.correlation_id.as_deref(),
        Some("order-7")
    );
    let trigger = history(store, "src").await[1].event_id;
    assert_eq!(first.positions.len(), 1);
    assert_eq!(
        forwarded.metadata.causation_id.as_deref(),
        Some(trigger.to_string().as_str()),
        "the command names the event that caused it"
    );
    // src: opened, +500, +70, -500, -70, +70 (the refund): 70 left.
    let src = accounts.load("src").await.unwrap();
    assert_eq!(src.state.balance, 70);
    assert_eq!(src.version, 6);
    assert!(
        history(store, "nobody").await.is_empty(),
        "the refused deposit left nothing"
    );

    // A reaction repeated (as after a crash before its checkpoint moved) appends nothing.
    let trigger = history(store, "src").await[1].clone();
    let cx = Reaction::new("forwarder", trigger);
    let again = cx
        .execute(&accounts, "dst", Deposit { cents: 500 })
        .await
        .unwrap();
    assert_eq!(
        again.version, 2,
        "the first run's result, recognised as a retry"
    );
    assert_eq!(history(store, "dst").await.len(), 2);
}

async fn dedup_delivers_once<S: ProjectionStore>(store: &S) {
    let dedup = Dedup::new(store.clone(), "mailer");
    let id = factum::EventId::new();
    assert!(!dedup.delivered(id).await.unwrap());
    let first = dedup
        .once(id, || async { Ok::<_, std::io::Error>("sent") })
        .await
        .unwrap();
    assert_eq!(first, Some("sent"));
    let second = dedup
        .once(id, || async { Ok::<_, std::io::Error>("sent twice") })
        .await
        .unwrap();
    assert_eq!(second, None, "a delivered event is skipped");
    // A failed delivery is not recorded, so it is tried again.
    let other = factum::EventId::new();
    let failed = dedup
        .once(other, || async {
            Err::<(), _>(std::io::Error::other("gateway down"))
        })
        .await;
    assert!(failed.is_err());
    assert!(!dedup.delivered(other).await.unwrap());
    // Another consumer has its own record.
    assert!(
        !Dedup::new(store.clone(), "indexer")
            .delivered(id)
            .await
            .unwrap()
    );
}

factum_tests::sql_backend_tests!(sagas_carry_ids_and_compensate, dedup_delivers_once);
