//! The build-time step: deterministic output, `--check` failing on each kind of stale
//! committed file, history kept across regenerations, and serde aliases recorded so the
//! gate accepts a rename that serde still reads.

use std::path::Path;

use chrono::{DateTime, Utc};
use factum::projection::{Envelope, HandlerError, ProjectionTx};
use factum::{Event, ReadModel};
use factum_catalog::asyncapi::{from_document, parse, to_document, to_yaml};
use factum_catalog::compat::ALIASES;
use factum_codegen::{Codegen, CodegenError};
use serde::{Deserialize, Serialize};

/// A parcel was weighed.
#[derive(Event, Serialize, Deserialize, schemars::JsonSchema)]
#[event(name = "codegen.Weighed", version = 2, upcast(from = 1, with = grams))]
#[serde(rename_all = "camelCase")]
struct Weighed {
    /// Weight in grams.
    #[serde(alias = "weight", alias = "mass")]
    weight_grams: u64,
}

#[derive(Deserialize)]
struct WeighedV1 {
    kilos: u64,
}

fn grams(old: WeighedV1) -> Weighed {
    Weighed {
        weight_grams: old.kilos * 1000,
    }
}

/// A parcel was measured; version 1 stored centimetres, and its type has a schema, so
/// the catalog learns version 1 from the code itself.
#[derive(Event, Serialize, Deserialize, schemars::JsonSchema)]
#[event(name = "codegen.Measured", version = 2, upcast(from = 1, with = millimetres))]
struct Measured {
    mm: u64,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct MeasuredV1 {
    cm: u64,
}

fn millimetres(old: MeasuredV1) -> Measured {
    Measured { mm: old.cm * 10 }
}

/// Free-form data, once stored under another name.
#[derive(Event, Serialize, Deserialize, schemars::JsonSchema)]
#[event(name = "codegen.Noted")]
struct Noted {
    #[serde(alias = "payload")]
    data: serde_json::Value,
}

/// Where a parcel is, with declared indexes: one on a field, one on two columns.
#[derive(ReadModel, Serialize, Deserialize)]
#[read_model(table = "parcel_places", index(depot, weighed_at))]
struct ParcelPlace {
    #[key]
    id: String,
    #[index]
    grams: i64,
    depot: String,
    weighed_at: DateTime<Utc>,
}

/// The projection that keeps [`ParcelPlace`] (linked in, so the registry lists it).
struct ParcelPlaces;

#[factum::projection(name = "parcel_places", read_models(ParcelPlace))]
impl ParcelPlaces {
    #[on]
    async fn weighed(
        &self,
        _tx: &mut ProjectionTx,
        _e: &Envelope<'_, Weighed>,
    ) -> Result<(), HandlerError> {
        Ok(())
    }
}

fn codegen(dir: &Path) -> Codegen {
    Codegen::new("codegen-test", "1.2.3", dir)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn the_output_is_deterministic_and_a_second_run_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let first = codegen(dir.path()).files().unwrap();
    assert_eq!(first, codegen(dir.path()).files().unwrap());
    let written = codegen(dir.path()).json(true).write().unwrap();
    let names: Vec<String> = written
        .iter()
        .map(|p| p.strip_prefix(dir.path()).unwrap().display().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "asyncapi.yaml",
            "asyncapi.json",
            "schema.graphql",
            "ddl/sqlite.sql",
            "ddl/postgres.sql"
        ]
    );
    assert_eq!(
        codegen(dir.path()).json(true).write().unwrap(),
        Vec::<std::path::PathBuf>::new()
    );
    codegen(dir.path()).json(true).check().unwrap();
}

#[test]
fn check_fails_on_each_stale_or_missing_file_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    codegen(dir.path()).json(true).write().unwrap();
    for file in [
        "asyncapi.yaml",
        "asyncapi.json",
        "schema.graphql",
        "ddl/sqlite.sql",
        "ddl/postgres.sql",
    ] {
        let path = dir.path().join(file);
        let good = read(&path);
        std::fs::write(
            &path,
            good.replace("codegen", "c0degen")
                .replace("CREATE", "create"),
        )
        .unwrap();
        match codegen(dir.path()).json(true).check() {
            Err(CodegenError::Stale { files }) => assert_eq!(files, vec![path.clone()], "{file}"),
            other => panic!("{file}: expected Stale, got {other:?}"),
        }
        std::fs::remove_file(&path).unwrap();
        let err = codegen(dir.path()).json(true).check().unwrap_err();
        assert!(err.to_string().contains(file), "{err}");
        std::fs::write(&path, good).unwrap();
        codegen(dir.path()).json(true).check().unwrap();
    }
}

