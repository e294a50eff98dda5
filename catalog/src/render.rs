//! The catalog as one static HTML page a person can browse: stream categories, events,
//! every version with its fields, schema and an example payload, deprecations, upcasters,
//! and a search box. No server and no network: styles and script are inline.

use std::fmt::Write;

use serde_json::Value;

use crate::model::{Catalog, Category, Consumer, EventEntry};
use crate::schema::{example, resolve};

/// Renders `catalog` as a complete HTML document.
pub fn render_html(catalog: &Catalog) -> String {
    let mut html = String::new();
    let title = format!("{} {} event catalog", catalog.title, catalog.version);
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<header>\n<h1>{}</h1>\n",
        escape(&title),
        escape(&title)
    );
    if let Some(description) = &catalog.description {
        let _ = writeln!(html, "<p>{}</p>", escape(description));
    }
    let _ = writeln!(
        html,
        "<input id=\"search\" type=\"search\" placeholder=\"Search events by name\" \
         aria-label=\"Search events by name\" autofocus>\n</header>\n<nav>"
    );
    for (name, category) in &catalog.categories {
        let _ = write!(
            html,
            "<section class=\"category\"><h2>{}</h2>",
            escape(name)
        );
        if let Some(description) = &category.description {
            let _ = write!(html, "<p>{}</p>", escape(description));
        }
        html.push_str("<ul>");
        for event in &category.events {
            let _ = write!(
                html,
                "<li data-name=\"{0}\"><a href=\"#{0}\">{0}</a></li>",
                escape(event)
            );
        }
        html.push_str("</ul></section>\n");
    }
    html.push_str("</nav>\n<main>\n");
    for (name, category) in &catalog.categories {
        render_flow(&mut html, catalog, name, category);
    }
    for entry in catalog.events.values() {
        render_event(&mut html, catalog, entry);
    }
    let _ = write!(
        html,
        "<p id=\"nothing\" hidden>No event matches.</p>\n</main>\n<script>{SCRIPT}</script>\n</body>\n</html>\n"
    );
    html
}

/// One category's flow as an inline SVG: its streams, the events they hold, and the
/// projections and process managers that handle each event. No script, no network.
fn render_flow(html: &mut String, catalog: &Catalog, name: &str, category: &Category) {
    const ROW: usize = 26;
    const BOX_H: usize = 20;
    let events: Vec<&String> = category.events.iter().collect();
    let consumers: Vec<&Consumer> = catalog
        .consumers
        .iter()
        .filter(|c| c.events.iter().any(|e| category.events.contains(e)))
        .collect();
    if events.is_empty() {
        return;
    }
    let rows = events.len().max(consumers.len());
    let height = rows * ROW + 10;
    let middle = |count: usize, i: usize| (height - count * ROW) / 2 + i * ROW + ROW / 2;
    let (source_x, event_x, consumer_x, width) = (10, 200, 520, 760);
    let _ = write!(
        html,
        "<section class=\"flow\" data-category=\"{0}\"><h2>Flow of {0} streams</h2>\
         <svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" aria-label=\"Events of {0} streams and who handles them\">",
        escape(name)
    );
    let node = |html: &mut String, x: usize, y: usize, w: usize, class: &str, text: &str| {
        let _ = write!(
            html,
            "<g class=\"node {class}\"><rect x=\"{x}\" y=\"{}\" width=\"{w}\" height=\"{BOX_H}\" rx=\"4\"/>\
             <text x=\"{}\" y=\"{}\">{}</text></g>",
            y - BOX_H / 2,
            x + 6,
            y + 5,
            escape(text)
        );
    };
    let edge = |html: &mut String, x1: usize, y1: usize, x2: usize, y2: usize| {
        let _ = write!(
            html,
            "<line class=\"edge\" x1=\"{x1}\" y1=\"{y1}\" x2=\"{x2}\" y2=\"{y2}\"/>"
        );
    };
    let source_y = height / 2;
    for (i, event) in events.iter().enumerate() {
        edge(
            html,
            source_x + 150,
            source_y,
            event_x,
            middle(events.len(), i),
        );
        for (j, consumer) in consumers.iter().enumerate() {
            if consumer.events.contains(*event) {
                edge(
                    html,
                    event_x + 250,
                    middle(events.len(), i),
                    consumer_x,
                    middle(consumers.len(), j),
                );
            }
        }
    }
    node(
        html,
        source_x,
        source_y,
        150,
        "streams",
        &format!("{name} streams"),
    );
    for (i, event) in events.iter().enumerate() {
        let entry = catalog.events.get(*event);
        let version = entry.map_or(0, |e| e.version);
        let class = if entry.is_some_and(|e| e.deprecated.is_some()) {
            "event deprecated"
        } else {
            "event"
        };
        let label = format!("{event} v{version}");
        node(html, event_x, middle(events.len(), i), 250, class, &label);
    }
    for (j, consumer) in consumers.iter().enumerate() {
        let label = format!(
            "{} {}",
            consumer.kind.as_str().replace('-', " "),
            consumer.name
        );
        node(
            html,
            consumer_x,
            middle(consumers.len(), j),
            230,
            "consumer",
            &label,
        );
    }
    html.push_str("</svg></section>\n");
}

