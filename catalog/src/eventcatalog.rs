//! The catalog as the content of an [EventCatalog](https://www.eventcatalog.dev) project,
//! in EventCatalog's own folder layout, so that teams who browse EventCatalog see Factum's
//! events with their whole version history, without an AsyncAPI generator plugin.
//!
//! What [`export_eventcatalog`] writes into a directory (and nothing else, bar its
//! manifest):
//!
//! - `events/<id>/index.mdx`: each event at its current version, with `schema.json` (the
//!   payload's JSON Schema) beside it. The front matter holds the id, the name (the
//!   stored type name), the version as a string (`"2"`: the schema version), a summary
//!   that is a whole sentence, badges, the deprecation and `schemaPath`. The page names
//!   the Rust type, the stream categories, the upcasters (`v1 → v2`), every version, and
//!   a deprecated event's schedule (since, sunset, replacement as a link);
//! - `events/<id>/versioned/<n>/index.mdx` and its `schema.json`: each older version the
//!   catalog remembers, so `versioned/1/` holds version 1 when the code writes version 2;
//! - `services/<id>/index.mdx`: the producers and consumers. Each stream category is a
//!   service (`streams.account`) that `sends` the current version of each event its
//!   aggregate appends; each projection (`projection.bank_views-v1`) and process manager
//!   (`process-manager.transfers`) `receives` the current version of each event it
//!   handles (older versions reach it upcast). EventCatalog draws the producers and
//!   consumers of each event from these lists;
//! - `domains/<id>/index.mdx`: the domain (the catalog's title), listing the services.
//!
//! **Ids.** EventCatalog puts ids in paths and URLs (`/docs/events/bank.Deposited/2`). A
//! name keeps its ASCII letters, digits, `_`, `-` and `.` (not as its first character);
//! any other character becomes `-`. So `bank.Deposited` stays `bank.Deposited`, and the
//! projection `bank_views@v1` becomes `projection.bank_views-v1`. An id depends on its
//! name alone, so it is the same in every export. Two names whose ids are equal, or equal
//! but for case (`bank.Deposited` and `bank.deposited` share one folder on macOS and
//! Windows), are refused.
//!
//! **Sharing a project.** The directory may be a whole EventCatalog project, and several
//! catalogs (one per domain) may be exported into it. Each export records the files it
//! wrote in a manifest of its own catalog, `.factum-eventcatalog/<domain id>` (see
//! [`MANIFESTS`]). An export:
//!
//! - refuses, before writing anything, to overwrite a file that exists and is not in its
//!   catalog's manifest: a team's own page, a page of another catalog's export or of
//!   EventCatalog's AsyncAPI generator ([`CatalogError::WouldOverwrite`], naming it).
//!   With [`Overwrite::Force`] it overwrites such files and lists them in its manifest,
//!   so that they are its own from then on;
//! - removes the files in its catalog's manifest that it no longer writes (the pages of
//!   events, versions and services that are gone, and the folders they leave empty), so
//!   a re-export never leaves a stale page. A file another catalog's manifest lists
//!   stays.
//!
//! Every other file in the directory, another catalog's export included, is left alone.
//! The same catalog always gives the same bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use serde_json::Value;
use yaml_serde::{Mapping, Value as Yaml};

use crate::asyncapi::summary;
use crate::compat::is_date;
use crate::error::CatalogError;
use crate::model::{Catalog, Category, Consumer, ConsumerKind, EventEntry};
use crate::schema::example;

/// The folder, in the export directory, of the exports' manifests: one file per catalog,
/// named by its domain id (`.factum-eventcatalog/bank`), that holds the catalog's title
/// (a first line `# title: "bank"`) and then the paths of the files its last export
/// wrote, relative to the export directory, one a line.
pub const MANIFESTS: &str = ".factum-eventcatalog";

/// The manifest of a catalog without a title (no domain id starts with `.`).
const UNTITLED: &str = ".untitled";

/// The start of a manifest's first line, before the title as a JSON string.
const TITLE: &str = "# title: ";

/// The service id prefix of a stream category (the producer of its events).
const STREAMS: &str = "streams";

/// What [`export_eventcatalog`] does about a file it would write that exists and that no
/// earlier export of the same catalog wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Overwrite {
    /// Refuse the whole export with [`CatalogError::WouldOverwrite`], writing nothing.
    #[default]
    Refuse,
    /// Overwrite the file, and list it in the catalog's manifest, so that a later export
    /// that no longer writes it removes it.
    Force,
}

