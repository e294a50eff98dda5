//! Factum's main example: bank accounts whose history is the product.
//!
//! It opens accounts, runs deposits and withdrawals through the repository (a refused
//! overdraft is recorded as a fact), imports a legacy deposit stored in the old dollars
//! format (upcast to cents on read), travels back in time, and prints an account's full
//! history. Then the read side: a projection keeps balances and statements, a process
//! manager carries transfers between accounts (refunding one that a closed account
//! refuses), and the program reads its own writes from the read models.
//!
//! ```text
//! cargo run -p bank                                  # embedded SQLite file bank.sqlite
//! cargo run -p bank -- --db path/to/other.sqlite
//! cargo run -p bank -- --db postgres://postgres@127.0.0.1:5432/test [--schema bank]
//! cargo run -p bank -- --db nats://127.0.0.1:4222     # NATS JetStream (read models in SQLite)
//! cargo run -p bank -- --read-models views.sqlite      # read models in a database of their own
//! cargo run -p bank -- --read-models postgres://postgres@127.0.0.1:5432/views
//! cargo run -p bank -- --serve 127.0.0.1:8080          # then serve the GraphQL API
//! cargo run -p bank -- codegen [--check]             # the committed catalog, SDL and DDL
//! ```

// Amounts are written as `dollars_cents` (`100_00` is $100.00), on purpose.
#![allow(clippy::inconsistent_digit_grouping)]

mod account;
mod transfers;
mod views;

use std::process::ExitCode;

use factum::SqliteStore;
use factum::{
    EventData, ExpectedVersion, Metadata, Position, ReadAll, ReadStream, Repository,
    RepositoryError, SnapshotPolicy, SnapshotStore, StoreError,
};
use factum::{NatsConfig, NatsStore};
use factum::{PostgresConfig, PostgresStore};
use futures_util::TryStreamExt;

use std::time::Duration;

use account::{Account, ChooseAlias, Close, Deposit, Open, SendTransfer, Withdraw};
use factum::projection::{
    ProjectionDb, ProjectionRunner, ProjectionStore, Projections, WithReadModels,
};
use factum::saga::ProcessManagerRunner;
use transfers::Transfers;
use views::{AccountBalance, BankViews};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// `12_34` → `$12.34`.
pub fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}${}.{:02}", cents.abs() / 100, cents.abs() % 100)
}

async fn run<S>(store: S) -> Result<(), Error>
where
    S: ProjectionStore + SnapshotStore,
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

    // Aliases are unique across accounts: the claim is written with the event, in the
    // same transaction, and a taken alias refuses the command with nothing written.
    let alias = format!("alice-{run}");
    accounts
        .execute(
            &alice,
            ChooseAlias {
                alias: alias.clone(),
            },
            teller("alias-alice"),
        )
        .await?;
    println!("Alice takes the alias {alias}");
    match accounts
        .execute(
            &bob,
            ChooseAlias {
                alias: alias.clone(),
            },
            teller("alias-bob"),
        )
        .await
    {
        Err(RepositoryError::Store(StoreError::UniqueValueTaken { holder, .. })) => {
            println!("Bob asks for {alias} too: refused, {holder} holds it")
        }
        other => println!("unexpected: {other:?}"),
    }
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

    read_side(&store, &accounts, run, &alice, &bob, &teller).await?;

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

