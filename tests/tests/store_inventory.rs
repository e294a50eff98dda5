//! The store's inventory (`stored_event_versions`): how many events each type has at each
//! schema version, the same on every backend, deleted streams included; and the read-only
//! opens it is read through (`SqliteStore::open_existing`, `PostgresStore::connect_existing`),
//! which find an existing store or say there is none (and only then: other failures are the
//! database's errors), create no database or schema and leave the SQLite file as it was.

use std::collections::BTreeMap;

use factum::{
    EventData, EventStore, ExpectedVersion, MemoryStore, PostgresConfig, PostgresStore,
    SqliteConfig, SqliteStore, StoreError, StoredVersion, StreamId,
};
use factum_tests::backends;
use proptest::prelude::*;
use serde_json::json;

/// One append: to which stream, and the (type, version) of each event.
type Append = (usize, Vec<(usize, u32)>);

const TYPES: [&str; 3] = ["bank.Deposited", "bank.Opened", "shop.Ordered"];

/// Appends `appends` (streams `account-<n>`), deletes the streams in `deleted`, and
/// returns the inventory they should leave.
async fn fill<S: EventStore>(
    store: &S,
    appends: &[Append],
    deleted: &[usize],
) -> Vec<StoredVersion> {
    let mut expected: BTreeMap<(String, u32), u64> = BTreeMap::new();
    let mut versions: BTreeMap<usize, u64> = BTreeMap::new();
    for (stream, events) in appends {
        let id = StreamId::new(format!("account-{stream}")).unwrap();
        let version = versions.entry(*stream).or_default();
        let batch = events
            .iter()
            .map(|(t, v)| {
                *expected.entry((TYPES[*t].to_owned(), *v)).or_default() += 1;
                EventData::new(TYPES[*t], json!({ "n": v })).with_schema_version(*v)
            })
            .collect();
        let expect = match *version {
            0 => ExpectedVersion::NoStream,
            v => ExpectedVersion::Exact(v),
        };
        *version = store.append(&id, expect, batch).await.unwrap().version;
    }
    for stream in deleted {
        if let Some(version) = versions.get(stream) {
            let id = StreamId::new(format!("account-{stream}")).unwrap();
            store
                .delete_stream(&id, ExpectedVersion::Exact(*version))
                .await
                .unwrap();
        }
    }
    expected
        .into_iter()
        .map(|((event_type, schema_version), count)| StoredVersion {
            event_type,
            schema_version,
            count,
        })
        .collect()
}

fn sample() -> Vec<Append> {
    vec![
        (1, vec![(1, 1), (0, 1), (0, 2)]),
        (2, vec![(1, 1), (0, 2), (0, 2), (0, 3)]),
        (1, vec![(0, 2)]),
        (3, vec![(2, 7)]),
    ]
}

fn sample_inventory() -> Vec<StoredVersion> {
    let at = |t: &str, v, n| StoredVersion {
        event_type: t.into(),
        schema_version: v,
        count: n,
    };
    vec![
        at("bank.Deposited", 1, 1),
        at("bank.Deposited", 2, 4),
        at("bank.Deposited", 3, 1),
        at("bank.Opened", 1, 2),
        at("shop.Ordered", 7, 1),
    ]
}

#[tokio::test]
async fn memory_store() {
    let store = MemoryStore::new();
    assert!(store.stored_event_versions().is_empty());
    let expected = fill(&store, &sample(), &[3]).await;
    assert_eq!(expected, sample_inventory());
    assert_eq!(store.stored_event_versions(), expected);
}

