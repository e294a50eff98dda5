//! Factum's main example: bank accounts whose history is the product.
//!
//! It opens two accounts, deposits, withdraws (refusing an overdraft by checking the
//! balance folded from the account's own history, and appending with the version it
//! read, so a concurrent change could not slip in between), then prints one account's
//! full history and a summary of the global log.
//!
//! ```text
//! cargo run -p bank                                  # embedded SQLite file bank.sqlite
//! cargo run -p bank -- --db path/to/other.sqlite
//! cargo run -p bank -- --db postgres://postgres@127.0.0.1:5432/test [--schema bank]
//! ```

// Amounts are written as `dollars_cents` (`100_00` is $100.00), on purpose.
#![allow(clippy::inconsistent_digit_grouping)]

use std::process::ExitCode;

use factum::store::postgres::{PostgresConfig, PostgresStore};
use factum::store::sqlite::SqliteStore;
use factum::{
    EventData, EventStore, ExpectedVersion, Metadata, Position, ReadAll, ReadStream, StoreError,
    StreamId,
};
use futures_util::TryStreamExt;

/// The events of an account, as stored.
#[derive(Debug)]
enum AccountEvent {
    Opened { owner: String },
    Deposited { cents: i64 },
    Withdrawn { cents: i64 },
}

impl AccountEvent {
    fn name(&self) -> &'static str {
        match self {
            AccountEvent::Opened { .. } => "bank.AccountOpened",
            AccountEvent::Deposited { .. } => "bank.Deposited",
            AccountEvent::Withdrawn { .. } => "bank.Withdrawn",
        }
    }

    fn to_data(&self, metadata: &Metadata) -> EventData {
        let payload = match self {
            AccountEvent::Opened { owner } => serde_json::json!({ "owner": owner }),
            AccountEvent::Deposited { cents } | AccountEvent::Withdrawn { cents } => {
                serde_json::json!({ "cents": cents })
            }
        };
        EventData::new(self.name(), payload).with_metadata(metadata.clone())
    }
}

/// An account's state, rebuilt from its events.
#[derive(Debug, Default)]
struct Account {
    version: u64,
    balance: i64,
}

/// Why a command was refused.
#[derive(Debug, thiserror::Error)]
enum BankError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("insufficient funds: balance {} but {} requested", money(*.balance), money(*.requested))]
    InsufficientFunds { balance: i64, requested: i64 },
}

fn money(cents: i64) -> String {
    format!("${}.{:02}", cents / 100, cents.abs() % 100)
}

async fn load<S: EventStore>(store: &S, id: &StreamId) -> Result<Account, StoreError> {
    let mut account = Account::default();
    let mut events = store.read_stream(id, ReadStream::forward());
    while let Some(event) = events.try_next().await? {
        account.version = event.stream_version;
        let cents = event.payload.to_value()["cents"].as_i64().unwrap_or(0);
        match event.event_type.as_str() {
            "bank.Deposited" => account.balance += cents,
            "bank.Withdrawn" => account.balance -= cents,
            _ => {}
        }
    }
    Ok(account)
}

