//! The `factum-catalog` command: `check` exits non-zero naming each breaking change with
//! its path and why, `diff` prints a changelog, `render` writes the HTML page, `export`
//! writes EventCatalog content, and a file that is not a catalog gets a message that says
//! so.

use std::path::Path;
use std::process::{Command, Output};

use factum_catalog::asyncapi::{to_document, to_yaml};
use factum_catalog::{Catalog, EventEntry};
use serde_json::json;

fn catalog(version: &str, entries: Vec<EventEntry>) -> Catalog {
    Catalog {
        title: "shop".into(),
        version: version.into(),
        events: entries.into_iter().map(|e| (e.name.clone(), e)).collect(),
        ..Catalog::default()
    }
}

fn write(dir: &Path, name: &str, catalog: &Catalog) -> String {
    let path = dir.join(name);
    std::fs::write(&path, to_yaml(&to_document(catalog)).unwrap()).unwrap();
    path.display().to_string()
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_factum-catalog"))
        .args(args)
        .output()
        .expect("the CLI runs")
}

fn ordered(required: &[&str]) -> EventEntry {
    let props: serde_json::Map<String, serde_json::Value> = required
        .iter()
        .map(|f| ((*f).to_owned(), json!({ "type": "string" })))
        .collect();
    EventEntry::new(
        "shop.Ordered",
        1,
        json!({ "type": "object", "properties": props, "required": required }),
    )
}

#[test]
fn check_diff_and_render() {
    let dir = tempfile::tempdir().unwrap();
    let old = write(
        dir.path(),
        "old.yaml",
        &catalog("1.0.0", vec![ordered(&["sku"])]),
    );
    let same = write(
        dir.path(),
        "same.yaml",
        &catalog("1.0.1", vec![ordered(&["sku"])]),
    );
    let broken = write(
        dir.path(),
        "new.yaml",
        &catalog("1.1.0", vec![ordered(&["sku", "currency"])]),
    );

    let ok = run(&["check", "--baseline", &old, &same]);
    assert_eq!(ok.status.code(), Some(0), "{ok:?}");
    assert!(String::from_utf8_lossy(&ok.stdout).starts_with("compatible"));

    let bad = run(&["check", "--baseline", &old, &broken]);
    assert_eq!(bad.status.code(), Some(1), "{bad:?}");
    let out = String::from_utf8_lossy(&bad.stdout);
    assert!(out.contains("1 breaking change"), "{out}");
    assert!(
        out.contains("shop.Ordered v1.currency: a required field was added without a default"),
        "{out}"
    );

    let diff = run(&["diff", &old, &broken]);
    let out = String::from_utf8_lossy(&diff.stdout);
    assert!(
        out.contains("shop.Ordered v1: payload changed in place (BREAKING)"),
        "{out}"
    );

    let html = dir.path().join("catalog.html");
    let render = run(&["render", &old, "-o", html.to_str().unwrap()]);
    assert_eq!(render.status.code(), Some(0), "{render:?}");
    assert!(
        std::fs::read_to_string(&html)
            .unwrap()
            .contains("shop.Ordered")
    );

    std::fs::write(dir.path().join("other.yaml"), "asyncapi: 2.6.0\ninfo: {}\n").unwrap();
    let other = dir.path().join("other.yaml").display().to_string();
    let refused = run(&["check", "--baseline", &other, &old]);
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("not a Factum event catalog") && err.contains("2.6.0"),
        "{err}"
    );
}

#[test]
fn export_writes_eventcatalog_content() {
    let dir = tempfile::tempdir().unwrap();
    let mut v2 = ordered(&["sku"]);
    v2.version = 2;
    v2.schemas.insert(2, json!({ "type": "object" }));
    v2.upcasters.insert(1);
    let catalog = write(dir.path(), "catalog.yaml", &catalog("1.0.0", vec![v2]));
    let out = dir.path().join("eventcatalog");

    let export = run(&["export", "--eventcatalog", out.to_str().unwrap(), &catalog]);
    assert_eq!(export.status.code(), Some(0), "{export:?}");
    assert!(
        String::from_utf8_lossy(&export.stdout).starts_with("wrote 5 EventCatalog file(s)"),
        "{export:?}"
    );
    let page = std::fs::read_to_string(out.join("events/shop.Ordered/index.mdx")).unwrap();
    assert!(page.contains("version: '2'"), "{page}");
    let old =
        std::fs::read_to_string(out.join("events/shop.Ordered/versioned/1/index.mdx")).unwrap();
    assert!(old.contains("version: '1'"), "{old}");

    let help = run(&["export", "--help"]);
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        text.contains("--eventcatalog <DIR>")
            && text.contains("versioned/<n>/")
            && text.contains("--force")
            && text.contains("several catalogs"),
        "{text}"
    );

    // A page the export did not write is refused, and nothing is written; --force
    // overwrites it.
    let theirs = out.join("events/shop.Paid/index.mdx");
    std::fs::create_dir_all(theirs.parent().unwrap()).unwrap();
    std::fs::write(&theirs, "ours").unwrap();
    let mut paid = ordered(&["sku"]);
    paid.name = "shop.Paid".into();
    let both = write(
        dir.path(),
        "both.yaml",
        &crate::catalog("1.1.0", vec![ordered(&["sku"]), paid]),
    );
    let refused = run(&["export", "--eventcatalog", out.to_str().unwrap(), &both]);
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("events/shop.Paid/index.mdx") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&theirs).unwrap(), "ours");
    let forced = run(&[
        "export",
        "--eventcatalog",
        out.to_str().unwrap(),
        "--force",
        &both,
    ]);
    assert_eq!(forced.status.code(), Some(0), "{forced:?}");
    assert!(std::fs::read_to_string(&theirs).unwrap().starts_with("---"));

    // Another domain's catalog beside it leaves the first one's files alone.
    let mut billing = crate::catalog("1.0.0", vec![]);
    billing.title = "billing".into();
    billing.events.insert(
        "billing.Invoiced".into(),
        EventEntry::new("billing.Invoiced", 1, json!({ "type": "object" })),
    );
    let billing = write(dir.path(), "billing.yaml", &billing);
    let second = run(&["export", "--eventcatalog", out.to_str().unwrap(), &billing]);
    assert_eq!(second.status.code(), Some(0), "{second:?}");
    for page in [
        "events/billing.Invoiced/index.mdx",
        "events/shop.Ordered/index.mdx",
        "events/shop.Paid/index.mdx",
        "domains/shop/index.mdx",
    ] {
        assert!(out.join(page).exists(), "{page}");
    }

    let missing = run(&["export", &catalog]);
    assert_eq!(missing.status.code(), Some(2), "{missing:?}");
}