#[tokio::test]
async fn sqlite_store_and_its_read_only_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.sqlite");
    let store = SqliteStore::open(&path).await.unwrap();
    assert!(store.stored_event_versions().await.unwrap().is_empty());
    let expected = fill(&store, &sample(), &[3]).await;
    assert_eq!(store.stored_event_versions().await.unwrap(), expected);

    // Read-only, while the writing store is still open, and after it closed.
    let existing = SqliteStore::open_existing(SqliteConfig::file(&path))
        .await
        .unwrap();
    assert_eq!(existing.stored_event_versions().await.unwrap(), expected);
    drop(store);
    let existing = SqliteStore::open_existing(SqliteConfig::file(&path))
        .await
        .unwrap();
    assert_eq!(existing.stored_event_versions().await.unwrap(), expected);
    // Nothing is written through it.
    let refused = existing
        .append(
            &StreamId::new("account-9").unwrap(),
            ExpectedVersion::Any,
            vec![EventData::new("bank.Opened", json!({}))],
        )
        .await;
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(existing.stored_event_versions().await.unwrap(), expected);
}

#[tokio::test]
async fn sqlite_open_existing_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere.sqlite");
    let err = SqliteStore::open_existing(SqliteConfig::file(&missing))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::NoSuchStore { reason, .. } if reason.contains("does not exist")),
        "{err}"
    );
    assert!(err.to_string().contains("nowhere.sqlite"), "{err}");
    assert!(!missing.exists(), "a file was created");

    // A SQLite database of something else.
    let other = dir.path().join("other.sqlite");
    let pool = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&other)
            .create_if_missing(true),
    )
    .await
    .unwrap();
    sqlx::query("CREATE TABLE t (x INTEGER)")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let err = SqliteStore::open_existing(SqliteConfig::file(&other))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::NoSuchStore { reason, .. } if reason.contains("factum_events")),
        "{err}"
    );

    // Not a database at all, and a directory.
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not a database, but long enough to have a header of sorts....................................................").unwrap();
    let err = SqliteStore::open_existing(SqliteConfig::file(&text))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::NoSuchStore { reason, .. } if reason.contains("not a SQLite database")),
        "{err}"
    );
    let err = SqliteStore::open_existing(SqliteConfig::file(dir.path()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::NoSuchStore { reason, .. } if reason.contains("not a file")),
        "{err}"
    );
    let err = SqliteStore::open_existing(SqliteConfig::memory())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidConfig(_)), "{err}");
}

/// The names of the files in `dir`, with their sizes.
fn files(dir: &std::path::Path) -> BTreeMap<String, u64> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            (name, entry.metadata().unwrap().len())
        })
        .collect()
}

/// On a cleanly closed store (no writer, its side files removed by the closing
/// checkpoint), the read-only open leaves the database file byte for byte as it was; what
/// SQLite leaves beside it is its empty `-wal` and its `-shm` index, which hold no data
/// and which the next writer's clean close removes.
#[tokio::test]
async fn sqlite_open_existing_leaves_a_closed_store_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.sqlite");
    let store = SqliteStore::open(&path).await.unwrap();
    let expected = fill(&store, &sample(), &[3]).await;
    store.read_pool().close().await;
    store.write_pool().close().await;
    drop(store);
    let closed = files(dir.path());
    assert_eq!(
        closed.keys().collect::<Vec<_>>(),
        ["events.sqlite"],
        "the writer's close removes its side files"
    );
    let before = std::fs::read(&path).unwrap();

    let existing = SqliteStore::open_existing(SqliteConfig::file(&path))
        .await
        .unwrap();
    assert_eq!(existing.stored_event_versions().await.unwrap(), expected);
    existing.read_pool().close().await;
    drop(existing);
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the database file changed"
    );
    let after = files(dir.path());
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        ["events.sqlite", "events.sqlite-shm", "events.sqlite-wal"],
        "{after:?}"
    );
    assert_eq!(after["events.sqlite-wal"], 0, "the -wal holds no frames");

    // The next writer takes them over, and its clean close removes them.
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.stored_event_versions().await.unwrap(), expected);
    store.read_pool().close().await;
    store.write_pool().close().await;
    drop(store);
    assert_eq!(
        files(dir.path()).keys().collect::<Vec<_>>(),
        ["events.sqlite"]
    );
}