#[test]
fn the_catalog_describes_versions_upcasters_and_aliases() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = codegen(dir.path()).catalog().unwrap();
    let weighed = &catalog.events["codegen.Weighed"];
    assert_eq!(weighed.version, 2);
    assert_eq!(weighed.upcasters.iter().copied().collect::<Vec<_>>(), [1]);
    assert_eq!(
        weighed.description.as_deref(),
        Some("A parcel was weighed.")
    );
    let schema = weighed.current_schema().unwrap();
    assert_eq!(
        schema["properties"]["weightGrams"][ALIASES],
        serde_json::json!(["weight", "mass"])
    );
    // A field of any JSON carries its aliases too.
    let noted = catalog.events["codegen.Noted"].current_schema().unwrap();
    assert_eq!(
        noted["properties"]["data"][ALIASES],
        serde_json::json!(["payload"])
    );
    // A baseline that stored `weight` under v2 is still read: the rename has an alias.
    let mut baseline = catalog.clone();
    let old = baseline.events.get_mut("codegen.Weighed").unwrap();
    old.schemas.insert(
        2,
        serde_json::json!({
            "type": "object",
            "properties": { "weight": { "type": "integer", "format": "uint64", "minimum": 0 } },
            "required": ["weight"]
        }),
    );
    assert_eq!(factum_catalog::check(&baseline, &catalog), []);
}

#[test]
fn older_versions_whose_upcaster_input_has_a_schema_come_from_the_code() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = codegen(dir.path()).catalog().unwrap();
    let measured = &catalog.events["codegen.Measured"];
    assert_eq!(measured.schemas.keys().copied().collect::<Vec<_>>(), [1, 2]);
    assert_eq!(measured.schemas[&1]["required"], serde_json::json!(["cm"]));
    // Without a schema on the input type, the code says nothing about version 1.
    assert_eq!(
        catalog.events["codegen.Weighed"]
            .schemas
            .keys()
            .copied()
            .collect::<Vec<_>>(),
        [2]
    );
    let files = codegen(dir.path()).files().unwrap();
    assert!(files[0].content.contains("codegen.Measured.v1:"));
}

#[test]
fn older_versions_recorded_in_the_committed_catalog_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut committed = codegen(dir.path()).catalog().unwrap();
    let v1 = serde_json::json!({
        "type": "object",
        "properties": { "kilos": { "type": "integer", "format": "uint64", "minimum": 0 } },
        "required": ["kilos"]
    });
    committed
        .events
        .get_mut("codegen.Weighed")
        .unwrap()
        .schemas
        .insert(1, v1.clone());
    let yaml = to_yaml(&to_document(&committed)).unwrap();
    std::fs::write(dir.path().join("asyncapi.yaml"), yaml).unwrap();

    codegen(dir.path()).write().unwrap();
    let regenerated =
        from_document(&parse(&read(&dir.path().join("asyncapi.yaml"))).unwrap()).unwrap();
    assert_eq!(regenerated.events["codegen.Weighed"].schemas[&1], v1);
    assert!(read(&dir.path().join("asyncapi.yaml")).contains("codegen.Weighed.v1:"));
}