/// The scenario, then (with `--serve`) the GraphQL API over the read models until Ctrl-C.
async fn run_and_serve<S>(store: S, serve: Option<&str>) -> Result<(), Error>
where
    S: ProjectionStore + SnapshotStore,
{
    run(store.clone()).await?;
    let Some(addr) = serve else {
        println!("\n(Run with --serve 127.0.0.1:8080 to browse the read models over GraphQL.)");
        return Ok(());
    };
    // The projection keeps following while the API serves.
    let views = ProjectionRunner::new(store.clone())
        .with_projection(BankViews)
        .start();
    let app = factum::graphql::ReadModelApi::from_registry(store.clone()).router()?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!(
        "\nGraphQL API at http://{}/graphql (open it in a browser for GraphiQL); Ctrl-C stops.",
        listener.local_addr()?
    );
    println!(
        "Try: {{ accountBalances(orderBy: [{{field: CENTS, direction: DESC}}], first: 5) \
         {{ nodes {{ account owner cents }} totalCount }} }}"
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    views.stop().await?;
    Ok(())
}

/// Projections and the transfers saga at work, and reading your own writes.
async fn read_side<S>(
    store: &S,
    accounts: &Repository<Account, S>,
    run: &str,
    alice: &str,
    bob: &str,
    teller: &impl Fn(&str) -> Metadata,
) -> Result<(), Error>
where
    S: ProjectionStore + SnapshotStore,
{
    let views = ProjectionRunner::new(store.clone())
        .with_projection(BankViews)
        .start();
    let saga = ProcessManagerRunner::new(store.clone())
        .with_manager(Transfers {
            accounts: Repository::new(store.clone()),
        })
        .start();
    let projections = Projections::new(store.clone());
    let wait = Duration::from_secs(30);

    let carol = format!("carol.{run}");
    accounts
        .execute(
            &carol,
            Open {
                owner: "Carol".into(),
            },
            teller("open-carol"),
        )
        .await?;
    accounts
        .execute(&carol, Close, teller("close-carol"))
        .await?;
    println!("\nCarol opens an account and closes it again");

    let sent = accounts
        .execute(
            alice,
            SendTransfer {
                transfer: format!("t1.{run}"),
                to: bob.to_owned(),
                cents: 20_00,
            },
            teller("transfer-1"),
        )
        .await?;
    println!("Alice sends Bob {}", money(20_00));
    accounts
        .execute(
            alice,
            SendTransfer {
                transfer: format!("t2.{run}"),
                to: carol.clone(),
                cents: 5_00,
            },
            teller("transfer-2"),
        )
        .await?;
    println!(
        "Alice sends Carol {} (Carol's account is closed)",
        money(5_00)
    );

    // The saga reacts to Alice's transfers (and to the refusal its own step caused);
    // wait until it and the views have passed everything, and nothing new appeared.
    loop {
        let head = store.head_position().await?;
        projections.wait_for("transfers", head, wait).await?;
        projections.wait_for("bank_views", head, wait).await?;
        if store.head_position().await? == head {
            break;
        }
    }
    println!(
        "Read your own writes: the views have passed position {} of the first transfer",
        sent.positions[0]
    );

    println!("\nBalances from the read model (bank_views):");
    for id in [alice, bob, carol.as_str()] {
        if let Some(row) = projections
            .get::<AccountBalance, _>("bank_views", id)
            .await?
        {
            println!(
                "  {:<8} {:>9}  {} movements{}",
                row.owner.as_deref().unwrap_or("?"),
                money(row.cents),
                row.movements,
                if row.closed { ", closed" } else { "" }
            );
        }
    }
    println!("Alice's statement:");
    for (kind, cents, after) in statement(store, alice).await? {
        println!(
            "  {kind:<13} {:>9}  balance {:>9}",
            money(cents),
            money(after)
        );
    }

    for progress in views.progress() {
        println!(
            "Projection {} is at position {} ({} events applied, {} parked)",
            progress.key, progress.checkpoint, progress.applied, progress.parked
        );
    }
    views.stop().await?;
    saga.stop().await?;
    Ok(())
}

/// Alice's statement lines, straight from the live `account_transactions` table.
async fn statement<S: ProjectionStore>(
    store: &S,
    account: &str,
) -> Result<Vec<(String, i64, i64)>, Error> {
    let table = Projections::new(store.clone())
        .table::<views::Transaction>("bank_views")
        .await?;
    let sql = format!(
        "SELECT kind, cents, balance_after FROM {table} WHERE account = $1 ORDER BY recorded_at, event_id"
    );
    let db = store.projection_db();
    let sql = sqlx::AssertSqlSafe(sql);
    Ok(if let Some(sqlite) = db.sqlite() {
        sqlx::query_as(sql)
            .bind(account)
            .fetch_all(sqlite.reader())
            .await?
    } else if let Some(pg) = db.postgres() {
        sqlx::query_as(sql)
            .bind(account)
            .fetch_all(pg.reader())
            .await?
    } else {
        Vec::new()
    })
}

struct Args {
    db: String,
    schema: String,
    read_models: Option<String>,
    serve: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        db: "bank.sqlite".into(),
        schema: "bank".into(),
        read_models: None,
        serve: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--db" => args.db = value()?,
            "--schema" => args.schema = value()?,
            "--read-models" => args.read_models = Some(value()?),
            "--serve" => args.serve = Some(value()?),
            "-h" | "--help" => {
                return Err(
                    "usage: bank [--db <sqlite path | postgres://url | nats://url>] [--schema <name>]\n            [--read-models <sqlite path | postgres://url>] [--serve <addr>]\n       bank codegen [--check] [--json]".into(),
                );
            }
            other => return Err(format!("unknown argument {other:?}; try --help")),
        }
    }
    Ok(args)
}

