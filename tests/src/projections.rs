//! Projections over the bank domain of [`crate::domain`], for the projection suites and
//! the crash-test child process (`src/bin/projector.rs`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use factum::projection::dlq::DeadLetters;
use factum::projection::{Envelope, HandlerError, ProjectionKey, ProjectionStore, ProjectionTx};
use factum::{EventData, EventStore, ExpectedVersion, ReadModel, StreamId};
use serde::{Deserialize, Serialize};

use crate::domain::{Deposited, Withdrawn};

/// Read models shaped like [`Balance`], one per projection that keeps balances.
macro_rules! balance_models {
    ($($(#[$doc:meta])* $name:ident = $table:literal;)*) => {$(
        $(#[$doc])*
        #[derive(ReadModel, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
        #[read_model(table = $table)]
        pub struct $name {
            /// The stream id.
            #[key]
            pub account: String,
            /// Sum of deposits minus withdrawals, in cents.
            pub cents: i64,
            /// Events applied.
            pub events: i64,
            /// The last stream version applied (to check order).
            pub last_version: i64,
        }
    )*};
}

balance_models! {
    /// The projections' view of an account's balance.
    Balance = "balances";
    /// Deposits per account.
    DepositTotal = "deposit_totals";
    /// What the flaky projection managed to apply.
    FlakyBalance = "flaky_balances";
}

/// How often each event was applied (any count other than 1 is a bug).
#[derive(ReadModel, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[read_model(table = "applied")]
pub struct Applied {
    /// The event id.
    #[key]
    pub event_id: uuid::Uuid,
    /// Times applied.
    pub times: i64,
}

async fn add<M: ReadModel<Key = String>>(
    tx: &mut ProjectionTx,
    account: &str,
    version: u64,
    cents: i64,
) -> Result<(), HandlerError> {
    // The balance models share their fields: go through `Balance` to update any of them.
    let mut row: Balance = match tx.get::<M, _>(account).await? {
        Some(found) => serde_json::from_value(serde_json::to_value(found)?)?,
        None => Balance {
            account: account.to_owned(),
            cents: 0,
            events: 0,
            last_version: 0,
        },
    };
    if row.last_version as u64 >= version {
        return Err(format!("{account}: version {version} after {}", row.last_version).into());
    }
    row.cents += cents;
    row.events += 1;
    row.last_version = version as i64;
    let row: M = serde_json::from_value(serde_json::to_value(row)?)?;
    tx.put(&row).await?;
    Ok(())
}

async fn count(tx: &mut ProjectionTx, id: factum::EventId) -> Result<(), HandlerError> {
    let times = tx
        .get::<Applied, _>(&id.as_uuid())
        .await?
        .map_or(0, |a| a.times);
    tx.put(&Applied {
        event_id: id.as_uuid(),
        times: times + 1,
    })
    .await?;
    Ok(())
}

/// Balances, version 1.
pub struct Balances;

#[factum::projection(name = "balances", version = 1, read_models(Balance, Applied))]
impl Balances {
    #[on]
    async fn deposited(
        &self,
        tx: &mut ProjectionTx,
        e: &Envelope<'_, Deposited>,
    ) -> Result<(), HandlerError> {
        add::<Balance>(tx, e.stream_id().as_str(), e.stream_version(), e.cents).await?;
        count(tx, e.event_id()).await
    }

    #[on]
    async fn withdrawn(
        &self,
        tx: &mut ProjectionTx,
        e: &Envelope<'_, Withdrawn>,
    ) -> Result<(), HandlerError> {
        add::<Balance>(tx, e.stream_id().as_str(), e.stream_version(), -e.cents).await?;
        count(tx, e.event_id()).await
    }
}

/// Balances, version 2: the same read model, rebuilt into its own tables.
pub struct BalancesV2;

#[factum::projection(name = "balances", version = 2, read_models(Balance))]
impl BalancesV2 {
    #[on]
    async fn deposited(
        &self,
        tx: &mut ProjectionTx,
        e: &Envelope<'_, Deposited>,
    ) -> Result<(), HandlerError> {
        add::<Balance>(tx, e.stream_id().as_str(), e.stream_version(), e.cents).await
    }

    #[on]
    async fn withdrawn(
        &self,
        tx: &mut ProjectionTx,
        e: &Envelope<'_, Withdrawn>,
    ) -> Result<(), HandlerError> {
        add::<Balance>(tx, e.stream_id().as_str(), e.stream_version(), -e.cents).await
    }
}

/// Deposits only, under another name: a second projection following the same log.
pub struct DepositTotals;

#[factum::projection(name = "deposit_totals", read_models(DepositTotal))]
impl DepositTotals {
    #[on]
    async fn deposited(
        &self,
        tx: &mut ProjectionTx,
        e: &Envelope<'_, Deposited>,
    ) -> Result<(), HandlerError> {
        add::<DepositTotal>(tx, e.stream_id().as_str(), e.stream_version(), e.cents).await
    }
}

/// A projection that claims the `balances` table of another: refused at registration.
pub struct Thief;

#[factum::projection(name = "thief", read_models(Balance))]
impl Thief {
    #[on]
    async fn withdrawn(
        &self,
        _tx: &mut ProjectionTx,
        _e: &Envelope<'_, Withdrawn>,
    ) -> Result<(), HandlerError> {
        Ok(())
    }
}

/// Balances whose handler fails on deposits with the memo "poison" while `poisoned` is
/// set: the dead-letter suite's fault.
#[derive(Clone, Default)]
pub struct Flaky {
    /// Whether poison deposits fail.
    pub poisoned: Arc<AtomicBool>,
}

#[factum::projection(name = "flaky", read_models(FlakyBalance))]
impl Flaky {
    #[on]
    async fn deposited(
        &self,
        tx: &mut ProjectionTx,
        e: &Envelope<'_, Deposited>,
    ) -> Result<(), HandlerError> {
        if self.poisoned.load(Ordering::SeqCst) && e.memo.as_deref() == Some("poison") {
            return Err("poison deposit: the read model refuses it".into());
        }
        add::<FlakyBalance>(tx, e.stream_id().as_str(), e.stream_version(), e.cents).await
    }
}

/// A deposit as data to append.
pub fn deposit(cents: i64, memo: Option<&str>) -> EventData {
    factum::Event::to_event_data(&Deposited {
        cents,
        memo: memo.map(str::to_owned),
    })
    .expect("serialisable")
}

/// A withdrawal as data to append.
pub fn withdrawal(cents: i64) -> EventData {
    factum::Event::to_event_data(&Withdrawn { cents }).expect("serialisable")
}

/// The balances every projection of balances must end with: folded from the store's
/// own log (every stream, every event).
pub async fn expected_balances<S: EventStore>(store: &S) -> BTreeMap<String, Balance> {
    use futures_util::TryStreamExt;
    let mut out: BTreeMap<String, Balance> = BTreeMap::new();
    let mut events = store.read_all(factum::ReadAll::from(factum::Position::START));
    while let Some(e) = events.try_next().await.expect("read the log") {
        let cents = match e.event_type.as_str() {
            "test.Deposited" => e.decode::<Deposited>().expect("deposit").cents,
            "test.Withdrawn" => -e.decode::<Withdrawn>().expect("withdrawal").cents,
            _ => continue,
        };
        let row = out.entry(e.stream_id.to_string()).or_insert(Balance {
            account: e.stream_id.to_string(),
            cents: 0,
            events: 0,
            last_version: 0,
        });
        row.cents += cents;
        row.events += 1;
        row.last_version = e.stream_version as i64;
    }
    out
}

/// The `i`th event of an append in round `round`: a deposit of `10 + i` cents, or every
/// seventh a withdrawal of 3.
pub fn mixed(round: usize, i: usize) -> EventData {
    if (round + i) % 7 == 6 {
        withdrawal(3)
    } else {
        deposit(10 + i as i64, None)
    }
}

/// Appends `n` events to `account-{i}` streams (`accounts` of them), in batches of up to
/// 50 per append, deposits with the odd withdrawal.
pub async fn fill<S: EventStore>(store: &S, prefix: &str, accounts: usize, n: usize) {
    let mut written = 0;
    let mut round = 0;
    while written < n {
        for a in 0..accounts {
            if written >= n {
                break;
            }
            let batch = 50.min(n - written);
            let events = (0..batch).map(|i| mixed(round, i)).collect();
            let stream = StreamId::new(format!("{prefix}-{a}")).expect("stream id");
            store
                .append(&stream, ExpectedVersion::Any, events)
                .await
                .expect("append");
            written += batch;
        }
        round += 1;
    }
}

/// Checks what [`Balances`] (version 1) left after `events` events of [`fill`]: its
/// balances equal the fold of the log, every event was applied exactly once (the
/// `applied` table counts each event's applications), and nothing was parked.
pub async fn assert_applied_exactly_once<S: ProjectionStore>(store: &S, events: usize) {
    /// A `balances_v1` row: account, cents, events, last version.
    type Row = (String, i64, i64, i64);
    let expected = expected_balances(store).await;
    assert_eq!(
        expected.values().map(|b| b.events).sum::<i64>(),
        events as i64
    );
    let sql = "SELECT account, cents, events, last_version FROM balances_v1 ORDER BY account";
    let counts = "SELECT COUNT(*), MIN(times), MAX(times) FROM applied_v1";
    let (rows, applied): (Vec<Row>, (i64, i64, i64)) =
        match crate::backends::pools(&store.projection_db()) {
            crate::backends::Pools::Sqlite { reader, .. } => (
                sqlx::query_as(sql).fetch_all(&reader).await.unwrap(),
                sqlx::query_as(counts).fetch_one(&reader).await.unwrap(),
            ),
            crate::backends::Pools::Postgres { pool, .. } => (
                sqlx::query_as(sql).fetch_all(&pool).await.unwrap(),
                sqlx::query_as(counts).fetch_one(&pool).await.unwrap(),
            ),
        };
    let want: Vec<Row> = expected
        .values()
        .map(|b| (b.account.clone(), b.cents, b.events, b.last_version))
        .collect();
    assert_eq!(rows, want, "the read model equals the fold of all events");
    assert_eq!(
        applied,
        (events as i64, 1, 1),
        "every event applied exactly once"
    );
    let parked = DeadLetters::new(store.clone())
        .list(&ProjectionKey::of::<Balances>())
        .await
        .unwrap();
    assert!(parked.is_empty(), "nothing was parked: {parked:?}");
}
