//! Factum's main example: bank accounts whose history is the product.
//!
//! It opens two accounts, runs deposits and withdrawals through the repository (a
//! refused overdraft is recorded as a fact), imports a legacy deposit stored in the old
//! dollars format (upcast to cents on read), travels back in time, and prints an
//! account's full history and what the global log says about all accounts.
//!
//! ```text
//! cargo run -p bank                                  # embedded SQLite file bank.sqlite
//! cargo run -p bank -- --db path/to/other.sqlite
//! cargo run -p bank -- --db postgres://postgres@127.0.0.1:5432/test [--schema bank]
//! ```

// Amounts are written as `dollars_cents` (`100_00` is $100.00), on purpose.
#![allow(clippy::inconsistent_digit_grouping)]

mod account;

use std::process::ExitCode;

use factum::store::postgres::{PostgresConfig, PostgresStore};
use factum::store::sqlite::SqliteStore;
use factum::{
    EventData, EventStore, ExpectedVersion, Metadata, Position, ReadAll, ReadStream, Repository,
    RepositoryError, SnapshotPolicy, SnapshotStore,
};
use futures_util::TryStreamExt;

use account::{Account, Deposit, Open, Withdraw};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// `12_34` → `$12.34`.
pub fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}${}.{:02}", cents.abs() / 100, cents.abs() % 100)
}

async fn run<S>(store: S) -> Result<(), Error>
where
    S: EventStore + SnapshotStore + Clone + 'static,
{
    let accounts =
        Repository::<Account, _>::new(store.clone()).with_snapshots(SnapshotPolicy::every(100));
    let run = factum::EventId::new().to_string();
    let run = &run[run.len() - 8..];
    let (alice, bob) = (format!("alice.{run}"), format!("bob.{run}"));
    let teller = |step: &str| {
        Metadata::new()
            .with_correlation_id(format!("demo-{run}"))
            .with_causation_id(step.to_owned())
            .with_actor("teller:example")
    };

    println!("Opening accounts {alice} and {bob}");
    accounts
        .execute(
            &alice,
            Open {
                owner: "Alice".into(),
            },
            teller("open-alice"),
        )
        .await?;
    accounts
        .execute(
            &bob,
            Open {
                owner: "Bob".into(),
            },
            teller("open-bob"),
        )
        .await?;

    accounts
        .execute(&alice, Deposit { cents: 100_00 }, teller("pay-in-1"))
        .await?;
    println!("Alice deposits {}", money(100_00));
    let checkpoint = accounts.load(&alice).await?.version;
    accounts
        .execute(&alice, Withdraw { cents: 30_00 }, teller("pay-out-1"))
        .await?;
    println!("Alice withdraws {}", money(30_00));
    accounts
        .execute(&bob, Deposit { cents: 25_50 }, teller("pay-in-2"))
        .await?;
    println!("Bob deposits {}", money(25_50));
    match accounts
        .execute(&bob, Withdraw { cents: 40_00 }, teller("pay-out-2"))
        .await
    {
        Err(RepositoryError::Rejected { error, recorded }) => println!(
            "Bob tries to withdraw {}: refused ({error}){}",
            money(40_00),
            if recorded.is_some() {
                "; the attempt is recorded"
            } else {
                ""
            }
        ),
        other => println!("unexpected: {other:?}"),
    }

    // A deposit imported from the old system, still in the version 1 format (dollars).
    let stream = accounts.stream_id(&alice)?;
    let version = accounts.load(&alice).await?.version;
    let legacy = EventData::new("bank.Deposited", serde_json::json!({ "amount": 12 }))
        .with_schema_version(1)
        .with_metadata(teller("import"));
    store
        .append(&stream, ExpectedVersion::Exact(version), vec![legacy])
        .await?;
    println!("Imported a legacy deposit of $12 stored as version 1 (dollars)");

    println!("\nHistory of {stream}:");
    println!("  {:>3}  {:<24} {:>3}  payload", "ver", "type", "v");
    let history: Vec<_> = store
        .read_stream(&stream, ReadStream::forward())
        .try_collect()
        .await?;
    for e in &history {
        println!(
            "  {:>3}  {:<24} {:>3}  {}   ({}, caused by {})",
            e.stream_version,
            e.event_type,
            e.schema_version,
            e.payload,
            e.recorded_at.format("%H:%M:%S%.3f"),
            e.metadata.causation_id.as_deref().unwrap_or("-"),
        );
    }
    for id in [&alice, &bob] {
        let account = accounts.load(id).await?;
        println!(
            "Balance of {}: {} at version {} ({} refused withdrawals)",
            account.state.owner.as_deref().unwrap_or("?"),
            money(account.state.balance),
            account.version,
            account.state.refusals
        );
    }
    let then = accounts.load_at(&alice, checkpoint).await?;
    println!(
        "Time travel: Alice's balance at version {checkpoint} was {}",
        money(then.state.balance)
    );

    let refusals: Vec<_> = store
        .read_all(ReadAll::from(Position::START).event_types(["bank.WithdrawalRejected"]))
        .try_collect()
        .await?;
    let deposits: Vec<_> = store
        .read_all(ReadAll::from(Position::START).event_types(["bank.Deposited"]))
        .try_collect()
        .await?;
    let listed = store.list_streams("account", None, 100_000).await?;
    println!(
        "\nThe store holds {} accounts, {} deposits and {} refused withdrawals; head position {}.",
        listed.len(),
        deposits.len(),
        refusals.len(),
        store.head_position().await?
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
        let config = PostgresConfig::new(&args.db).schema(&args.schema);
        match PostgresStore::connect_with(config).await {
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