fn is_postgres(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// Runs with the read models in the store's own database, or (`--read-models`) in a
/// database of their own: another SQLite file, or a PostgreSQL database (schema
/// `--schema`).
async fn with_read_models<S>(store: S, args: &Args) -> Result<(), Error>
where
    S: ProjectionStore + SnapshotStore,
{
    let Some(location) = &args.read_models else {
        return run_and_serve(store, args.serve.as_deref()).await;
    };
    let db = if is_postgres(location) {
        println!("Read models in PostgreSQL, schema {:?}", args.schema);
        ProjectionDb::connect_postgres(location, &args.schema).await?
    } else {
        println!("Read models in the SQLite file {location}");
        ProjectionDb::open_sqlite(location).await?
    };
    run_and_serve(WithReadModels::new(store, db), args.serve.as_deref()).await
}

/// Runs on a JetStream store, whose read models live in a database of their own:
/// `--read-models`, or the SQLite file `bank-read-models.sqlite`.
async fn on_jetstream(store: NatsStore, args: &Args) -> Result<(), Error> {
    let location = args
        .read_models
        .clone()
        .unwrap_or_else(|| "bank-read-models.sqlite".into());
    let db = if is_postgres(&location) {
        println!("Read models in PostgreSQL, schema {:?}", args.schema);
        ProjectionDb::connect_postgres(&location, &args.schema).await?
    } else {
        println!("Read models in the SQLite file {location}");
        ProjectionDb::open_sqlite(&location).await?
    };
    run_and_serve(WithReadModels::new(store, db), args.serve.as_deref()).await
}

/// `bank codegen [--check] [--json]`: writes (or checks) the event catalog and the
/// read-model DDL committed under `examples/bank/catalog/`.
fn codegen(args: Vec<String>) -> ExitCode {
    factum_codegen::Codegen::new(
        "bank",
        env!("CARGO_PKG_VERSION"),
        concat!(env!("CARGO_MANIFEST_DIR"), "/catalog"),
    )
    .description(
        "Bank accounts on an event-sourced ledger: deposits, withdrawals, refused \
         overdrafts kept as facts, and transfers between accounts.",
    )
    // Generic over its store, so the registry cannot list it by itself.
    .with_process_manager(factum::ProcessManagerDescriptor::of::<
        Transfers<factum::SqliteStore>,
    >())
    .run(args)
}

#[tokio::main]
async fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("codegen") {
        return codegen(std::env::args().skip(2).collect());
    }
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let result = if args.db.starts_with("nats://") {
        println!(
            "Using NATS JetStream at {} (streams BANK, BANK_CLAIMS)",
            args.db
        );
        let config = NatsConfig::new(&args.db)
            .name("BANK")
            .subject_prefix("bank");
        match NatsStore::connect(config).await {
            Ok(store) => on_jetstream(store, &args).await,
            Err(e) => Err(e.into()),
        }
    } else if is_postgres(&args.db) {
        println!("Using PostgreSQL, schema {:?}", args.schema);
        let config = PostgresConfig::new(&args.db).schema(&args.schema);
        match PostgresStore::connect_with(config).await {
            Ok(store) => with_read_models(store, &args).await,
            Err(e) => Err(e.into()),
        }
    } else {
        println!("Using the embedded SQLite file {}", args.db);
        match SqliteStore::connect(&args.db).await {
            Ok(store) => with_read_models(store, &args).await,
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