/// Writes `catalog` into `dir` (created if missing) in EventCatalog's content layout (see
/// the [module docs](self)), removes the files its previous export wrote that this one no
/// longer writes, and returns the paths of the files written, sorted.
///
/// Refuses, before writing anything, if a file it would write exists and is not in the
/// catalog's manifest, unless `overwrite` is [`Overwrite::Force`].
pub fn export_eventcatalog(
    catalog: &Catalog,
    dir: impl AsRef<Path>,
    overwrite: Overwrite,
) -> Result<Vec<PathBuf>, CatalogError> {
    let dir = dir.as_ref();
    let files = eventcatalog_files(catalog)?;
    let folder = dir.join(MANIFESTS);
    // The first version of the export kept one manifest for the whole directory, in a
    // file where the folder now is. What it lists counts as written by this catalog's
    // export (so it is not refused), but none of it is removed: it may be another
    // catalog's.
    let legacy = std::fs::metadata(&folder).is_ok_and(|m| m.is_file());
    let earlier = if legacy {
        read_manifest(&folder)?.unwrap_or_default()
    } else {
        Manifest::default()
    };
    let key = resource_id(&catalog.title).unwrap_or_else(|| UNTITLED.to_owned());
    let manifest = folder.join(&key);
    let (previous, others) = if legacy {
        (Manifest::default(), BTreeSet::new())
    } else {
        let previous = read_manifest(&manifest)?.unwrap_or_default();
        (previous, other_manifests(&folder, &key)?)
    };
    if let Some(title) = previous.title.as_ref().filter(|t| **t != catalog.title) {
        return Err(CatalogError::Write(format!(
            "{} lists the files of the catalog `{title}`, whose EventCatalog domain id is \
             that of `{}` on this file system; give one of them another title",
            manifest.display(),
            catalog.title
        )));
    }

    let clashes: Vec<PathBuf> = files
        .keys()
        .filter(|relative| {
            !previous.files.contains(*relative) && !earlier.files.contains(*relative)
        })
        .map(|relative| dir.join(relative))
        .filter(|path| std::fs::symlink_metadata(path).is_ok())
        .collect();
    if let (Some(path), Overwrite::Refuse) = (clashes.first(), overwrite) {
        return Err(CatalogError::WouldOverwrite {
            path: path.clone(),
            others: clashes.len() - 1,
        });
    }

    let mut written = Vec::with_capacity(files.len());
    for (relative, content) in &files {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&path, content).map_err(io(&path))?;
        written.push(path);
    }
    for stale in previous.files.iter() {
        if !files.contains_key(stale) && !others.contains(stale) {
            remove_stale(dir, stale).map_err(io(&dir.join(stale)))?;
        }
    }
    if legacy {
        std::fs::remove_file(&folder).map_err(io(&folder))?;
    }
    std::fs::create_dir_all(&folder).map_err(io(&folder))?;
    let mut listing = String::new();
    let title = serde_json::to_string(&catalog.title).map_err(|e| {
        CatalogError::Write(format!("the title of the catalog `{}`: {e}", catalog.title))
    })?;
    let _ = writeln!(listing, "{TITLE}{title}");
    for relative in files.keys() {
        let _ = writeln!(listing, "{relative}");
    }
    std::fs::write(&manifest, listing).map_err(io(&manifest))?;
    Ok(written)
}

/// The [`CatalogError::Io`] of a failed operation on `path`.
fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CatalogError {
    let path = path.to_owned();
    move |source| CatalogError::Io { path, source }
}

/// What one catalog's previous export wrote.
#[derive(Default)]
struct Manifest {
    /// The catalog's title, if the manifest names it.
    title: Option<String>,
    /// The files, relative to the export directory.
    files: BTreeSet<String>,
}

/// The manifest at `path`; `None` if there is none.
fn read_manifest(path: &Path) -> Result<Option<Manifest>, CatalogError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(path)(e)),
    };
    let mut manifest = Manifest::default();
    for line in text.lines() {
        if let Some(title) = line.strip_prefix(TITLE) {
            manifest.title = serde_json::from_str(title).ok();
        } else if !line.is_empty() && !line.starts_with('#') {
            manifest.files.insert(line.to_owned());
        }
    }
    Ok(Some(manifest))
}

/// The files that the manifests in `folder` other than `key`'s list.
fn other_manifests(folder: &Path, key: &str) -> Result<BTreeSet<String>, CatalogError> {
    let entries = match std::fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeSet::new()),
        Err(e) => return Err(io(folder)(e)),
    };
    let mut files = BTreeSet::new();
    for entry in entries {
        let entry = entry.map_err(io(folder))?;
        let path = entry.path();
        if entry.file_name() == key || !path.is_file() {
            continue;
        }
        if let Some(manifest) = read_manifest(&path)? {
            files.extend(manifest.files);
        }
    }
    Ok(files)
}

/// Removes one file an earlier export wrote, and the folders it leaves empty. A line of
/// the manifest that is not a plain relative path (someone edited it) is left alone.
fn remove_stale(dir: &Path, relative: &str) -> std::io::Result<()> {
    let path = Path::new(relative);
    if relative.is_empty() || !path.components().all(|c| matches!(c, Component::Normal(_))) {
        return Ok(());
    }
    match std::fs::remove_file(dir.join(path)) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    // Folders that still hold something (a page the team added) stay.
    let mut folder = path.parent();
    while let Some(f) = folder.filter(|f| !f.as_os_str().is_empty()) {
        if std::fs::remove_dir(dir.join(f)).is_err() {
            break;
        }
        folder = f.parent();
    }
    Ok(())
}

/// The files of the export, by path relative to the export directory (`/`-separated),
/// with their contents: what [`export_eventcatalog`] writes, without touching the disk.
/// An event's id and name are its key in [`Catalog::events`].
pub fn eventcatalog_files(catalog: &Catalog) -> Result<BTreeMap<String, String>, CatalogError> {
    let ids = Ids::of(catalog)?;
    let mut files = BTreeMap::new();
    for (name, entry) in &catalog.events {
        let event = Event {
            id: ids.event(name)?,
            name,
            entry,
        };
        let folder = format!("events/{}", event.id);
        files.insert(
            format!("{folder}/index.mdx"),
            event_page(catalog, &ids, &event, entry.version)?,
        );
        for (version, schema) in &entry.schemas {
            let at = if *version == entry.version {
                folder.clone()
            } else {
                let versioned = format!("{folder}/versioned/{version}");
                files.insert(
                    format!("{versioned}/index.mdx"),
                    event_page(catalog, &ids, &event, *version)?,
                );
                versioned
            };
            files.insert(
                format!("{at}/schema.json"),
                pretty(schema, &format!("the schema of {name} version {version}"))?,
            );
        }
    }
    for (name, category) in &catalog.categories {
        let id = ids.category(name)?;
        files.insert(
            format!("services/{id}/index.mdx"),
            producer_page(catalog, &ids, id, name, category)?,
        );
    }
    for consumer in &catalog.consumers {
        let id = ids.consumer(consumer)?;
        files.insert(
            format!("services/{id}/index.mdx"),
            consumer_page(catalog, &ids, id, consumer)?,
        );
    }
    if let Some(domain) = resource_id(&catalog.title) {
        files.insert(
            format!("domains/{domain}/index.mdx"),
            domain_page(catalog, &ids, &domain)?,
        );
    }
    Ok(files)
}

