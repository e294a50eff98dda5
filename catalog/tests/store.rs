//! `factum-catalog check --store` on the bank example's store, built the way users build
//! it (running the example): it reports the stored versions of `bank.Deposited`,
//! including the legacy version 1 event, passes the committed catalog, and refuses a
//! catalog that drops the version 1 upcaster. On SQLite always; on PostgreSQL with
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
    let url = match std::env::var("FACTUM_TEST_PG") {
        Ok(url) if !url.is_empty() => url,
        _ if std::env::var_os("CI").is_some() => {
            panic!("bank_postgres_store: FACTUM_TEST_PG is not set, but CI is")
        }
        _ => {
            eprintln!(
                "bank_postgres_store: SKIPPED, needs PostgreSQL: set \
                 FACTUM_TEST_PG=postgres://postgres@127.0.0.1:5432/test"
            );
            return;
        }
    };
    let schema = format!(
        "catalog_check_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
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
