//! `docs/ARCHITECTURE.md` lists every module of `factum` in its module table. This test
//! reads the `mod` declarations under `core/src` and fails when a module is missing from
//! the table or the table names a module that no longer exists, so the map a newcomer
//! reads cannot drift from the tree.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace root")
        .to_path_buf()
}

/// The module path of a source file: `lib.rs` is the root, `a/mod.rs` is `a`, `a/b.rs`
/// is `a::b`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).expect("a file under core/src");
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_owned());
    }
    parts
}

/// The name declared by a line such as `pub(crate) mod lease;` (a module in a file of
/// its own; inline modules such as `mod tests { … }` are not part of the map).
fn declared_module(line: &str) -> Option<&str> {
    let mut line = line.trim();
    // Attributes written on the same line: `#[cfg(test)] mod tests;`.
    while let Some(rest) = line.strip_prefix("#[") {
        line = rest.split_once(']')?.1.trim_start();
    }
    let line = match line.strip_prefix("pub(") {
        Some(rest) => rest.split_once(") ")?.1,
        None => line.strip_prefix("pub ").unwrap_or(line),
    };
    let rest = line.strip_prefix("mod ")?;
    let name = rest.strip_suffix(';')?;
    name.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_')
        .then_some(name)
}

fn source_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("core/src is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            source_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn modules_in_tree() -> BTreeSet<String> {
    let src = repo_root().join("core/src");
    let mut files = Vec::new();
    source_files(&src, &mut files);
    let mut modules = BTreeSet::new();
    for file in files {
        let parent = module_of(&src, &file);
        let text = std::fs::read_to_string(&file).expect("a readable source file");
        for name in text.lines().filter_map(declared_module) {
            let mut path = parent.clone();
            path.push(name.to_owned());
            modules.insert(path.join("::"));
        }
    }
    modules
}

fn modules_in_doc() -> BTreeSet<String> {
    let doc = std::fs::read_to_string(repo_root().join("docs/ARCHITECTURE.md"))
        .expect("docs/ARCHITECTURE.md is readable");
    let section = doc
        .split("## Modules of `factum`")
        .nth(1)
        .expect("ARCHITECTURE.md has a section `## Modules of `factum``");
    let section = section.split("\n## ").next().unwrap_or(section);
    section
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`'))
        .map(|(module, _)| module.to_owned())
        .collect()
}

#[test]
fn the_module_table_names_every_module_and_only_those() {
    let tree = modules_in_tree();
    let doc = modules_in_doc();
    assert!(tree.len() > 30, "found too few modules: {tree:?}");
    let undocumented: Vec<_> = tree.difference(&doc).collect();
    let stale: Vec<_> = doc.difference(&tree).collect();
    assert!(
        undocumented.is_empty() && stale.is_empty(),
        "docs/ARCHITECTURE.md's module table and core/src differ.\n\
         Modules missing from the table: {undocumented:?}\n\
         Rows for modules that do not exist: {stale:?}"
    );
}

#[test]
fn declarations_are_recognised() {
    assert_eq!(declared_module("pub(crate) mod lease;"), Some("lease"));
    assert_eq!(declared_module("    pub mod saga;"), Some("saga"));
    assert_eq!(declared_module("mod tests {"), None);
    assert_eq!(declared_module("// mod old;"), None);
    assert_eq!(declared_module("#[cfg(test)] mod checks;"), Some("checks"));
    assert_eq!(
        declared_module("pub(in crate::store) mod rows;"),
        Some("rows")
    );
    assert_eq!(declared_module("pub use x::mod_y;"), None);
    let src = Path::new("/x/core/src");
    assert_eq!(
        module_of(src, Path::new("/x/core/src/projection/mod.rs")),
        ["projection"]
    );
    assert_eq!(
        module_of(src, Path::new("/x/core/src/projection/lease.rs")),
        ["projection", "lease"]
    );
    assert!(module_of(src, Path::new("/x/core/src/lib.rs")).is_empty());
}
