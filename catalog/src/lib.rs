//! Factum's event catalog: the contract keeper between the code and the events it has
//! already stored.
//!
//! - [`model`]: the catalog (every event type, at every version, by stream category);
//! - [`asyncapi`]: the catalog as an AsyncAPI 3.0 document (what `factum-codegen`
//!   writes and the team commits), and back;
//! - [`compat`]: the breaking-change gate (`factum-catalog check --baseline OLD NEW`);
//! - [`diff`](mod@diff): a readable changelog (`factum-catalog diff OLD NEW`);
//! - [`eventcatalog`]: the catalog in EventCatalog's content layout
//!   (`factum-catalog export --eventcatalog DIR`);
//! - [`render`]: a static HTML page to browse the catalog (`factum-catalog render`);
//! - [`stored`]: a live store's events against the catalog (`factum-catalog check --store`).
//!
//! ```
//! use factum_catalog::{Catalog, EventEntry, check};
//! use serde_json::json;
//!
//! let mut old = Catalog::default();
//! let schema = json!({ "type": "object", "properties": { "cents": { "type": "integer" } }, "required": ["cents"] });
//! old.events.insert("bank.Deposited".into(), EventEntry::new("bank.Deposited", 1, schema));
//!
//! // A new required field under the same version breaks the replay of old events.
//! let mut new = old.clone();
//! let changed = json!({ "type": "object", "properties": {
//!     "cents": { "type": "integer" }, "currency": { "type": "string" } }, "required": ["cents", "currency"] });
//! new.events.insert("bank.Deposited".into(), EventEntry::new("bank.Deposited", 1, changed));
//! let breaking = check(&old, &new);
//! assert_eq!(breaking[0].path, "v1.currency");
//! ```

pub mod asyncapi;
pub mod compat;
pub mod diff;
mod error;
pub mod eventcatalog;
pub mod model;
pub mod render;
pub mod schema;
pub mod stored;

pub use compat::{BreakingChange, check, check_on, check_schema};
pub use diff::{Change, changelog, diff};
pub use error::CatalogError;
pub use model::{Catalog, Category, Consumer, ConsumerKind, EventEntry};
pub use render::render_html;

use std::path::Path;

/// Reads a catalog from an AsyncAPI file (YAML or JSON) that `factum-codegen` wrote.
pub fn read(path: impl AsRef<Path>) -> Result<Catalog, CatalogError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| CatalogError::Io {
        path: path.to_owned(),
        source,
    })?;
    asyncapi::from_document(&asyncapi::parse(&text)?)
}
