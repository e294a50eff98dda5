//! `factum-catalog check --store` on the bank example's store, built the way users build
//! it (running the example): it reports the stored versions of `bank.Deposited`,
//! including the legacy version 1 event, passes the committed catalog, and refuses a
//! catalog that drops the version 1 upcaster; in a store another domain shares,
//! `--type-prefix` leaves the other domain's events out. On SQLite always; on PostgreSQL with
//! `FACTUM_TEST_PG` (said and skipped without it, a failure under `CI`).

#![cfg(feature = "store")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use factum_catalog::asyncapi::{to_document, to_yaml};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the catalog crate is in the workspace")
        .to_owned()
}

fn committed_catalog() -> PathBuf {
    workspace().join("examples/bank/catalog/asyncapi.yaml")
}

/// Runs the bank example (`cargo run -p bank -- ARGS`), which fills a store and exits.
fn run_bank(args: &[&str]) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(workspace())
        .args(["run", "-q", "-p", "bank", "--"])
        .args(args)
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "the bank example failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn check(args: &[&str]) -> (Option<i32>, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(env!("CARGO_BIN_EXE_factum-catalog"))
        .arg("check")
        .args(args)
        .output()
        .expect("the CLI runs");
    (
        status.code(),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

/// The table row of `event` at `version`: its stored count and verdict.
fn row(out: &str, event: &str, version: &str) -> Option<(u64, String)> {
    out.lines().find_map(|line| {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [e, v, count, verdict @ ..] if *e == event && *v == version => {
                Some((count.parse().ok()?, verdict.join(" ")))
            }
            _ => None,
        }
    })
}

/// The committed catalog with the `bank.Deposited` upcaster from v1 removed.
fn without_v1_upcaster(dir: &Path) -> String {
    let mut catalog = factum_catalog::read(committed_catalog()).unwrap();
    let deposited = catalog.events.get_mut("bank.Deposited").unwrap();
    assert!(
        deposited.upcasters.remove(&1),
        "the committed catalog has it"
    );
    let path = dir.join("no-upcaster.yaml");
    std::fs::write(&path, to_yaml(&to_document(&catalog)).unwrap()).unwrap();
    path.display().to_string()
}

/// The store passes the committed catalog and is refused by one without the upcaster.
fn passes_and_refuses(store: &[&str], dir: &Path) {
    let catalog = committed_catalog().display().to_string();
    let mut args = store.to_vec();
    args.push(&catalog);
    let (code, out, err) = check(&args);
    println!("{out}");
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert_eq!(
        row(&out, "bank.Deposited", "v1"),
        Some((1, "ok (upcast v1→v2)".to_owned())),
        "{out}"
    );
    let (v2, verdict) = row(&out, "bank.Deposited", "v2").expect("v2 deposits");
    assert!(v2 >= 1 && verdict == "ok (current)", "{out}");
    assert!(out.contains("readable:"), "{out}");

    let dropped = without_v1_upcaster(dir);
    let mut args = store.to_vec();
    args.push(&dropped);
    let (code, out, err) = check(&args);
    println!("{out}");
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert!(
        out.contains(
            "bank.Deposited v1: no upcaster from v1 to v2: keep the upcaster from v1, 1 stored \
             event needs it"
        ),
        "{out}"
    );
    assert_eq!(
        row(&out, "bank.Deposited", "v2").map(|r| r.1).as_deref(),
        Some("ok (current)"),
        "{out}"
    );
    assert!(out.contains("refused:"), "{out}");
}

#[test]
fn bank_sqlite_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bank.sqlite");
    run_bank(&["--db", db.to_str().unwrap()]);
    let file = db.display().to_string();
    passes_and_refuses(&["--store", &file], dir.path());
    let url = format!("sqlite:{file}");
    passes_and_refuses(&["--store", &url], dir.path());

    // Both checks at once: the committed catalog against itself and the store.
    let catalog = committed_catalog().display().to_string();
    let (code, out, _) = check(&["--baseline", &catalog, "--store", &file, &catalog]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("compatible:") && out.contains("readable:"),
        "{out}"
    );
}