/// Only a missing store is `NoSuchStore`: a database another connection holds locked is
/// the database's own error, whatever the file holds.
#[tokio::test]
async fn sqlite_open_existing_reports_a_locked_database_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("locked.sqlite");
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Delete);
    let mut holder = sqlx::ConnectOptions::connect(&options).await.unwrap();
    sqlx::raw_sql("CREATE TABLE factum_events (x INTEGER); BEGIN EXCLUSIVE")
        .execute(&mut holder)
        .await
        .unwrap();
    let mut config = SqliteConfig::file(&path);
    config.busy_timeout = std::time::Duration::from_millis(50);
    let err = SqliteStore::open_existing(config).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Database(_)) && err.to_string().contains("locked"),
        "{err}"
    );
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut holder)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_and_its_read_only_connect() {
    let Some(url) = backends::pg_url("postgres_store_and_its_read_only_connect") else {
        return;
    };
    let schema = backends::unique_schema("inv");
    let config = || PostgresConfig::new(&url).schema(&schema).max_connections(2);

    // No store there yet: refused, and the schema is not created.
    let err = PostgresStore::connect_existing(config()).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::NoSuchStore { store, .. } if store.contains(&schema)),
        "{err}"
    );
    let admin = sqlx::PgPool::connect(&url).await.unwrap();
    let created: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM information_schema.schemata WHERE schema_name = $1)",
    )
    .bind(&schema)
    .fetch_one(&admin)
    .await
    .unwrap();
    assert!(!created, "connect_existing created the schema");

    let store = PostgresStore::connect_with(config()).await.unwrap();
    assert!(store.stored_event_versions().await.unwrap().is_empty());
    let expected = fill(&store, &sample(), &[3]).await;
    assert_eq!(expected, sample_inventory());
    assert_eq!(store.stored_event_versions().await.unwrap(), expected);

    let existing = PostgresStore::connect_existing(config()).await.unwrap();
    assert_eq!(existing.stored_event_versions().await.unwrap(), expected);
    let refused = existing
        .append(
            &StreamId::new("account-9").unwrap(),
            ExpectedVersion::Any,
            vec![EventData::new("bank.Opened", json!({}))],
        )
        .await;
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(existing.stored_event_versions().await.unwrap(), expected);

    // A role with no privilege on the schema: the store is there all the same, and the
    // error is the database's permission error.
    let role = backends::unique_schema("inv_reader");
    let create = format!("CREATE ROLE {role} NOLOGIN");
    sqlx::query(sqlx::AssertSqlSafe(create))
        .execute(&admin)
        .await
        .unwrap();
    let separator = if url.contains('?') { '&' } else { '?' };
    let as_role = format!("{url}{separator}options[role]={role}");
    let result = async {
        let store =
            PostgresStore::connect_existing(PostgresConfig::new(&as_role).schema(&schema)).await?;
        let read = store.stored_event_versions().await;
        store.pool().close().await;
        read
    }
    .await;
    let drop_role = format!("DROP ROLE {role}");
    sqlx::query(sqlx::AssertSqlSafe(drop_role))
        .execute(&admin)
        .await
        .unwrap();
    let err = result.unwrap_err();
    assert!(
        matches!(&err, StoreError::Database(_)) && err.to_string().contains("permission denied"),
        "{err}"
    );

    let drop = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
    sqlx::query(sqlx::AssertSqlSafe(drop))
        .execute(&admin)
        .await
        .unwrap();
}

fn appends() -> impl Strategy<Value = (Vec<Append>, Vec<usize>)> {
    (
        prop::collection::vec(
            (0..4usize, prop::collection::vec((0..3usize, 1..5u32), 1..6)),
            0..8,
        ),
        prop::collection::vec(0..4usize, 0..2),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Whatever is appended (and deleted), the in-memory and SQLite inventories count it.
    #[test]
    fn inventories_count_what_was_appended((appends, deleted) in appends()) {
        let rt = backends::runtime();
        rt.block_on(async {
            let memory = MemoryStore::new();
            let expected = fill(&memory, &appends, &deleted).await;
            assert_eq!(memory.stored_event_versions(), expected);
            let sqlite = SqliteStore::open_in_memory().await.unwrap();
            assert_eq!(fill(&sqlite, &appends, &deleted).await, expected);
            assert_eq!(sqlite.stored_event_versions().await.unwrap(), expected);
        });
    }
}