#[test]
fn every_projection_version_has_its_tables_in_both_dialects() {
    // The registry holds what is linked in: name the test crate's projections.
    let _ = (
        factum_tests::projections::Balances,
        factum_tests::projections::BalancesV2,
    );
    let dir = tempfile::tempdir().unwrap();
    let files = codegen(dir.path()).files().unwrap();
    let sqlite = &files
        .iter()
        .find(|f| f.path.ends_with("sqlite.sql"))
        .unwrap()
        .content;
    let postgres = &files
        .iter()
        .find(|f| f.path.ends_with("postgres.sql"))
        .unwrap()
        .content;
    // The test crate's `balances` projection exists at versions 1 and 2.
    for version in [1, 2] {
        assert!(
            sqlite.contains(&format!("-- projection balances v{version}")),
            "{sqlite}"
        );
        assert!(sqlite.contains(&format!(
            "CREATE TABLE IF NOT EXISTS \"balances_v{version}\""
        )));
        assert!(postgres.contains(&format!(
            "CREATE TABLE IF NOT EXISTS \"balances_v{version}\""
        )));
    }
    assert!(sqlite.contains("INTEGER NOT NULL") && postgres.contains("bigint NOT NULL"));
    // The GraphQL SDL of the same read models, from the code that serves it.
    let sdl = &files
        .iter()
        .find(|f| f.path.ends_with("schema.graphql"))
        .unwrap()
        .content;
    for expected in [
        "type Balance {",
        "\tbalance(\t\taccount: String!,",
        "atLeastPosition: Long",
        "balances(",
        "input BalanceFilter {",
        "type BalanceConnection {",
    ] {
        assert!(sdl.contains(expected), "{expected:?} in\n{sdl}");
    }
}

#[test]
fn declared_indexes_are_in_the_ddl_of_both_dialects() {
    // Linked in, to check that a read model without indexes gets none.
    let _ = factum_tests::projections::Balances;
    let dir = tempfile::tempdir().unwrap();
    let files = codegen(dir.path()).files().unwrap();
    let ddl = |ending: &str| {
        files
            .iter()
            .find(|f| f.path.ends_with(ending))
            .unwrap()
            .content
            .clone()
    };
    for ddl in [ddl("sqlite.sql"), ddl("postgres.sql")] {
        let table = ddl
            .find("CREATE TABLE IF NOT EXISTS \"parcel_places_v1\"")
            .unwrap_or_else(|| panic!("no parcel_places_v1 in\n{ddl}"));
        // Each declared index, the key last, after its table.
        for index in [
            "CREATE INDEX IF NOT EXISTS \"parcel_places_v1_by_grams\" \
             ON \"parcel_places_v1\" (\"grams\", \"id\");\n",
            "CREATE INDEX IF NOT EXISTS \"parcel_places_v1_by_depot_weighed_at\" \
             ON \"parcel_places_v1\" (\"depot\", \"weighed_at\", \"id\");\n",
        ] {
            let at = ddl
                .find(index)
                .unwrap_or_else(|| panic!("{index:?} not in\n{ddl}"));
            assert!(at > table, "{index:?} before its table in\n{ddl}");
        }
        assert_eq!(
            ddl.matches("ON \"parcel_places_v1\"").count(),
            2,
            "two indexes declared:\n{ddl}"
        );
        // A read model that declares none gets none.
        assert!(ddl.contains("CREATE TABLE IF NOT EXISTS \"balances_v1\""));
        assert!(!ddl.contains("ON \"balances_v1\""), "{ddl}");
    }
}

/// A process manager of this test, registered by its macro.
struct Notifier;

#[factum::process_manager(name = "notifier")]
impl Notifier {
    #[on]
    async fn weighed(
        &self,
        _cx: &factum::saga::Reaction,
        _e: &Envelope<'_, Weighed>,
    ) -> Result<(), HandlerError> {
        Ok(())
    }
}

#[test]
fn projections_and_process_managers_are_recorded_as_consumers() {
    use factum_catalog::ConsumerKind;
    let dir = tempfile::tempdir().unwrap();
    let catalog = codegen(dir.path()).catalog().unwrap();
    let consumer = |kind, name: &str| {
        catalog
            .consumers
            .iter()
            .find(|c| c.kind == kind && c.name == name)
            .unwrap_or_else(|| panic!("{name} in {:?}", catalog.consumers))
    };
    let places = consumer(ConsumerKind::Projection, "parcel_places@v1");
    assert_eq!(
        places.events.iter().collect::<Vec<_>>(),
        [<Weighed as Event>::NAME]
    );
    let notifier = consumer(ConsumerKind::ProcessManager, "notifier");
    assert!(notifier.events.contains(<Weighed as Event>::NAME));
    // The document lists them, and reads them back.
    let document = to_document(&catalog);
    let back = from_document(&parse(&to_yaml(&document).unwrap()).unwrap()).unwrap();
    assert_eq!(back.consumers, catalog.consumers);
}