/// The EventCatalog id of a name: its ASCII letters, digits, `_`, `-`, and `.` other than
/// as the first character, kept; every other character `-`. `None` for an empty name.
pub fn resource_id(name: &str) -> Option<String> {
    if name.is_empty() {
        return None;
    }
    let id = name
        .chars()
        .enumerate()
        .map(|(i, c)| {
            let kept = c.is_ascii_alphanumeric() || c == '_' || c == '-' || (c == '.' && i > 0);
            if kept { c } else { '-' }
        })
        .collect();
    Some(id)
}

/// The EventCatalog service id of a stream category or a consumer: its kind, a dot, and
/// the [`resource_id`] of its name (`streams.account`, `projection.bank_views-v1`).
fn service_id(kind: &str, name: &str) -> Result<String, CatalogError> {
    let id = resource_id(name)
        .ok_or_else(|| CatalogError::Write(format!("a {kind} has an empty name")))?;
    Ok(format!("{kind}.{id}"))
}

/// An event of the catalog: its id, its name (its key in [`Catalog::events`]) and entry.
struct Event<'a> {
    id: &'a str,
    name: &'a str,
    entry: &'a EventEntry,
}

/// Every resource's id, checked to be unique, whatever the case, within the export.
struct Ids {
    /// By the event's key in [`Catalog::events`].
    events: BTreeMap<String, String>,
    categories: BTreeMap<String, String>,
    consumers: BTreeMap<(ConsumerKind, String), String>,
}

impl Ids {
    fn of(catalog: &Catalog) -> Result<Self, CatalogError> {
        // By the id in lower case: ids that differ only in case share a folder on macOS
        // and Windows.
        let mut taken: BTreeMap<String, (String, String)> = BTreeMap::new();
        let mut claim = |id: String, what: String| match taken.get(&id.to_ascii_lowercase()) {
            Some((other_id, other)) if *other_id == id => Err(CatalogError::Write(format!(
                "{other} and {what} would both have the EventCatalog id `{id}`"
            ))),
            Some((other_id, other)) => Err(CatalogError::Write(format!(
                "{other} and {what} would have the EventCatalog ids `{other_id}` and `{id}`, \
                 which differ only in case and so share one folder on macOS and Windows"
            ))),
            None => {
                taken.insert(id.to_ascii_lowercase(), (id.clone(), what));
                Ok(id)
            }
        };
        let mut events = BTreeMap::new();
        for name in catalog.events.keys() {
            let id = resource_id(name)
                .ok_or_else(|| CatalogError::Write("an event has an empty name".into()))?;
            events.insert(name.clone(), claim(id, format!("the event `{name}`"))?);
        }
        // Services share one collection; their kind prefix keeps kinds apart.
        let mut categories = BTreeMap::new();
        for name in catalog.categories.keys() {
            let id = service_id(STREAMS, name)?;
            categories.insert(
                name.clone(),
                claim(id, format!("the stream category `{name}`"))?,
            );
        }
        let mut consumers = BTreeMap::new();
        for c in &catalog.consumers {
            let kind = c.kind.as_str();
            let id = service_id(kind, &c.name)?;
            let what = format!("the {} `{}`", kind.replace('-', " "), c.name);
            consumers.insert((c.kind, c.name.clone()), claim(id, what)?);
        }
        Ok(Ids {
            events,
            categories,
            consumers,
        })
    }

    /// The id of the event whose key in [`Catalog::events`] is `name`.
    fn event(&self, name: &str) -> Result<&str, CatalogError> {
        self.events
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| unknown(&format!("the event `{name}`")))
    }

    fn category(&self, name: &str) -> Result<&str, CatalogError> {
        self.categories
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| unknown(&format!("the stream category `{name}`")))
    }

    fn consumer(&self, consumer: &Consumer) -> Result<&str, CatalogError> {
        self.consumers
            .get(&(consumer.kind, consumer.name.clone()))
            .map(String::as_str)
            .ok_or_else(|| {
                unknown(&format!(
                    "the {} `{}`",
                    consumer.kind.as_str(),
                    consumer.name
                ))
            })
    }
}

/// A resource [`Ids::of`] gave no id (it gives every resource one).
fn unknown(what: &str) -> CatalogError {
    CatalogError::Write(format!("{what} has no EventCatalog id"))
}

/// An MDX document: YAML front matter, then the body.
fn document(front: Mapping, body: &str) -> Result<String, CatalogError> {
    let id = front
        .get("id")
        .and_then(Yaml::as_str)
        .unwrap_or_default()
        .to_owned();
    let yaml = yaml_serde::to_string(&Yaml::Mapping(front)).map_err(|e| {
        CatalogError::Write(format!(
            "the front matter of the EventCatalog page of `{id}`: {e}"
        ))
    })?;
    Ok(format!("---\n{yaml}---\n\n{body}"))
}

/// Front matter in the order it is written.
struct Front(Mapping);

impl Front {
    fn new(id: &str, name: &str, version: &str, summary: String) -> Self {
        let mut front = Front(Mapping::new());
        front.set("id", id);
        front.set("name", name);
        front.set("version", version);
        front.set("summary", summary);
        front
    }

    fn set(&mut self, key: &str, value: impl Into<Yaml>) {
        self.0.insert(Yaml::from(key), value.into());
    }
}

/// A badge as EventCatalog draws it.
fn badge(content: &str, color: &str) -> Yaml {
    let mut badge = Mapping::new();
    badge.insert("content".into(), content.into());
    badge.insert("backgroundColor".into(), color.into());
    badge.insert("textColor".into(), color.into());
    Yaml::Mapping(badge)
}

/// A `{ id, version }` pointer of a service's `sends`/`receives` or a domain's `services`.
fn pointer(id: &str, version: &str) -> Yaml {
    let mut pointer = Mapping::new();
    pointer.insert("id".into(), id.into());
    pointer.insert("version".into(), version.into());
    Yaml::Mapping(pointer)
}

/// Pointers to the current version of each of `events` that the catalog has.
fn current_versions(catalog: &Catalog, ids: &Ids, events: &BTreeSet<String>) -> Vec<Yaml> {
    events
        .iter()
        .filter_map(|name| Some((ids.events.get(name)?, catalog.events.get(name)?)))
        .map(|(id, e)| pointer(id, &e.version.to_string()))
        .collect()
}