fn render_event(html: &mut String, catalog: &Catalog, entry: &EventEntry) {
    let _ = write!(
        html,
        "<article class=\"event\" id=\"{0}\" data-name=\"{0}\">\n<h2>{0} <span class=\"badge\">v{1}</span>",
        escape(&entry.name),
        entry.version
    );
    if entry.deprecated.is_some() {
        html.push_str(" <span class=\"badge deprecated\">deprecated</span>");
    }
    html.push_str("</h2>\n");
    // A link to each version's section (`#bank.Deposited.v1`), newest first as below.
    let versions: Vec<String> = entry
        .schemas
        .keys()
        .rev()
        .map(|v| {
            let anchor = escape(&entry.key(*v));
            format!("<a href=\"#{anchor}\">v{v}</a>")
        })
        .collect();
    let _ = writeln!(
        html,
        "<p class=\"versions\">Versions: {}</p>",
        versions.join(" ")
    );
    if entry.deprecated.is_some() {
        let mut said = Vec::new();
        if let Some(since) = &entry.deprecated_since {
            said.push(format!("since {}", escape(since)));
        }
        if let Some(sunset) = &entry.sunset {
            said.push(format!("kept until {}", escape(sunset)));
        }
        if let Some(by) = &entry.replaced_by {
            said.push(format!(
                "replaced by <a href=\"#{}\">{}</a>",
                escape(by),
                escape(by)
            ));
        }
        if let Some(reason) = entry.deprecated.as_deref().filter(|r| !r.is_empty()) {
            said.push(escape(reason));
        }
        if !said.is_empty() {
            let _ = writeln!(
                html,
                "<p class=\"deprecated\">Deprecated: {}</p>",
                said.join("; ")
            );
        }
    }
    if let Some(description) = &entry.description {
        for paragraph in description.split("\n\n") {
            let _ = writeln!(html, "<p>{}</p>", escape(paragraph));
        }
    }
    let categories: Vec<&str> = catalog.categories_of(&entry.name).collect();
    let _ = write!(html, "<dl>");
    if !categories.is_empty() {
        let _ = write!(
            html,
            "<dt>Streams</dt><dd>{}</dd>",
            escape(&categories.join(", "))
        );
    }
    let consumers: Vec<String> = catalog
        .consumers_of(&entry.name)
        .map(|c| format!("{} {}", c.kind.as_str().replace('-', " "), c.name))
        .collect();
    if !consumers.is_empty() {
        let _ = write!(
            html,
            "<dt>Handled by</dt><dd class=\"consumers\">{}</dd>",
            escape(&consumers.join(", "))
        );
    }
    if let Some(rust_type) = &entry.rust_type {
        let _ = write!(
            html,
            "<dt>Rust type</dt><dd><code>{}</code></dd>",
            escape(rust_type)
        );
    }
    let chain: Vec<String> = (1..entry.version)
        .map(|v| {
            if entry.upcasters.contains(&v) {
                format!("v{v} → v{} (upcaster)", v + 1)
            } else {
                format!("v{v} → v{}: no upcaster", v + 1)
            }
        })
        .collect();
    if !chain.is_empty() {
        let _ = write!(
            html,
            "<dt>Upcasters</dt><dd>{}</dd>",
            escape(&chain.join("; "))
        );
    }
    html.push_str("</dl>\n");
    render_side_by_side(html, entry);
    for (version, schema) in entry.schemas.iter().rev() {
        let current = *version == entry.version;
        let _ = writeln!(
            html,
            "<details id=\"{}\"{}><summary>Version {version}{}</summary>",
            escape(&entry.key(*version)),
            if current { " open" } else { "" },
            if current { " (current)" } else { "" }
        );
        render_fields(html, schema);
        let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default();
        let _ = write!(
            html,
            "<h4>Example payload</h4><pre>{}</pre>\n<details><summary>JSON Schema</summary><pre>{}</pre></details>\n</details>\n",
            escape(&pretty(&example(schema, schema))),
            escape(&pretty(schema))
        );
    }
    html.push_str("</article>\n");
}

/// One field of a payload schema, as the page shows it.
struct Field<'s> {
    name: &'s str,
    /// A short type name ([`type_label`]).
    label: String,
    required: bool,
    description: &'s str,
}