/// A store another domain shares: its events are unknown types to the bank's catalog,
/// unless --type-prefix leaves them out (counted as skipped); a bank type the catalog
/// dropped is still refused.
#[test]
fn a_shared_store_with_type_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared.sqlite");
    run_bank(&["--db", db.to_str().unwrap()]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        use factum::EventStore;
        let store = factum::SqliteStore::open(&db).await.unwrap();
        let stream = factum::StreamId::new("order-1").unwrap();
        let events = vec![
            factum::EventData::new("shop.Ordered", serde_json::json!({})),
            factum::EventData::new("shop.Ordered", serde_json::json!({})),
        ];
        store
            .append(&stream, factum::ExpectedVersion::NoStream, events)
            .await
            .unwrap();
    });
    let file = db.display().to_string();
    let catalog = committed_catalog().display().to_string();

    let (code, out, err) = check(&["--store", &file, &catalog]);
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert!(
        out.contains("shop.Ordered v1: the catalog has no event type shop.Ordered"),
        "{out}"
    );

    let (code, out, err) = check(&["--store", &file, "--type-prefix", "bank.", &catalog]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(
        out.contains("(skipped: 2 stored event(s) of 1 type(s) not starting with bank.)"),
        "{out}"
    );
    assert!(!out.contains("shop.Ordered"), "{out}");
    assert_eq!(
        row(&out, "bank.Deposited", "v1"),
        Some((1, "ok (upcast v1→v2)".to_owned())),
        "{out}"
    );

    // A dropped bank upcaster is refused with the prefix; with one no stored type has,
    // nothing is judged.
    let dropped = without_v1_upcaster(dir.path());
    let (code, out, _) = check(&["--store", &file, "--type-prefix", "bank.", &dropped]);
    assert_eq!(code, Some(1), "{out}");
    let (code, out, _) = check(&["--store", &file, "--type-prefix", "nothing.", &dropped]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("(none of the stored event types starts with nothing.)"),
        "{out}"
    );

    // --type-prefix is for --store.
    let (code, _, err) = check(&["--baseline", &catalog, "--type-prefix", "bank.", &catalog]);
    assert_eq!(code, Some(2), "{err}");
}

#[test]
fn a_missing_store_is_an_error_and_is_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere.sqlite");
    let catalog = committed_catalog().display().to_string();
    let (code, out, err) = check(&["--store", missing.to_str().unwrap(), &catalog]);
    assert_eq!(code, Some(2), "{out}\n{err}");
    assert!(
        err.contains("no Factum event store") && err.contains("does not exist"),
        "{err}"
    );
    assert!(!missing.exists(), "the check created the file");

    // --schema is for PostgreSQL; --baseline or --store is needed.
    let (code, _, err) = check(&[
        "--store",
        missing.to_str().unwrap(),
        "--schema",
        "bank",
        &catalog,
    ]);
    assert_eq!(code, Some(2), "{err}");
    let (code, _, err) = check(&[&catalog]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--baseline"), "{err}");
}

#[test]
fn bank_postgres_store() {
    let Some(url) = factum_tests::backends::pg_url("bank_postgres_store") else {
        return;
    };
    let schema = factum_tests::backends::unique_schema("catalog_check");
    let dir = tempfile::tempdir().unwrap();
    let catalog = committed_catalog().display().to_string();

    // No store in that schema yet: an error, and nothing created.
    let (code, out, err) = check(&["--store", &url, "--schema", &schema, &catalog]);
    assert_eq!(code, Some(2), "{out}\n{err}");
    assert!(err.contains("no Factum event store"), "{err}");

    run_bank(&["--db", &url, "--schema", &schema]);
    passes_and_refuses(&["--store", &url, "--schema", &schema], dir.path());
    let with_param = if url.contains('?') {
        format!("{url}&schema={schema}")
    } else {
        format!("{url}?schema={schema}")
    };
    passes_and_refuses(&["--store", &with_param], dir.path());

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        let drop = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
        sqlx::query(sqlx::AssertSqlSafe(drop))
            .execute(&pool)
            .await
            .unwrap();
    });
}