/// The version services and the domain carry: the domain crate's.
fn crate_version(catalog: &Catalog) -> &str {
    if catalog.version.is_empty() {
        "1"
    } else {
        &catalog.version
    }
}

/// The page of one version of an event: the event's own page at its current version, a
/// `versioned/<n>/` page at an older one.
fn event_page(
    catalog: &Catalog,
    ids: &Ids,
    event: &Event<'_>,
    version: u32,
) -> Result<String, CatalogError> {
    let Event { id, name, entry } = *event;
    let current = version == entry.version;
    let history = if current {
        entry.description.as_deref().and_then(summary)
    } else {
        None
    };
    let sentence = history.unwrap_or_else(|| {
        if current {
            format!("The event {name}, at schema version {version}.")
        } else {
            format!(
                "Version {version} of {name}, as stored by earlier code; the code writes version {} today.",
                entry.version
            )
        }
    });
    let mut front = Front::new(id, name, &version.to_string(), sentence);
    let mut badges = Vec::new();
    if current && entry.deprecated.is_some() {
        badges.push(badge("Deprecated", "red"));
    }
    if !current {
        badges.push(badge(&format!("Superseded by v{}", entry.version), "gray"));
    }
    if !badges.is_empty() {
        front.set("badges", badges);
    }
    if current && entry.deprecated.is_some() {
        front.set("deprecated", deprecation(entry));
    }
    front.set("schemaPath", "schema.json");

    let mut body = String::new();
    if current {
        if let Some(description) = &entry.description {
            let _ = writeln!(body, "{}\n", mdx_text(description));
        }
    } else {
        let _ = writeln!(
            body,
            "Version {version} of {}, as stored by earlier code. The code writes version {} today; {}\n",
            code(name),
            entry.version,
            if entry.lifts_from(version) {
                "events stored at this version are read through the upcasters below."
            } else {
                "no chain of upcasters lifts events stored at this version to it."
            }
        );
    }
    body.push_str("## In Factum\n\n");
    let _ = writeln!(body, "- Stored type name: {}", code(name));
    if let Some(rust_type) = &entry.rust_type {
        let _ = writeln!(body, "- Rust type: {}", code(rust_type));
    }
    let _ = writeln!(
        body,
        "- Schema version: {version}{}",
        if current {
            " (current: what the code writes today)"
        } else {
            ""
        }
    );
    let streams: Vec<String> = catalog
        .categories_of(name)
        .map(|c| code(&format!("{c}-{{id}}")))
        .collect();
    if !streams.is_empty() {
        let _ = writeln!(body, "- Streams: {}", streams.join(", "));
    }
    let chain: Vec<String> = (1..entry.version)
        .map(|v| {
            let how = if entry.upcasters.contains(&v) {
                "upcaster"
            } else {
                "no upcaster"
            };
            format!("v{v} → v{}: {how}", v + 1)
        })
        .collect();
    if !chain.is_empty() {
        let _ = writeln!(body, "- Upcasters: {}", chain.join("; "));
    }
    let versions: Vec<String> = entry
        .schemas
        .keys()
        .rev()
        .map(|v| {
            let label = if *v == entry.version {
                format!("version {v} (current)")
            } else {
                format!("version {v}")
            };
            format!(
                "<ResourceLink id=\"{id}\" type=\"event\" version=\"{v}\">{label}</ResourceLink>"
            )
        })
        .collect();
    let _ = writeln!(body, "- Versions: {}", versions.join(", "));
    if current && entry.deprecated.is_some() {
        body.push_str("\n## Deprecation\n\n");
        for line in deprecation_lines(ids, entry) {
            let _ = writeln!(body, "- {line}");
        }
    }
    body.push_str("\n## Producers and consumers\n\n<NodeGraph />\n");
    if let Some(schema) = entry.schemas.get(&version) {
        let _ = write!(
            body,
            "\n## Payload\n\n<SchemaViewer file=\"schema.json\" title=\"JSON Schema of version {version}\" />\n\n\
             An example payload:\n\n```json\n{}```\n",
            pretty(
                &example(schema, schema),
                &format!("the example payload of {name} version {version}")
            )?
        );
    }
    document(front.0, &body)
}

/// The `deprecated` front matter: with the date it was deprecated when `since` is one
/// (EventCatalog then says "deprecated on …"), else `true`. The schedule is on the page.
fn deprecation(entry: &EventEntry) -> Yaml {
    let Some(since) = entry.deprecated_since.as_deref().filter(|s| is_date(s)) else {
        return Yaml::Bool(true);
    };
    let mut deprecated = Mapping::new();
    let mut message = String::new();
    if let Some(sunset) = &entry.sunset {
        let _ = write!(message, "Kept until {sunset}.");
    }
    if let Some(by) = &entry.replaced_by {
        let _ = write!(message, " Replaced by {by}.");
    }
    if let Some(reason) = entry.deprecated.as_deref().filter(|r| !r.is_empty()) {
        let _ = write!(message, " {}", mdx_text(reason));
    }
    let message = message.trim();
    if !message.is_empty() {
        deprecated.insert("message".into(), message.into());
    }
    deprecated.insert("date".into(), since.into());
    Yaml::Mapping(deprecated)
}

/// The deprecation schedule as whole sentences, the replacement as a link to its page.
fn deprecation_lines(ids: &Ids, entry: &EventEntry) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(since) = &entry.deprecated_since {
        lines.push(format!("Deprecated since {}.", mdx_text(since)));
    } else {
        lines.push("Deprecated.".to_owned());
    }
    if let Some(sunset) = &entry.sunset {
        lines.push(format!(
            "Kept until {}: producers and consumers have until then to move off it.",
            mdx_text(sunset)
        ));
    }
    if let Some(by) = &entry.replaced_by {
        // Ids has exactly the catalog's events: one lookup says whether it has `by`.
        let link = match ids.events.get(by) {
            Some(id) => format!(
                "<ResourceLink id=\"{id}\" type=\"event\">{}</ResourceLink>",
                mdx_text(by)
            ),
            None => code(by),
        };
        lines.push(format!("Replaced by {link}."));
    }
    if let Some(reason) = entry.deprecated.as_deref().filter(|r| !r.is_empty()) {
        lines.push(format!("Why: {}", mdx_text(reason)));
    }
    lines
}