/// The fields of a payload schema, in the schema's order.
fn fields_of(schema: &Value) -> Vec<Field<'_>> {
    let body = resolve(schema, schema);
    let Some(properties) = body.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    let required: Vec<&str> = body
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    properties
        .iter()
        .map(|(name, property)| {
            let resolved = resolve(schema, property);
            let description = property
                .get("description")
                .or_else(|| resolved.get("description"))
                .and_then(Value::as_str)
                .unwrap_or("");
            Field {
                name,
                label: type_label(schema, property),
                required: required.contains(&name.as_str()),
                description,
            }
        })
        .collect()
}

fn render_fields(html: &mut String, schema: &Value) {
    let fields = fields_of(schema);
    if fields.is_empty() {
        return;
    }
    html.push_str("<table><thead><tr><th>Field</th><th>Type</th><th>Required</th><th>Description</th></tr></thead><tbody>");
    for field in fields {
        let _ = write!(
            html,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(field.name),
            escape(&field.label),
            if field.required { "yes" } else { "no" },
            escape(field.description)
        );
    }
    html.push_str("</tbody></table>\n");
}

/// An event's versions side by side, newest first: one row per field any version has,
/// its type in each version (`required` or `optional`), `—` where a version lacks it,
/// and the upcaster between each version and the next.
fn render_side_by_side(html: &mut String, entry: &EventEntry) {
    if entry.schemas.len() < 2 {
        return;
    }
    let versions: Vec<(u32, Vec<Field<'_>>)> = entry
        .schemas
        .iter()
        .rev()
        .map(|(version, schema)| (*version, fields_of(schema)))
        .collect();
    let mut names: Vec<&str> = Vec::new();
    for (_, fields) in &versions {
        for field in fields {
            if !names.contains(&field.name) {
                names.push(field.name);
            }
        }
    }
    // An enum event's versions have variants, not fields: their schemas show them.
    if names.is_empty() {
        return;
    }
    html.push_str(
        "<table class=\"side-by-side\"><caption>Versions side by side</caption><thead><tr><th>Field</th>",
    );
    for (version, _) in &versions {
        let _ = write!(
            html,
            "<th><a href=\"#{}\">v{version}</a>{}</th>",
            escape(&entry.key(*version)),
            if *version == entry.version {
                " (current)"
            } else {
                ""
            }
        );
    }
    html.push_str("</tr></thead><tbody>");
    for name in names {
        let _ = write!(html, "<tr><td><code>{}</code></td>", escape(name));
        for (_, fields) in &versions {
            match fields.iter().find(|f| f.name == name) {
                Some(field) => {
                    let _ = write!(
                        html,
                        "<td>{} <small>{}</small></td>",
                        escape(&field.label),
                        if field.required {
                            "required"
                        } else {
                            "optional"
                        }
                    );
                }
                None => html.push_str("<td class=\"absent\">—</td>"),
            }
        }
        html.push_str("</tr>");
    }
    html.push_str("<tr class=\"upcasters\"><td>read as the next version</td>");
    for (version, _) in &versions {
        let cell = if *version >= entry.version {
            "—".to_owned()
        } else if entry.upcasters.contains(version) {
            format!("upcaster to v{}", version + 1)
        } else {
            "no upcaster".to_owned()
        };
        let _ = write!(html, "<td>{}</td>", escape(&cell));
    }
    html.push_str("</tr></tbody></table>\n");
}

/// A short type name for a property: `string`, `integer (int64)`, `array of Line`,
/// `one of 2`.
fn type_label(root: &Value, property: &Value) -> String {
    let named = property
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.rsplit('/').next())
        .map(str::to_owned);
    let schema = resolve(root, property);
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let list: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        return format!("one of {}", list.join(", "));
    }
    if let Some(alternatives) = schema
        .get("anyOf")
        .or_else(|| schema.get("oneOf"))
        .and_then(Value::as_array)
    {
        let labels: Vec<String> = alternatives.iter().map(|a| type_label(root, a)).collect();
        return labels.join(" | ");
    }
    let base = match schema.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" | "),
        _ => named.clone().unwrap_or_else(|| "any".into()),
    };
    let base = match (base.as_str(), named) {
        ("object", Some(name)) => name,
        _ => base,
    };
    if base == "array"
        && let Some(items) = schema.get("items").filter(|i| i.is_object())
    {
        return format!("array of {}", type_label(root, items));
    }
    match schema.get("format").and_then(Value::as_str) {
        Some(format) => format!("{base} ({format})"),
        None => base,
    }
}