/// Decide and append, with the version the decision was based on.
async fn execute<S: EventStore>(
    store: &S,
    id: &StreamId,
    meta: &Metadata,
    decide: impl Fn(&Account) -> Result<Vec<AccountEvent>, BankError>,
) -> Result<u64, BankError> {
    loop {
        let account = load(store, id).await?;
        let events = decide(&account)?;
        let data = events.iter().map(|e| e.to_data(meta)).collect();
        match store
            .append(id, ExpectedVersion::Exact(account.version), data)
            .await
        {
            Ok(done) => return Ok(done.version),
            // Someone else wrote first: decide again on the new state.
            Err(StoreError::WrongExpectedVersion { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

async fn run<S: EventStore>(store: S) -> Result<(), BankError> {
    let id = factum::EventId::new().to_string();
    let run_id = &id[id.len() - 8..];
    let alice = StreamId::new(format!("account-alice.{run_id}"))?;
    let bob = StreamId::new(format!("account-bob.{run_id}"))?;
    let meta = Metadata::new()
        .with_correlation_id(format!("demo-{run_id}"))
        .with_actor("teller:example");

    println!("Opening accounts {alice} and {bob}");
    for (id, owner) in [(&alice, "Alice"), (&bob, "Bob")] {
        let opened = AccountEvent::Opened {
            owner: owner.into(),
        };
        store
            .append(id, ExpectedVersion::NoStream, vec![opened.to_data(&meta)])
            .await?;
    }

    let deposit = |cents| move |_: &Account| Ok(vec![AccountEvent::Deposited { cents }]);
    let withdraw = |cents| {
        move |a: &Account| {
            if a.balance < cents {
                Err(BankError::InsufficientFunds {
                    balance: a.balance,
                    requested: cents,
                })
            } else {
                Ok(vec![AccountEvent::Withdrawn { cents }])
            }
        }
    };

    execute(&store, &alice, &meta, deposit(100_00)).await?;
    println!("Alice deposits {}", money(100_00));
    execute(&store, &alice, &meta, withdraw(30_00)).await?;
    println!("Alice withdraws {}", money(30_00));
    execute(&store, &bob, &meta, deposit(25_50)).await?;
    println!("Bob deposits {}", money(25_50));
    match execute(&store, &bob, &meta, withdraw(40_00)).await {
        Err(refused @ BankError::InsufficientFunds { .. }) => {
            println!("Bob tries to withdraw {}: refused, {refused}", money(40_00));
        }
        other => println!("unexpected: {other:?}"),
    }
    execute(&store, &alice, &meta, deposit(12_34)).await?;
    println!("Alice deposits {}", money(12_34));

    println!("\nHistory of {alice}:");
    println!("  {:>3}  {:>20}  {:<20} payload", "ver", "position", "type");
    let history: Vec<_> = store
        .read_stream(&alice, ReadStream::forward())
        .try_collect()
        .await?;
    for e in &history {
        println!(
            "  {:>3}  {:>20}  {:<20} {}   ({})",
            e.stream_version,
            e.position,
            e.event_type,
            e.payload,
            e.recorded_at.format("%Y-%m-%d %H:%M:%S%.3f")
        );
    }
    for id in [&alice, &bob] {
        let account = load(&store, id).await?;
        println!(
            "Balance of {id}: {} after {} events",
            money(account.balance),
            account.version
        );
    }

    let deposits: Vec<_> = store
        .read_all(ReadAll::from(Position::START).event_types(["bank.Deposited"]))
        .try_collect()
        .await?;
    let total: i64 = deposits
        .iter()
        .filter_map(|e| e.payload.to_value()["cents"].as_i64())
        .sum();
    let head = store.head_position().await?;
    let accounts = store.list_streams("account", None, 10_000).await?;
    println!(
        "\nThe store holds {} accounts; {} deposits in the global log total {}; head position {head}.",
        accounts.len(),
        deposits.len(),
        money(total)
    );
    Ok(())
}

struct Args {
    db: String,
    schema: String,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        db: "bank.sqlite".into(),
        schema: "bank".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--db" => args.db = value()?,
            "--schema" => args.schema = value()?,
            "-h" | "--help" => {
                return Err(
                    "usage: bank [--db <sqlite path | postgres://url>] [--schema <name>]".into(),
                );
            }
            other => return Err(format!("unknown argument {other:?}; try --help")),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let result = if args.db.starts_with("postgres://") || args.db.starts_with("postgresql://") {
        println!("Using PostgreSQL, schema {:?}", args.schema);
        match PostgresStore::connect_with(PostgresConfig::new(&args.db).schema(&args.schema)).await
        {
            Ok(store) => run(store).await,
            Err(e) => Err(e.into()),
        }
    } else {
        println!("Using the embedded SQLite file {}", args.db);
        match SqliteStore::connect(&args.db).await {
            Ok(store) => run(store).await,
            Err(e) => Err(e.into()),
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
