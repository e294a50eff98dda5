//! A crate with events and no projection generates its catalog: the AsyncAPI document
//! describes its events (with the legacy version), and the GraphQL SDL is a note, not an
//! error.

use factum_catalog::asyncapi::{from_document, parse};

#[test]
fn a_crate_without_projections_generates_its_catalog() {
    // Nothing of the crate is named but the codegen entry point: that is enough to link
    // its events.
    let dir = tempfile::tempdir().unwrap();
    let codegen = factum_tests_events_only::catalog(dir.path());
    assert!(
        factum::projections().is_empty(),
        "this crate links no projection"
    );
    let written = codegen
        .write()
        .expect("the catalog generates without projections");
    assert!(!written.is_empty());

    let yaml = std::fs::read_to_string(dir.path().join("asyncapi.yaml")).unwrap();
    let catalog = from_document(&parse(&yaml).unwrap()).unwrap();
    let names: Vec<&str> = catalog.events.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["shop.OrderAmended", "shop.OrderPlaced", "shop.OrderShipped"]
    );
    // The enum event: each variant in the adjacently tagged form serde writes.
    let amended = catalog.events["shop.OrderAmended"]
        .current_schema()
        .unwrap();
    let variants = amended["oneOf"].as_array().expect("one schema per variant");
    assert_eq!(variants.len(), 3, "{amended:#}");
    let tags: Vec<&serde_json::Value> = variants
        .iter()
        .map(|v| &v["properties"]["change"]["const"])
        .collect();
    assert_eq!(tags, ["note", "address", "withdrawn"], "{amended:#}");
    let placed = &catalog.events["shop.OrderPlaced"];
    assert_eq!(placed.version, 2);
    assert!(placed.upcasters.contains(&1), "version 1 has its upcaster");
    assert!(
        catalog.categories.contains_key("order"),
        "the aggregate's category"
    );

    let sdl = std::fs::read_to_string(dir.path().join("schema.graphql")).unwrap();
    assert!(sdl.contains("no read models"), "{sdl}");
    assert!(!sdl.contains("type Query"), "{sdl}");

    // Generating again changes nothing, and the check passes.
    assert!(codegen.write().unwrap().is_empty());
    codegen.check().expect("the written catalog is current");
}