/// Escapes text for HTML content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;display:grid;grid-template-columns:18rem 1fr;grid-template-areas:'h h' 'n m'}\
header{grid-area:h;padding:1rem 2rem;background:#1d3557;color:#fff}header input{font-size:1rem;padding:.4rem;width:24rem;max-width:90%}\
nav{grid-area:n;padding:1rem;border-right:1px solid #ddd;overflow:auto}nav ul{padding-left:1rem}main{grid-area:m;padding:1rem 2rem}\
article{border:1px solid #ddd;border-radius:6px;padding:0 1rem 1rem;margin-bottom:1rem}.badge{font-size:.7em;background:#457b9d;color:#fff;border-radius:4px;padding:.1em .4em}\
.badge.deprecated{background:#e63946}p.deprecated{color:#e63946}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left}\
pre{background:#f4f4f4;padding:.5rem;overflow:auto}dt{font-weight:bold}\
.flow svg{max-width:100%;height:auto;font-size:12px}.flow .node rect{fill:#f1faee;stroke:#1d3557}.flow .node.streams rect{fill:#a8dadc}\
table.side-by-side{margin:.5rem 0 1rem}table.side-by-side caption{text-align:left;font-weight:bold;padding:.3rem 0}\
td.absent{color:#999;text-align:center}tr.upcasters td{font-style:italic}\
.flow .node.consumer rect{fill:#fefae0}.flow .node.deprecated rect{stroke-dasharray:4 2;fill:#f8d7da}.flow .edge{stroke:#457b9d;stroke-width:1}";

const SCRIPT: &str = "const box=document.getElementById('search');\
box.addEventListener('input',()=>{const q=box.value.trim().toLowerCase();let shown=0;\
document.querySelectorAll('article.event').forEach(a=>{const hit=a.dataset.name.toLowerCase().includes(q);a.hidden=!hit;if(hit)shown++;});\
document.querySelectorAll('nav li').forEach(l=>{l.hidden=!l.dataset.name.toLowerCase().includes(q);});\
document.getElementById('nothing').hidden=shown>0;});";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Category;
    use serde_json::json;

    #[test]
    fn the_page_escapes_what_it_shows_and_lists_every_version() {
        let mut entry = EventEntry::new(
            "shop.<Ordered>",
            2,
            json!({ "type": "object", "properties": { "qty": { "type": "integer", "format": "int32", "description": "How <many>" } }, "required": ["qty"] }),
        );
        entry.schemas.insert(1, json!({ "type": "object" }));
        entry.upcasters.insert(1);
        entry.deprecated = Some("use shop.Placed".into());
        let catalog = Catalog {
            title: "shop".into(),
            version: "1.0.0".into(),
            categories: [(
                "order".to_owned(),
                Category {
                    description: None,
                    events: ["shop.<Ordered>".to_owned()].into(),
                },
            )]
            .into(),
            events: [(entry.name.clone(), entry)].into(),
            ..Catalog::default()
        };
        let html = render_html(&catalog);
        assert!(html.contains("shop.&lt;Ordered&gt;"));
        assert!(!html.contains("<Ordered>"));
        assert!(html.contains("How &lt;many&gt;"));
        assert!(html.contains("Version 2 (current)") && html.contains("Version 1<"));
        assert!(html.contains("v1 → v2 (upcaster)"));
        assert!(html.contains("Deprecated: use shop.Placed"));
        assert!(html.contains("integer (int32)"));
    }

    #[test]
    fn versions_are_shown_side_by_side_field_by_field() {
        let mut entry = EventEntry::new(
            "bank.Deposited",
            2,
            json!({ "type": "object", "properties": { "cents": { "type": "integer" }, "memo": { "type": "string" } }, "required": ["cents"] }),
        );
        entry.schemas.insert(
            1,
            json!({ "type": "object", "properties": { "amount": { "type": "integer" } }, "required": ["amount"] }),
        );
        entry.upcasters.insert(1);
        let mut html = String::new();
        render_side_by_side(&mut html, &entry);
        let row = |field: &str| {
            let start = html
                .find(&format!("<tr><td><code>{field}</code></td>"))
                .unwrap();
            html[start..start + html[start..].find("</tr>").unwrap()].to_owned()
        };
        // Columns: v2 (current), then v1.
        assert!(html.find("v2</a> (current)").unwrap() < html.find(">v1</a>").unwrap());
        assert!(
            row("cents")
                .contains("<td>integer <small>required</small></td><td class=\"absent\">—</td>"),
            "{html}"
        );
        assert!(row("memo").contains("<small>optional</small></td><td class=\"absent\">"));
        assert!(
            row("amount")
                .contains("<td class=\"absent\">—</td><td>integer <small>required</small>")
        );
        assert!(html.contains("<td>upcaster to v2</td>"));
        // One version: nothing to compare.
        let mut single = String::new();
        render_side_by_side(&mut single, &EventEntry::new("a.B", 1, json!({})));
        assert!(single.is_empty());
        // Versions without fields (an enum event's): no table of nothing.
        let mut variants = EventEntry::new("a.B", 2, json!({ "oneOf": [] }));
        variants.schemas.insert(1, json!({ "oneOf": [] }));
        render_side_by_side(&mut single, &variants);
        assert!(single.is_empty());
    }
}