/// A stream category as the service that produces its events.
fn producer_page(
    catalog: &Catalog,
    ids: &Ids,
    id: &str,
    name: &str,
    category: &Category,
) -> Result<String, CatalogError> {
    let sentence = category
        .description
        .as_deref()
        .and_then(summary)
        .unwrap_or_else(|| {
            format!("The streams of the {name} category, to which its aggregate appends events.")
        });
    let mut front = Front::new(
        id,
        &format!("{name} streams"),
        crate_version(catalog),
        sentence,
    );
    front.set("badges", vec![badge("Factum stream category", "blue")]);
    front.set("sends", current_versions(catalog, ids, &category.events));
    let body = described(
        category.description.as_deref(),
        &format!(
            "Streams {}. The aggregate decides the events and the store appends them; this \
             page lists the current version of each.",
            code(&format!("{name}-{{id}}"))
        ),
    );
    document(front.0, &body)
}

/// A projection or process manager as the service that consumes the events it handles.
fn consumer_page(
    catalog: &Catalog,
    ids: &Ids,
    id: &str,
    consumer: &Consumer,
) -> Result<String, CatalogError> {
    let name = &consumer.name;
    let (kind, sentence, what) = match consumer.kind {
        ConsumerKind::Projection => (
            "projection",
            format!("The projection {name}, which builds read models from the events it handles."),
            "It builds read models from these events.",
        ),
        ConsumerKind::ProcessManager => (
            "process manager",
            format!(
                "The process manager {name}, which sends commands in reply to the events it handles."
            ),
            "It sends commands in reply to these events.",
        ),
    };
    let mut front = Front::new(
        id,
        &format!("{kind} {name}"),
        crate_version(catalog),
        sentence,
    );
    front.set("badges", vec![badge(&format!("Factum {kind}"), "green")]);
    front.set("receives", current_versions(catalog, ids, &consumer.events));
    let body = format!(
        "A Factum {kind}. {what} It receives the current version of each; events stored at an \
         older version reach it through the upcasters.\n\n<NodeGraph />\n"
    );
    document(front.0, &body)
}

/// The domain, listing every service.
fn domain_page(catalog: &Catalog, ids: &Ids, domain: &str) -> Result<String, CatalogError> {
    let title = &catalog.title;
    let version = crate_version(catalog);
    let sentence = catalog
        .description
        .as_deref()
        .and_then(summary)
        .unwrap_or_else(|| format!("The events of the {title} domain."));
    let mut front = Front::new(domain, title, version, sentence);
    let services: Vec<Yaml> = ids
        .categories
        .values()
        .chain(ids.consumers.values())
        .map(|id| pointer(id, version))
        .collect();
    front.set("services", services);
    let body = described(
        catalog.description.as_deref(),
        &format!(
            "Exported by factum-catalog from the {} {} event catalog.",
            code(title),
            mdx_text(version)
        ),
    );
    document(front.0, &body)
}

/// The body of a service's or the domain's page: its description (a doc comment), a
/// sentence of ours, and EventCatalog's graph of what it sends and receives.
fn described(description: Option<&str>, sentence: &str) -> String {
    let mut body = String::new();
    if let Some(description) = description {
        let _ = writeln!(body, "{}\n", mdx_text(description));
    }
    let _ = writeln!(body, "{sentence}\n\n<NodeGraph />");
    body
}

/// JSON, pretty-printed, with a final newline; `what` names it in an error.
fn pretty(value: &Value, what: &str) -> Result<String, CatalogError> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| CatalogError::Write(format!("{what}: {e}")))?;
    text.push('\n');
    Ok(text)
}

