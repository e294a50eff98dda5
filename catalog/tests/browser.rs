//! The HTML catalog in a real browser (headless Chromium): the search box filters the
//! events and the list, says when nothing matches, every link to an event or a version
//! lands on its section, events with several versions show them side by side, and each
//! category's flow diagram is drawn. Run on the bank example's committed catalog.
//!
//! Chromium comes from Debian's `chromium` package (`.ci/run` installs it). Without it
//! the test says so and passes, except under CI, where it fails.

use std::path::{Path, PathBuf};
use std::process::Command;

use factum_catalog::asyncapi::{from_document, parse};
use factum_catalog::render_html;
use serde_json::Value;

/// Runs in the page after its own script: drives the search box as a user would and
/// writes what it saw into `<body data-report>`.
const PROBE: &str = r##"<script>
{
const input = document.getElementById('search');
const visible = () => [...document.querySelectorAll('article.event')].filter(a => !a.hidden).map(a => a.dataset.name);
const listed = () => [...document.querySelectorAll('nav li')].filter(l => !l.hidden).map(l => l.dataset.name);
const search = q => { input.value = q; input.dispatchEvent(new Event('input', { bubbles: true })); };
const report = { all: visible().length };
search('deposit');
report.deposit = visible();
report.listedDeposit = listed();
search('no-such-event');
report.none = visible().length;
report.nothingShown = !document.getElementById('nothing').hidden;
search('');
report.reset = visible().length;
const targets = [...document.querySelectorAll('a[href^="#"]')].map(a => decodeURIComponent(a.getAttribute('href').slice(1)));
report.links = targets.length;
report.broken = targets.filter(id => !document.getElementById(id));
report.versionLinks = new Set(targets.filter(id => /\.v\d+$/.test(id))).size;
report.sideBySide = [...document.querySelectorAll('table.side-by-side')].map(t => ({
  event: t.closest('article').dataset.name,
  columns: t.querySelectorAll('thead th').length - 1,
  shown: t.getBoundingClientRect().width > 0,
}));
report.flows = [...document.querySelectorAll('section.flow')].map(s => {
  const svg = s.querySelector('svg');
  const box = svg.getBBox();
  return {
    category: s.dataset.category,
    events: svg.querySelectorAll('g.node.event').length,
    consumers: svg.querySelectorAll('g.node.consumer').length,
    edges: svg.querySelectorAll('line.edge').length,
    width: box.width,
    height: box.height,
  };
});
document.body.setAttribute('data-report', JSON.stringify(report));
}
</script>
</body>"##;

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join(name))
                    .find(|path| path.is_file())
            })
        })
}

/// The page's DOM after its scripts ran.
fn dump_dom(browser: &Path, page: &Path) -> String {
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run Chromium");
    assert!(
        output.status.success(),
        "Chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The JSON the probe wrote into `data-report` (HTML-escaped in the dump).
fn report(dom: &str) -> Value {
    let start = dom.find("data-report=\"").expect("the probe ran") + "data-report=\"".len();
    let end = start + dom[start..].find('"').unwrap();
    let json = dom[start..end]
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    serde_json::from_str(&json).unwrap()
}

#[test]
fn search_filters_and_every_link_lands() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "Chromium is needed in CI: apt-get install chromium"
        );
        eprintln!("SKIPPED, needs Chromium: apt-get install chromium");
        return;
    };
    let yaml = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/bank/catalog/asyncapi.yaml"),
    )
    .unwrap();
    let catalog = from_document(&parse(&yaml).unwrap()).unwrap();
    let html = render_html(&catalog).replace("</body>", PROBE);
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("catalog.html");
    std::fs::write(&page, html).unwrap();

    let report = report(&dump_dom(&browser, &page));
    let events = catalog.events.len() as u64;
    assert_eq!(report["all"], events, "{report}");
    let deposit: Vec<&str> = report["deposit"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(deposit.contains(&"bank.Deposited"), "{report}");
    assert!(
        deposit
            .iter()
            .all(|name| name.to_lowercase().contains("deposit")),
        "{report}"
    );
    assert!(
        report["listedDeposit"].as_array().unwrap().iter().all(|n| n
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("deposit")),
        "{report}"
    );
    assert_eq!(report["none"], 0, "{report}");
    assert_eq!(report["nothingShown"], true, "{report}");
    assert_eq!(report["reset"], events, "{report}");
    assert_eq!(report["broken"], serde_json::json!([]), "{report}");
    let versions: u64 = catalog
        .events
        .values()
        .map(|e| e.schemas.len() as u64)
        .sum();
    assert_eq!(report["versionLinks"], versions, "{report}");
    // Each event with more than one version shows them side by side, a column each.
    let compared: Vec<Value> = catalog
        .events
        .values()
        .filter(|e| e.schemas.len() > 1)
        .map(|e| serde_json::json!({ "event": e.name, "columns": e.schemas.len(), "shown": true }))
        .collect();
    assert!(!compared.is_empty(), "bank.Deposited has two versions");
    assert_eq!(report["sideBySide"], Value::from(compared), "{report}");
    // One flow diagram per category, drawn (a laid-out box), with a node per event and
    // per consumer and at least an edge per event.
    let flows = report["flows"].as_array().unwrap();
    assert_eq!(flows.len(), catalog.categories.len(), "{report}");
    for flow in flows {
        let name = flow["category"].as_str().unwrap();
        let category = &catalog.categories[name];
        assert_eq!(flow["events"], category.events.len() as u64, "{flow}");
        let consumers = catalog
            .consumers
            .iter()
            .filter(|c| c.events.iter().any(|e| category.events.contains(e)))
            .count();
        assert!(consumers > 0, "the bank's events have consumers");
        assert_eq!(flow["consumers"], consumers as u64, "{flow}");
        assert!(
            flow["edges"].as_u64().unwrap() >= category.events.len() as u64,
            "{flow}"
        );
        assert!(flow["width"].as_f64().unwrap() > 100.0, "{flow}");
        assert!(flow["height"].as_f64().unwrap() > 50.0, "{flow}");
    }
}