/// Markdown prose (a doc comment) made safe for MDX: outside code spans and fenced
/// blocks, `{`, `}`, `<` and `>` are escaped (MDX reads them as expressions and JSX), and
/// a line that starts with `import` or `export` (MDX reads it as a module statement) has
/// its first letter written as a character reference.
fn mdx_text(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut line_start = true;
    while i < chars.len() {
        let c = chars[i];
        if c == '`' {
            let run = chars[i..].iter().take_while(|c| **c == '`').count();
            if let Some(end) = closing_run(&chars, i + run, run) {
                out.extend(&chars[i..end]);
                line_start = false;
                i = end;
                continue;
            }
            out.push_str(&"\\`".repeat(run));
            i += run;
            line_start = false;
            continue;
        }
        if line_start && c != ' ' && c != '\t' {
            let rest: String = chars[i..chars.len().min(i + 7)].iter().collect();
            if rest.starts_with("import ") || rest.starts_with("export ") {
                out.push_str(if c == 'i' { "&#105;" } else { "&#101;" });
                i += 1;
                line_start = false;
                continue;
            }
        }
        match c {
            '{' | '}' | '<' | '>' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
        line_start = c == '\n' || (line_start && (c == ' ' || c == '\t'));
        i += 1;
    }
    out
}

/// `text` as a Markdown code span, fenced with more backticks than it holds in a row.
fn code(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    if longest == 0 {
        format!("{fence}{text}{fence}")
    } else {
        format!("{fence} {text} {fence}")
    }
}

/// Where the code span opened by a run of `run` backticks ending at `from` closes: the end
/// of the next run of exactly `run` backticks.
fn closing_run(chars: &[char], from: usize, run: usize) -> Option<usize> {
    let mut i = from;
    while i < chars.len() {
        if chars[i] == '`' {
            let len = chars[i..].iter().take_while(|c| **c == '`').count();
            if len == run {
                return Some(i + len);
            }
            i += len;
        } else {
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Category;
    use serde_json::json;

    fn bank() -> Catalog {
        let mut deposited = EventEntry::new(
            "bank.Deposited",
            2,
            json!({ "type": "object", "properties": { "cents": { "type": "integer" }, "memo": { "type": "string" } }, "required": ["cents"] }),
        );
        deposited.schemas.insert(
            1,
            json!({ "type": "object", "properties": { "cents": { "type": "integer" } }, "required": ["cents"] }),
        );
        deposited.upcasters.insert(1);
        deposited.rust_type = Some("bank::Deposited".into());
        deposited.description = Some(
            "Money was paid in: the balance grows by\n`cents` {the amount}. More text.\n\nimport this".into(),
        );
        let mut closed = EventEntry::new("bank.AccountClosed", 1, json!({ "type": "object" }));
        closed.deprecated = Some("closing is a state <now>".into());
        closed.deprecated_since = Some("2026-01-15".into());
        closed.sunset = Some("2027-01-01".into());
        closed.replaced_by = Some("bank.Deposited".into());
        Catalog {
            title: "bank".into(),
            version: "0.1.0".into(),
            description: Some("Bank accounts.".into()),
            categories: [(
                "account".to_owned(),
                Category {
                    description: Some("One bank account.".into()),
                    events: ["bank.Deposited".to_owned(), "bank.AccountClosed".to_owned()].into(),
                },
            )]
            .into(),
            events: [
                ("bank.Deposited".to_owned(), deposited),
                ("bank.AccountClosed".to_owned(), closed),
            ]
            .into(),
            consumers: [
                Consumer {
                    kind: ConsumerKind::Projection,
                    name: "bank_views@v1".into(),
                    events: ["bank.Deposited".to_owned()].into(),
                },
                Consumer {
                    kind: ConsumerKind::ProcessManager,
                    name: "transfers".into(),
                    events: ["bank.AccountClosed".to_owned(), "bank.Unknown".to_owned()].into(),
                },
            ]
            .into(),
        }
    }

    /// The front matter of an MDX page, parsed back as YAML, and its body.
    fn front(page: &str) -> (serde_json::Value, &str) {
        let rest = page
            .strip_prefix("---\n")
            .expect("front matter opens the page");
        let (yaml, body) = rest.split_once("\n---\n").expect("front matter closes");
        (
            yaml_serde::from_str(yaml).expect("front matter is YAML"),
            body,
        )
    }

    #[test]
    fn events_with_their_versions_as_strings_and_older_ones_under_versioned() {
        let files = eventcatalog_files(&bank()).unwrap();
        let paths: Vec<&str> = files.keys().map(String::as_str).collect();
        assert_eq!(
            paths,
            [
                "domains/bank/index.mdx",
                "events/bank.AccountClosed/index.mdx",
                "events/bank.AccountClosed/schema.json",
                "events/bank.Deposited/index.mdx",
                "events/bank.Deposited/schema.json",
                "events/bank.Deposited/versioned/1/index.mdx",
                "events/bank.Deposited/versioned/1/schema.json",
                "services/process-manager.transfers/index.mdx",
                "services/projection.bank_views-v1/index.mdx",
                "services/streams.account/index.mdx",
            ]
        );

        let (current, body) = front(&files["events/bank.Deposited/index.mdx"]);
        assert_eq!(current["id"], "bank.Deposited");
        assert_eq!(current["name"], "bank.Deposited");
        assert_eq!(current["version"], json!("2"), "a string, not a number");
        assert_eq!(
            current["summary"],
            "Money was paid in: the balance grows by `cents` {the amount}."
        );
        assert_eq!(current["schemaPath"], "schema.json");
        assert!(current.get("deprecated").is_none());
        assert!(body.contains("- Rust type: `bank::Deposited`"), "{body}");
        assert!(body.contains("- Upcasters: v1 → v2: upcaster"), "{body}");
        assert!(body.contains("- Streams: `account-{id}`"), "{body}");
        assert!(
            body.contains("version=\"1\">version 1</ResourceLink>")
                && body.contains("version=\"2\">version 2 (current)</ResourceLink>"),
            "{body}"
        );
        // Prose is escaped for MDX; code spans are not.
        assert!(body.contains("`cents` \\{the amount\\}"), "{body}");
        assert!(body.contains("&#105;mport this"), "{body}");
        assert_eq!(code("a`b"), "`` a`b ``");
        assert_eq!(code("bank.Deposited"), "`bank.Deposited`");
        let schema: Value =
            serde_json::from_str(&files["events/bank.Deposited/schema.json"]).unwrap();
        assert!(schema["properties"].get("memo").is_some());

        let (old, body) = front(&files["events/bank.Deposited/versioned/1/index.mdx"]);
        assert_eq!(old["id"], "bank.Deposited");
        assert_eq!(old["version"], json!("1"));
        assert_eq!(
            old["summary"],
            "Version 1 of bank.Deposited, as stored by earlier code; the code writes version 2 today."
        );
        assert_eq!(old["badges"][0]["content"], "Superseded by v2");
        assert!(body.contains("read through the upcasters"), "{body}");
        let schema: Value =
            serde_json::from_str(&files["events/bank.Deposited/versioned/1/schema.json"]).unwrap();
        assert!(schema["properties"].get("memo").is_none());
    }

    #[test]
    fn a_deprecated_event_says_since_when_until_when_and_what_replaces_it() {
        let files = eventcatalog_files(&bank()).unwrap();
        let (closed, body) = front(&files["events/bank.AccountClosed/index.mdx"]);
        assert_eq!(closed["version"], json!("1"));
        assert_eq!(
            closed["summary"],
            "The event bank.AccountClosed, at schema version 1."
        );
        assert_eq!(closed["deprecated"]["date"], "2026-01-15");
        assert_eq!(
            closed["deprecated"]["message"],
            "Kept until 2027-01-01. Replaced by bank.Deposited. closing is a state \\<now\\>"
        );
        assert_eq!(closed["badges"][0]["content"], "Deprecated");
        assert!(body.contains("- Deprecated since 2026-01-15."), "{body}");
        assert!(body.contains("- Kept until 2027-01-01"), "{body}");
        assert!(
            body.contains(
                "Replaced by <ResourceLink id=\"bank.Deposited\" type=\"event\">bank.Deposited</ResourceLink>."
            ),
            "{body}"
        );

        // A 'since' that is a release, not a date, leaves EventCatalog's flag plain.
        let mut catalog = bank();
        catalog
            .events
            .get_mut("bank.AccountClosed")
            .unwrap()
            .deprecated_since = Some("0.2.0".into());
        let files = eventcatalog_files(&catalog).unwrap();
        let (closed, body) = front(&files["events/bank.AccountClosed/index.mdx"]);
        assert_eq!(closed["deprecated"], json!(true));
        assert!(body.contains("- Deprecated since 0.2.0."), "{body}");
    }

    #[test]
    fn producers_send_and_consumers_receive_the_current_versions() {
        let files = eventcatalog_files(&bank()).unwrap();
        let (producer, _) = front(&files["services/streams.account/index.mdx"]);
        assert_eq!(producer["id"], "streams.account");
        assert_eq!(producer["name"], "account streams");
        assert_eq!(producer["version"], "0.1.0");
        assert_eq!(producer["summary"], "One bank account.");
        assert_eq!(
            producer["sends"],
            json!([
                { "id": "bank.AccountClosed", "version": "1" },
                { "id": "bank.Deposited", "version": "2" }
            ])
        );
        let (projection, _) = front(&files["services/projection.bank_views-v1/index.mdx"]);
        assert_eq!(projection["name"], "projection bank_views@v1");
        assert_eq!(
            projection["receives"],
            json!([{ "id": "bank.Deposited", "version": "2" }])
        );
        let (manager, _) = front(&files["services/process-manager.transfers/index.mdx"]);
        assert_eq!(
            manager["receives"],
            json!([{ "id": "bank.AccountClosed", "version": "1" }]),
            "an event the catalog does not have is left out"
        );
        let (domain, _) = front(&files["domains/bank/index.mdx"]);
        assert_eq!(domain["version"], "0.1.0");
        assert_eq!(
            domain["services"],
            json!([
                { "id": "streams.account", "version": "0.1.0" },
                { "id": "projection.bank_views-v1", "version": "0.1.0" },
                { "id": "process-manager.transfers", "version": "0.1.0" }
            ])
        );
        for page in files.keys().filter(|p| p.ends_with(".mdx")) {
            let (front, _) = front(&files[page]);
            let summary = front["summary"].as_str().unwrap();
            assert!(
                summary.ends_with('.') && !summary.contains('\n'),
                "{page}: {summary}"
            );
        }
    }

    #[test]
    fn ids_are_safe_for_paths_and_two_names_sharing_one_are_refused() {
        assert_eq!(
            resource_id("bank.Deposited").as_deref(),
            Some("bank.Deposited")
        );
        assert_eq!(resource_id("a/b c@v1").as_deref(), Some("a-b-c-v1"));
        assert_eq!(resource_id("..").as_deref(), Some("-."));
        assert_eq!(resource_id(""), None);

        let mut catalog = bank();
        for name in ["shop/Ordered", "shop@Ordered"] {
            catalog.events.insert(
                name.into(),
                EventEntry::new(name, 1, json!({ "type": "object" })),
            );
        }
        let err = eventcatalog_files(&catalog).unwrap_err().to_string();
        assert!(
            err.contains("`shop/Ordered`")
                && err.contains("`shop@Ordered`")
                && err.contains("`shop-Ordered`"),
            "{err}"
        );
    }

    #[test]
    fn ids_that_differ_only_in_case_are_refused() {
        let mut catalog = bank();
        catalog.events.insert(
            "bank.deposited".into(),
            EventEntry::new("bank.deposited", 1, json!({ "type": "object" })),
        );
        let err = eventcatalog_files(&catalog).unwrap_err().to_string();
        assert!(
            err.contains("`bank.Deposited`")
                && err.contains("`bank.deposited`")
                && err.contains("differ only in case"),
            "{err}"
        );
    }

    #[test]
    fn an_event_is_known_by_its_key_even_if_its_entry_names_another() {
        let mut catalog = bank();
        let renamed = catalog.events.remove("bank.AccountClosed").unwrap();
        // A hand-built catalog: the key and the entry's name differ.
        catalog.events.insert("bank.Closed".into(), renamed);
        catalog
            .categories
            .get_mut("account")
            .unwrap()
            .events
            .insert("bank.Closed".into());
        let files = eventcatalog_files(&catalog).unwrap();
        let (closed, _) = front(&files["events/bank.Closed/index.mdx"]);
        assert_eq!(closed["id"], "bank.Closed");
        assert_eq!(closed["name"], "bank.Closed");
        assert!(!files.contains_key("events/bank.AccountClosed/index.mdx"));
        let (producer, _) = front(&files["services/streams.account/index.mdx"]);
        assert_eq!(
            producer["sends"],
            json!([
                { "id": "bank.Closed", "version": "1" },
                { "id": "bank.Deposited", "version": "2" }
            ]),
            "an event the catalog does not have (bank.AccountClosed) is left out"
        );
    }

    /// A second domain's catalog.
    fn shop() -> Catalog {
        Catalog {
            title: "shop".into(),
            version: "2.0.0".into(),
            categories: [(
                "order".to_owned(),
                Category {
                    description: None,
                    events: ["shop.Ordered".to_owned()].into(),
                },
            )]
            .into(),
            events: [(
                "shop.Ordered".to_owned(),
                EventEntry::new("shop.Ordered", 1, json!({ "type": "object" })),
            )]
            .into(),
            ..Catalog::default()
        }
    }

    #[test]
    fn two_catalogs_share_a_project_and_each_removes_only_its_own_stale_files() {
        let dir = tempfile::tempdir().unwrap();
        let bank_files = export_eventcatalog(&bank(), dir.path(), Overwrite::Refuse).unwrap();
        let shop_files = export_eventcatalog(&shop(), dir.path(), Overwrite::Refuse).unwrap();
        assert_eq!(shop_files.len(), 4, "{shop_files:?}");
        for file in bank_files.iter().chain(&shop_files) {
            assert!(file.exists(), "{}", file.display());
        }
        assert!(dir.path().join(MANIFESTS).join("bank").is_file());
        assert!(dir.path().join(MANIFESTS).join("shop").is_file());

        // Re-exporting the bank without an event removes that event's page and nothing
        // else.
        let mut catalog = bank();
        catalog.events.remove("bank.AccountClosed");
        export_eventcatalog(&catalog, dir.path(), Overwrite::Refuse).unwrap();
        assert!(!dir.path().join("events/bank.AccountClosed").exists());
        for file in bank_files
            .iter()
            .filter(|f| !f.to_string_lossy().contains("AccountClosed"))
        {
            assert!(file.exists(), "{}", file.display());
        }
        for file in &shop_files {
            assert!(file.exists(), "{}", file.display());
        }

        // A catalog whose title has another catalog's domain id is refused.
        let same = Catalog {
            title: "shop-".into(),
            ..Catalog::default()
        };
        let other = Catalog {
            title: "shop!".into(),
            ..Catalog::default()
        };
        export_eventcatalog(&same, dir.path(), Overwrite::Refuse).unwrap();
        let err = export_eventcatalog(&other, dir.path(), Overwrite::Refuse)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`shop-`") && err.contains("`shop!`"), "{err}");
    }

    #[test]
    fn files_it_did_not_write_are_refused_unless_forced() {
        let dir = tempfile::tempdir().unwrap();
        // A page the team wrote where the export would write one.
        let theirs = dir.path().join("events/bank.Deposited/index.mdx");
        std::fs::create_dir_all(theirs.parent().unwrap()).unwrap();
        std::fs::write(&theirs, "ours").unwrap();
        let err = export_eventcatalog(&bank(), dir.path(), Overwrite::Refuse).unwrap_err();
        match &err {
            CatalogError::WouldOverwrite { path, others: 0 } => assert_eq!(*path, theirs),
            other => panic!("{other:?}"),
        }
        let message = err.to_string();
        assert!(
            message.contains("bank.Deposited/index.mdx") && message.contains("--force"),
            "{message}"
        );
        // Nothing was written.
        assert_eq!(std::fs::read_to_string(&theirs).unwrap(), "ours");
        assert!(!dir.path().join("events/bank.AccountClosed").exists());
        assert!(!dir.path().join(MANIFESTS).exists());

        // Forced, the page is overwritten and the export's own from then on.
        export_eventcatalog(&bank(), dir.path(), Overwrite::Force).unwrap();
        assert!(
            std::fs::read_to_string(&theirs)
                .unwrap()
                .starts_with("---\n")
        );
        export_eventcatalog(&bank(), dir.path(), Overwrite::Refuse).unwrap();

        // Another catalog's file is not this one's to overwrite either.
        let mut clash = shop();
        clash
            .categories
            .insert("account".into(), Category::default());
        let err = export_eventcatalog(&clash, dir.path(), Overwrite::Refuse).unwrap_err();
        assert!(
            err.to_string()
                .contains("services/streams.account/index.mdx"),
            "{err}"
        );
        assert!(!dir.path().join("events/shop.Ordered").exists());
        // Forced, it takes the file over; when it no longer writes it, the file stays,
        // since the bank's export wrote it too.
        let taken = dir.path().join("services/streams.account/index.mdx");
        export_eventcatalog(&clash, dir.path(), Overwrite::Force).unwrap();
        assert!(
            std::fs::read_to_string(&taken)
                .unwrap()
                .contains("version: 2.0.0")
        );
        export_eventcatalog(&shop(), dir.path(), Overwrite::Refuse).unwrap();
        assert!(taken.exists());
    }

    #[test]
    fn the_single_manifest_of_earlier_exports_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let page = dir.path().join("events/bank.Deposited/index.mdx");
        std::fs::create_dir_all(page.parent().unwrap()).unwrap();
        std::fs::write(&page, "an earlier export").unwrap();
        let gone = dir.path().join("events/bank.Gone/index.mdx");
        std::fs::create_dir_all(gone.parent().unwrap()).unwrap();
        std::fs::write(&gone, "an earlier export").unwrap();
        std::fs::write(
            dir.path().join(MANIFESTS),
            "events/bank.Deposited/index.mdx\nevents/bank.Gone/index.mdx\n",
        )
        .unwrap();
        export_eventcatalog(&bank(), dir.path(), Overwrite::Refuse).unwrap();
        assert!(dir.path().join(MANIFESTS).join("bank").is_file());
        assert!(std::fs::read_to_string(&page).unwrap().starts_with("---\n"));
        assert!(gone.exists(), "it may be another catalog's");
    }

    #[test]
    fn the_export_is_deterministic_and_a_re_export_removes_only_its_stale_files() {
        let dir = tempfile::tempdir().unwrap();
        let written = export_eventcatalog(&bank(), dir.path(), Overwrite::Refuse).unwrap();
        assert_eq!(written.len(), 10);
        assert!(written.windows(2).all(|w| w[0] < w[1]));
        let page = dir.path().join("events/bank.AccountClosed/index.mdx");
        let first = std::fs::read_to_string(&page).unwrap();
        // A page the team wrote next to the export.
        let own = dir.path().join("events/bank.AccountClosed/notes.md");
        std::fs::write(&own, "ours").unwrap();
        let team = dir.path().join("teams/ledger.mdx");
        std::fs::create_dir_all(team.parent().unwrap()).unwrap();
        std::fs::write(&team, "ours").unwrap();

        export_eventcatalog(&bank(), dir.path(), Overwrite::Refuse).unwrap();
        assert_eq!(std::fs::read_to_string(&page).unwrap(), first);

        let mut catalog = bank();
        catalog.events.remove("bank.AccountClosed");
        let deposited = catalog.events.get_mut("bank.Deposited").unwrap();
        deposited.schemas.remove(&1);
        export_eventcatalog(&catalog, dir.path(), Overwrite::Refuse).unwrap();
        assert!(!page.exists());
        assert!(!dir.path().join("events/bank.Deposited/versioned").exists());
        assert!(own.exists() && team.exists());
        assert!(dir.path().join("events/bank.Deposited/index.mdx").exists());
    }
}
