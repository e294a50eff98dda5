//! The compatibility gate against a differential corpus of schema changes, each checked
//! against serde itself.
//!
//! Schema-level cases are pairs of real Rust types (the stored `old::E` and the new
//! `new::E` under the same version), turned into draft-07 JSON Schema by schemars exactly
//! as the code generator does. Each case declares its verdict; the test then asks serde:
//! payloads of `old::E` (hand-written ones, and ones drawn from its schema: edge values
//! varied one place at a time, and random combinations) are written by `old::E` and read
//! by `new::E`. A refused payload means the change is breaking; so does a lost one (two
//! different payloads read as one, or a case's own comparison failing). The declared
//! verdict must be serde's, and the gate must say breaking exactly when serde does.
//!
//! Catalog-level cases (versions, upcasters, deprecation, removal) build the catalogs
//! directly.

use std::collections::BTreeSet;

mod corpus;

use corpus::SerdeVerdict;
use factum_catalog::{Catalog, EventEntry, check};
use serde_json::{Value, json};

fn schema_of<T: schemars::JsonSchema>() -> Value {
    let schema = schemars::generate::SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<T>();
    serde_json::to_value(schema).unwrap()
}

fn catalog_with(entries: impl IntoIterator<Item = EventEntry>) -> Catalog {
    Catalog {
        title: "corpus".into(),
        version: "1.0.0".into(),
        events: entries.into_iter().map(|e| (e.name.clone(), e)).collect(),
        ..Catalog::default()
    }
}

/// The verdict of changing the payload of `corpus.E` v1 from `old` to `new` in place.
fn same_version(old: Value, new: Value) -> Vec<String> {
    let before = catalog_with([EventEntry::new("corpus.E", 1, old)]);
    let after = catalog_with([EventEntry::new("corpus.E", 1, new)]);
    check(&before, &after)
        .iter()
        .map(|b| b.to_string())
        .collect()
}

/// Defines `old::E` and `new::E` from the items given and returns their schemas with
/// serde's verdict on reading what `old::E` stored with `new::E`.
macro_rules! differential {
    (old { $($old:item)* } new { $($new:item)* } samples [$($sample:expr),*] $(same $same:expr)?) => {{
        #[allow(dead_code)]
        mod old {
            #[allow(unused_imports)]
            use factum_macros::payload;
            use schemars::JsonSchema;
            use serde::{Deserialize, Serialize};
            $($old)*
        }
        #[allow(dead_code)]
        mod new {
            #[allow(unused_imports)]
            use factum_macros::payload;
            use schemars::JsonSchema;
            use serde::{Deserialize, Serialize};
            $($new)*
        }
        let old = schema_of::<old::E>();
        #[allow(unused_mut, unused_assignments)]
        let mut same: Option<corpus::Same<'_, old::E, new::E>> = None;
        $(same = Some(&$same);)?
        let serde = corpus::serde_verdict::<old::E, new::E>(&old, &[$($sample),*], same);
        (old, schema_of::<new::E>(), serde)
    }};
}

/// Checks one case: the declared verdict against serde's, then the gate against both.
/// `needle` is a word the gate's report must contain.
fn judge(declared: &str, needle: Option<&str>, serde: &(SerdeVerdict, usize), report: &[String]) {
    let (verdict, tried) = serde;
    assert!(*tried > 0, "no payload of the old type could be drawn");
    let agrees = matches!(
        (declared, verdict),
        ("compatible", SerdeVerdict::Compatible)
            | ("refused", SerdeVerdict::Refused { .. })
            | ("lossy", SerdeVerdict::Lossy { .. })
    );
    assert!(
        agrees,
        "declared {declared}, but serde says {verdict} (over {tried} stored payloads)"
    );
    if declared == "compatible" {
        assert!(
            report.is_empty(),
            "serde reads every payload, but the gate says {report:#?}"
        );
    } else {
        assert!(
            !report.is_empty(),
            "serde says {verdict}, but the gate passes the change"
        );
        if let Some(needle) = needle {
            assert!(
                report.iter().any(|line| line.contains(needle)),
                "expected a report naming {needle:?}, got {report:#?}"
            );
        }
    }
}

/// One schema-level case: `old { items }` and `new { items }`, each defining a type `E`;
/// the verdict (`compatible`, `refused("word")` when serde refuses a stored payload,
/// `lossy("word")` when it reads two of them as one), with a word the gate's report must
/// contain; then optionally hand-written payloads of `old::E` to try beside the drawn
/// ones, and optionally `same |old, new| …`, what it means for a payload to be read as
/// the value stored where the JSON cannot tell (see [`corpus::serde_verdict`]). `tricky`
/// marks the cases a schema-only reading gets wrong.
macro_rules! case {
    (tricky $($rest:tt)*) => { case!($($rest)*); };
    ($name:ident: $verdict:ident $(($needle:literal))?,
     old { $($old:item)* } new { $($new:item)* } $(samples [$($sample:expr),* $(,)?])?
     $(same $same:expr)?) => {
        #[test]
        fn $name() {
            let (old, new, serde) =
                differential!(old { $($old)* } new { $($new)* } samples [$($($sample),*)?] $(same $same)?);
            let needle: Option<&str> = None $(.or(Some($needle)))?;
            judge(stringify!($verdict), needle, &serde, &same_version(old, new));
        }
    };
}

/// The corpus can fail: a verdict declared against serde's is caught, whatever the gate
/// says.
#[test]
#[should_panic(expected = "declared compatible, but serde says refused")]
fn a_declared_verdict_serde_disagrees_with_fails() {
    let (old, new, serde) = differential!(
        old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub n: i64 } }
        new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub n: u8 } }
        samples []
    );
    judge("compatible", None, &serde, &same_version(old, new));
}

// ---- numbers, strings and arrays: formats, lengths, tuples (issue 14) ------------------

case!(tricky c28_tuple_becomes_fixed_array: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub pair: (u32, u32) } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub pair: [u32; 2] } });

case!(c29_fixed_array_becomes_tuple: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub pair: [u32; 2] } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub pair: (u32, u64) } });

case!(c30_char_becomes_string: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub c: char } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub c: String } });

case!(c31_float_widened: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub x: f32 } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub x: f64 } });

case!(tricky b28_double_narrowed_to_float: lossy("32-bit float"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub x: f64 } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub x: f32 } });

case!(tricky b29_string_becomes_char: refused("string length narrowed"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub c: String } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub c: char } });

case!(b30_list_becomes_fixed_array: refused("array length narrowed"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub xs: Vec<u32> } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub xs: [u32; 3] } });

case!(b31_tuple_becomes_longer_array: refused("array length narrowed"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub pair: (u32, u32) } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub pair: [u32; 3] } });

case!(b32_tuple_position_narrowed_in_array: refused("integer range narrowed"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub pair: (u32, u64) } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub pair: [u32; 2] } });

// ---- compatible, same version -------------------------------------------------------

case!(c01_optional_field_added: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub a: String } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub a: String, pub b: Option<String> } });

case!(c02_defaulted_field_added: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub a: String } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub a: String, #[serde(default)] pub tags: Vec<String> } });

case!(b38_field_removed_its_values_dropped: lossy("dropped without an error"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub a: String, pub b: i64 } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub a: String } });

case!(c04_enum_variant_added: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub enum Kind { A, B }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub kind: Kind } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub enum Kind { A, B, C }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub kind: Kind } });

case!(c05_integer_widened: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub n: i32 } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub n: i64 } });

case!(c06_integer_to_float: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub n: i32 } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub n: f64 } });

case!(c07_descriptions_changed: compatible,
    old { /// Old words.
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { /// Old field words.
              pub a: String } }
    new { /// New words.
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { /// New field words.
              pub a: String } });

case!(c08_required_becomes_defaulted: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub a: String } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { #[serde(default)] pub a: String } });

case!(c09_renamed_with_alias: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub amount: i64 } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E {
              #[serde(alias = "amount")] #[schemars(extend("x-aliases" = ["amount"]))] pub cents: i64 } });

case!(c10_required_becomes_option: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub n: i64 } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub n: Option<i64> } });

case!(c11_nested_struct_gains_optional_field: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct Line { pub sku: String }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub lines: Vec<Line> } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct Line { pub sku: String, pub note: Option<String> }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub lines: Vec<Line> } });

case!(c12_data_variant_added: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub enum Pay { Card { last4: String }, Cash }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub pay: Pay } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub enum Pay { Card { last4: String }, Cash, Voucher(String) }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub pay: Pay } });

case!(c13_list_items_widened: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub xs: Vec<i32> } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub xs: Vec<i64> } });

case!(c14_map_values_widened: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub m: std::collections::BTreeMap<String, i32> } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub m: std::collections::BTreeMap<String, i64> } });

case!(c15_unsigned_into_wider_signed: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub n: u32 } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub n: i64 } });

case!(c16_uuid_read_as_any_string: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub id: crate::corpus::Uuid }
          }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub id: String } });

case!(c17_unchanged: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub a: String, pub b: Option<bool> } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub a: String, pub b: Option<bool> } });

case!(c18_fields_reordered: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub a: String, pub b: i64 } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub b: i64, pub a: String } });

case!(c19_optional_enum_gains_variant: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub enum Kind { A }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub kind: Option<Kind> } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub enum Kind { A, B }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub kind: Option<Kind> } });

case!(c20_enum_read_as_string: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub enum Kind { A, B }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub kind: Kind } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub kind: String } });

case!(c26_enum_variant_documented: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub enum Kind { A, B, C }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub kind: Kind } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub enum Kind { /// The first.
              A, B, C }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub kind: Kind } });

case!(c27_flattened_enum_struct_gains_optional_field: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub enum Pay { Card { last4: String }, Cash { till: u32 } }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub id: String, #[serde(flatten)] pub pay: Pay } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub enum Pay { Card { last4: String }, Cash { till: u32 } }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub id: String, pub note: Option<String>, #[serde(flatten)] pub pay: Pay } });

// ---- breaking, same version ---------------------------------------------------------

case!(b01_required_field_added: refused("required field was added without a default"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub a: String } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub a: String, pub currency: String } });

case!(b02_type_changed: refused("type changed from string to integer"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub a: String } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub a: i64 } });

case!(b03_enum_variant_removed: refused("\"B\""),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub enum Kind { A, B }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub kind: Kind } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub enum Kind { A }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub kind: Kind } });

case!(b04_renamed_without_alias: refused("serde(alias = \"amount\")"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub amount: i64 } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub cents: i64 } });

case!(b05_optional_becomes_required: refused("was optional"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub note: Option<String> } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub note: String } });

case!(b06_integer_narrowed: refused("range narrowed"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub n: i64 } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub n: i32 } });

case!(b07_signed_to_unsigned: refused("range narrowed"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub n: i64 } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub n: u64 } });

case!(b08_float_to_integer: refused("type changed from number to integer"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub x: f64 } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub x: i64 } });

case!(b09_removed_under_deny_unknown_fields: refused("denies unknown fields"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub a: String, pub b: i64 } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(deny_unknown_fields)] pub struct E { pub a: String } });

case!(b10_nested_required_field_added: refused("lines[].qty"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct Line { pub sku: String }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub lines: Vec<Line> } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct Line { pub sku: String, pub qty: u32 }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub lines: Vec<Line> } });

case!(b11_list_item_type_changed: refused("xs[]"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub xs: Vec<String> } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub xs: Vec<i64> } });

case!(b12_string_becomes_uuid: refused("`uuid`"),
old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub id: String } }
new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub id: crate::corpus::Uuid }
      });

case!(b13_map_value_type_changed: refused("m.{*}"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub m: std::collections::BTreeMap<String, String> } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub m: std::collections::BTreeMap<String, bool> } });

case!(b14_data_variant_removed: refused("pay"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub enum Pay { Card { last4: String }, Voucher(String) }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub pay: Pay } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub enum Pay { Card { last4: String } }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub pay: Pay } });

case!(b15_scalar_becomes_struct: refused("type changed from integer to object"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub price: i64 } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct Money { pub cents: i64, pub currency: String }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub price: Money } });

case!(b16_struct_becomes_list: refused("type changed from object to array"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct Addr { pub city: String }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub addr: Addr } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct Addr { pub city: String }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub addr: Vec<Addr> } });

case!(b17_bool_becomes_string: refused("type changed from boolean to string"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub flag: bool } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub flag: String } });

case!(b18_string_becomes_enum: refused("accepts only"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub kind: String } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub enum Kind { A, B }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub kind: Kind } });

case!(b19_option_becomes_defaulted_non_null: refused("null"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub n: Option<i64> } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { #[serde(default)] pub n: i64 } });

case!(b25_map_of_anything_becomes_typed: refused("m.{*}"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub m: std::collections::BTreeMap<String, serde_json::Value> } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub m: std::collections::BTreeMap<String, i64> } });

case!(b26_struct_becomes_map_of_another_type: refused("type changed from string to integer"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct Inner { pub a: String }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub inner: Inner } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub inner: std::collections::BTreeMap<String, i64> } });

case!(b27_flattened_enum_struct_gains_required_field: refused("v1.n"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub enum Pay { Card { last4: String }, Cash { till: u32 } }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub id: String, #[serde(flatten)] pub pay: Pay } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub enum Pay { Card { last4: String }, Cash { till: u32 } }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub id: String, pub n: i64, #[serde(flatten)] pub pay: Pay } });

// ---- catalog level: versions, upcasters, deprecation, removal ----------------------

fn payload(field: &str, ty: &str) -> Value {
    json!({ "type": "object", "properties": { field: { "type": ty } }, "required": [field] })
}

fn versioned(version: u32, upcasters: &[u32], schema: Value) -> EventEntry {
    let mut entry = EventEntry::new("corpus.E", version, schema);
    entry.upcasters = upcasters.iter().copied().collect::<BTreeSet<_>>();
    entry
}

fn history(entry: &EventEntry, older: &[(u32, Value)]) -> EventEntry {
    let mut entry = entry.clone();
    for (version, schema) in older {
        entry.schemas.insert(*version, schema.clone());
    }
    entry
}

#[test]
fn c21_new_event_type_added() {
    let old = catalog_with([versioned(1, &[], payload("a", "string"))]);
    let mut added = versioned(1, &[], payload("b", "integer"));
    added.name = "corpus.F".into();
    let new = catalog_with([versioned(1, &[], payload("a", "string")), added]);
    assert_eq!(check(&old, &new), []);
}

#[test]
fn c22_new_version_with_upcaster_changes_everything() {
    let old = catalog_with([versioned(1, &[], payload("dollars", "integer"))]);
    let v2 = versioned(2, &[1], payload("cents", "string"));
    let new = catalog_with([history(&v2, &[(1, payload("dollars", "integer"))])]);
    assert_eq!(check(&old, &new), []);
}

#[test]
fn c23_deprecated_event_removed() {
    let mut deprecated = versioned(1, &[], payload("a", "string"));
    deprecated.deprecated = Some("use corpus.F".into());
    let old = catalog_with([deprecated]);
    assert_eq!(check(&old, &catalog_with([])), []);
}

#[test]
fn c24_event_deprecated() {
    let old = catalog_with([versioned(1, &[], payload("a", "string"))]);
    let mut deprecated = versioned(1, &[], payload("a", "string"));
    deprecated.deprecated = Some(String::new());
    assert_eq!(check(&old, &catalog_with([deprecated])), []);
}

#[test]
fn c25_two_versions_with_a_full_chain() {
    let old = catalog_with([versioned(1, &[], payload("a", "string"))]);
    let new = catalog_with([versioned(3, &[1, 2], payload("c", "boolean"))]);
    assert_eq!(check(&old, &new), []);
}

#[test]
fn b20_event_removed_without_deprecation() {
    let old = catalog_with([versioned(1, &[], payload("a", "string"))]);
    let report = check(&old, &catalog_with([]));
    assert_eq!(report.len(), 1);
    assert!(
        report[0].reason.contains("without being deprecated first"),
        "{report:?}"
    );
}

#[test]
fn b21_version_bumped_without_upcaster() {
    let old = catalog_with([versioned(1, &[], payload("a", "string"))]);
    let new = catalog_with([versioned(2, &[], payload("a", "integer"))]);
    let report = check(&old, &new);
    assert_eq!(report.len(), 1, "{report:?}");
    assert_eq!(report[0].path, "v1");
    assert!(
        report[0].reason.contains("no upcaster for 1 -> 2"),
        "{report:?}"
    );
}

#[test]
fn b22_version_went_back() {
    let old = catalog_with([versioned(2, &[1], payload("a", "string"))]);
    let new = catalog_with([versioned(1, &[], payload("a", "string"))]);
    let report = check(&old, &new);
    assert!(
        report[0].reason.contains("went back from 2 to 1"),
        "{report:?}"
    );
}

#[test]
fn b23_gap_in_the_upcaster_chain() {
    // Events stored at v1 (and at v2) exist; the new code only lifts v2.
    let old = catalog_with([versioned(2, &[1], payload("a", "string"))]);
    let new = catalog_with([versioned(3, &[2], payload("a", "string"))]);
    let report = check(&old, &new);
    assert_eq!(report.len(), 1, "{report:?}");
    assert_eq!(report[0].path, "v1");
    assert!(report[0].reason.contains("1 -> 2"), "{report:?}");
}

#[test]
fn b24_transitive_an_old_version_is_still_checked() {
    // The event moved v1 -> v2 in an earlier release; now v2's payload changes in place.
    // v1 still lifts, but what v2 stored no longer reads.
    let v2_before = versioned(2, &[1], payload("cents", "integer"));
    let old = catalog_with([history(&v2_before, &[(1, payload("dollars", "integer"))])]);
    let v2_after = versioned(2, &[1], payload("cents", "string"));
    let new = catalog_with([history(&v2_after, &[(1, payload("dollars", "integer"))])]);
    let report = check(&old, &new);
    assert_eq!(report.len(), 1, "{report:?}");
    assert_eq!(report[0].path, "v2.cents");
    assert!(
        report[0]
            .reason
            .contains("bump the version and add an upcaster")
    );
}

#[test]
fn the_corpus_is_balanced_and_large_enough() {
    // Counted from the source, so that the count stays honest as cases come and go:
    // at least 120 differential cases, 30 of them tricky, neither verdict under 40%.
    let source = include_str!("compatibility_corpus.rs");
    let cases: Vec<&str> = source
        .lines()
        .filter_map(|line| line.strip_prefix("case!("))
        .collect();
    let verdict_of = |case: &str| {
        let case = case.strip_prefix("tricky ").unwrap_or(case);
        let (_, rest) = case.split_once(": ").unwrap_or_default();
        rest.split(['(', ',']).next().unwrap_or_default().to_owned()
    };
    let compatible = cases
        .iter()
        .filter(|c| verdict_of(c) == "compatible")
        .count();
    let breaking = cases
        .iter()
        .filter(|c| matches!(verdict_of(c).as_str(), "refused" | "lossy"))
        .count();
    let tricky = cases.iter().filter(|c| c.starts_with("tricky ")).count();
    assert_eq!(compatible + breaking, cases.len(), "a case with no verdict");
    assert!(cases.len() >= 120, "{} cases", cases.len());
    assert!(tricky >= 30, "{tricky} tricky cases");
    assert!(
        compatible * 10 >= cases.len() * 4 && breaking * 10 >= cases.len() * 4,
        "{compatible} compatible vs {breaking} breaking"
    );
}

case!(b33_second_flattened_part_gains_required_field: refused("v2"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct A { pub a: u32 }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct B { pub b: u32 }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { #[serde(flatten)] pub a: A, #[serde(flatten)] pub b: B } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct A { pub a: u32 }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct B { pub b: u32, pub v2: u32 }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { #[serde(flatten)] pub a: A, #[serde(flatten)] pub b: B } });

case!(b34_map_values_narrowed: refused("range"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub m: std::collections::BTreeMap<String, u64> } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub m: std::collections::BTreeMap<String, u8> } });

case!(b35_recursive_type_gains_required_field: refused("x"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct Node { pub children: Vec<Node> }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub root: Node } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct Node { pub children: Vec<Node>, pub x: u32 }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub root: Node } });

case!(tricky b36_untagged_variants_reordered: lossy("untagged"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(untagged)] pub enum V { Int(u32), Float(f64) }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub v: V } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(untagged)] pub enum V { Float(f64), Int(u32) }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub v: V } });

case!(tricky b37_untagged_variant_inserted_before_one_it_shadows: lossy("untagged"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(untagged)] pub enum V { Int(u32), Text(String) }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub v: V } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(untagged)] pub enum V { Float(f64), Int(u32), Text(String) }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub v: V } }
    same |old: &old::E, new: &new::E| matches!(
        (&old.v, &new.v),
        (old::V::Int(a), new::V::Int(b)) if a == b
    ) || matches!((&old.v, &new.v), (old::V::Text(a), new::V::Text(b)) if a == b));

case!(c32_untagged_variant_appended: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(untagged)] pub enum V { Int(u32), Text(String) }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub v: V } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(untagged)] pub enum V { Int(u32), Text(String), Flag(bool) }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub v: V } });

case!(tricky c33_untagged_variant_inserted_first_that_takes_nothing_stored: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(untagged)] pub enum V { Int(u32), Text(String) }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub v: V } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(untagged)] pub enum V { Flag(bool), Int(u32), Text(String) }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub v: V } });

case!(c34_untagged_unchanged_with_a_shadowed_variant: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(untagged)] pub enum V { Float(f64), Int(u32) }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub v: V } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(untagged)] pub enum V { Float(f64), Int(u32) }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub v: V } });

case!(c35_map_values_widened_to_optional: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub m: std::collections::BTreeMap<String, u32> } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub m: std::collections::BTreeMap<String, Option<u64>> } });

case!(c36_recursive_type_gains_optional_field: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct Node { pub children: Vec<Node> }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub root: Node } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct Node { pub children: Vec<Node>, pub x: Option<u32> }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub root: Node } });

// ---- data lost without an error: serde accepts, the values are gone (issue 14) --------

case!(tricky b39_required_renamed_into_optional_without_alias: lossy("#[serde(alias = \"amount\")]"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub amount: u32 } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub total: Option<u32> } });

case!(tricky b40_renamed_into_optional_under_rename_all: lossy("dropped without an error"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(rename_all = "camelCase")] pub struct E { pub unit_price: u32 } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(rename_all = "camelCase")] pub struct E { pub price: Option<u32> } });

case!(tricky b41_nested_field_renamed_into_optional: lossy("line.amount"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct Line { pub amount: u32 }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub line: Line } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct Line { #[serde(default)] pub total: u32 }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub line: Line } });

case!(c37_renamed_into_optional_with_alias: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub amount: u32 } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E {
              #[serde(alias = "amount")] #[schemars(extend("x-aliases" = ["amount"]))] pub total: Option<u32> } });

case!(tricky c38_field_kept_in_a_flattened_map: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub a: String, pub b: i64 } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub a: String,
              #[serde(flatten)] pub rest: std::collections::BTreeMap<String, serde_json::Value> } });

/// A drop the author acknowledged (`#[event(dropped = "…")]`, written into the payload
/// schema by the code generator) is not reported; another field's still is.
#[test]
fn c39_acknowledged_drop_is_compatible() {
    let (old, mut new, serde) = differential!(
        old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct Line { pub note: String }
              #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub a: String, pub b: i64, pub lines: Vec<Line> } }
        new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct Line { pub memo: Option<String> }
              #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub a: String, pub lines: Vec<Line> } }
        samples []
    );
    assert!(
        matches!(serde.0, SerdeVerdict::Lossy { .. }),
        "serde says {}",
        serde.0
    );
    new[factum_catalog::compat::DROPPED] = json!(["b", "lines[].note"]);
    assert_eq!(same_version(old.clone(), new.clone()), Vec::<String>::new());
    new[factum_catalog::compat::DROPPED] = json!(["b"]);
    let report = same_version(old, new);
    assert_eq!(report.len(), 1, "{report:?}");
    assert!(report[0].contains("lines[].note"), "{report:?}");
}

case!(c40_list_items_widened_in_a_nested_struct: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct Line { pub qty: Vec<u32> }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub line: Line } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct Line { pub qty: Vec<u64> }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub line: Line } });

case!(c41_untagged_variant_payload_widened_in_place: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(untagged)] pub enum V { Int(u32), Text(String) }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub v: V } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(untagged)] pub enum V { Int(u64), Text(String) }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub v: V } });

case!(tricky c42_fields_moved_into_a_flattened_enum: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub enum Kind { Card }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub id: String, pub kind: Kind, pub amount: u32 } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(tag = "kind")] pub enum Kind { Card { amount: u32 }, Cash { amount: u32 } }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub id: String, #[serde(flatten)] pub kind: Kind } });

case!(tricky b42_field_moved_into_a_flattened_enum_under_another_name: refused("alternatives"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub enum Kind { Card, Cash }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub kind: Kind, pub amount: u32 } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(tag = "kind")] pub enum Kind { Card { total: u32 }, Cash { total: u32 } }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { #[serde(flatten)] pub kind: Kind } });

// ---- serde attributes at any depth, recorded by #[factum::payload] (issue 14) ---------

case!(tricky c43_nested_field_renamed_with_alias: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct Line { pub qty: u32 }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub lines: Vec<Line> } }
    new { #[payload] #[derive(JsonSchema, Deserialize, Serialize)] pub struct Line { #[serde(alias = "qty")] pub quantity: u32 }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub lines: Vec<Line> } });

case!(tricky c44_unit_variant_renamed_with_alias: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub enum Kind { Card, Cash }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub kind: Kind } }
    new { #[payload] #[derive(JsonSchema, Deserialize, Serialize)] pub enum Kind { #[serde(alias = "Card")] Debit, Cash }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub kind: Kind } });

case!(tricky c45_data_variant_renamed_with_alias: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub enum Pay { Card { last4: String }, Cash(u32) }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub pay: Pay } }
    new { #[payload] #[derive(JsonSchema, Deserialize, Serialize)] pub enum Pay { #[serde(alias = "Card")] Debit { last4: String }, Cash(u32) }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub pay: Pay } });

case!(tricky c46_internally_tagged_variant_renamed_with_alias: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(tag = "type")] pub enum Pay { Card { last4: String }, Cash { till: u32 } }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub pay: Pay } }
    new { #[payload] #[derive(JsonSchema, Deserialize, Serialize)] #[serde(tag = "type")] pub enum Pay { #[serde(alias = "Card")] Debit { last4: String }, Cash { till: u32 } }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub pay: Pay } });

case!(tricky c47_adjacently_tagged_variant_renamed_with_alias: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(tag = "t", content = "c")] pub enum Pay { Card(String), Cash(u32) }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub pay: Pay } }
    new { #[payload] #[derive(JsonSchema, Deserialize, Serialize)] #[serde(tag = "t", content = "c")] pub enum Pay { #[serde(alias = "Card")] Debit(String), Cash(u32) }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub pay: Pay } });

case!(b43_internally_tagged_variant_renamed_without_alias: refused("Card"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(tag = "type")] pub enum Pay { Card { last4: String }, Cash { till: u32 } }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub pay: Pay } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(tag = "type")] pub enum Pay { Debit { last4: String }, Cash { till: u32 } }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub pay: Pay } });

case!(tricky c48_field_of_a_struct_variant_renamed_with_alias: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(tag = "type")] pub enum Pay { Card { last4: String }, Cash { till: u32 } }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub pay: Pay } }
    new { #[payload] #[derive(JsonSchema, Deserialize, Serialize)] #[serde(tag = "type")] pub enum Pay { Card { #[serde(alias = "last4")] tail: String }, Cash { till: u32 } }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub pay: Pay } });

case!(tricky c49_nested_alias_under_rename_all: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(rename_all = "camelCase")] pub struct Line { pub unit_price: u32 }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub line: Line } }
    new { #[payload] #[derive(JsonSchema, Deserialize, Serialize)] #[serde(rename_all = "camelCase")] pub struct Line { #[serde(alias = "unitPrice")] pub price_cents: u32 }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub line: Line } });

case!(tricky b44_nested_alias_misspelt: lossy("line.amount"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct Line { pub amount: u32 }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub line: Line } }
    new { #[payload] #[derive(JsonSchema, Deserialize, Serialize)] pub struct Line { #[serde(alias = "amout")] pub total: Option<u32> }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub line: Line } });

case!(c50_variant_renamed_keeping_its_old_name_as_alias: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub enum Kind { Open, Closed }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub kind: Kind } }
    new { #[payload] #[derive(JsonSchema, Deserialize, Serialize)] pub enum Kind { #[serde(rename = "opened", alias = "Open")] Open, Closed }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub kind: Kind } });

case!(tricky b45_two_variants_removed_into_a_catch_all: lossy("catch-all"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(tag = "t")] pub enum Kind { A, B, C }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub kind: Kind } }
    new { #[payload] #[derive(JsonSchema, Deserialize, Serialize)] #[serde(tag = "t")] pub enum Kind { A, #[serde(other)] Unknown }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub kind: Kind } });

case!(tricky b46_one_variant_removed_into_a_catch_all: lossy("catch-all"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub enum Kind { A, B }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub kind: Kind } }
    new { #[payload] #[derive(JsonSchema, Deserialize, Serialize)] pub enum Kind { A, #[serde(other)] Unknown }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub kind: Kind } }
    // Only an `A` read as `A` keeps its meaning: a `B` read as `Unknown` has lost it.
    same |old: &old::E, new: &new::E| matches!((&old.kind, &new.kind), (old::Kind::A, new::Kind::A)));

case!(c51_catch_all_variant_added: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(tag = "t")] pub enum Kind { A, B }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub kind: Kind } }
    new { #[payload] #[derive(JsonSchema, Deserialize, Serialize)] #[serde(tag = "t")] pub enum Kind { A, B, #[serde(other)] Unknown }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub kind: Kind } });

case!(tricky b47_field_read_through_a_fallible_conversion: refused("TryFrom"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub qty: u32 } }
    new { #[payload] #[derive(JsonSchema, Deserialize, Serialize)] #[serde(try_from = "u32")] pub struct Qty(u32);
          impl TryFrom<u32> for Qty {
              type Error = String;
              fn try_from(n: u32) -> Result<Self, String> {
                  if n == 0 { Err("a quantity is at least 1".into()) } else { Ok(Qty(n)) }
              }
          }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub qty: Qty } });

case!(tricky c52_field_read_through_an_infallible_conversion: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub qty: u32 } }
    new { #[payload] #[derive(JsonSchema, Deserialize, Serialize)] #[serde(from = "u32")] pub struct Qty(u64);
          impl From<u32> for Qty { fn from(n: u32) -> Self { Qty(n.into()) } }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub qty: Qty } });

case!(c53_fallible_conversion_kept: compatible,
    old { #[payload] #[derive(JsonSchema, Deserialize, Serialize)] #[serde(try_from = "u32")] pub struct Qty(u32);
          impl TryFrom<u32> for Qty {
              type Error = String;
              fn try_from(n: u32) -> Result<Self, String> {
                  if n == 0 { Err("a quantity is at least 1".into()) } else { Ok(Qty(n)) }
              }
          }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub qty: Qty, pub note: Option<String> } }
    new { #[payload] #[derive(JsonSchema, Deserialize, Serialize)] #[serde(try_from = "u32")] pub struct Qty(u32);
          impl TryFrom<u32> for Qty {
              type Error = String;
              fn try_from(n: u32) -> Result<Self, String> {
                  if n == 0 { Err("a quantity is at least 1".into()) } else { Ok(Qty(n)) }
              }
          }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub qty: Qty, pub note: Option<String>, pub extra: Option<u32> } }
    samples [serde_json::json!({ "qty": 3, "note": null })]);

case!(tricky b48_field_read_with_a_function_of_its_own: refused("reads it with"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub cents: i64 } }
    new { #[payload] #[derive(JsonSchema, Deserialize, Serialize)] pub struct E {
              #[serde(deserialize_with = "non_negative")] pub cents: i64 }
          fn non_negative<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
              let n = i64::deserialize(d)?;
              if n < 0 { Err(serde::de::Error::custom("negative")) } else { Ok(n) }
          } });

// ---- numbers: widening, narrowing, precision ----------------------------------------

case!(c54_u8_widened_to_u16: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub n: u8 } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub n: u16 } });

case!(b49_u16_narrowed_to_u8: refused("range"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub n: u16 } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub n: u8 } });

case!(b50_i32_to_u32: refused("range"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub n: i32 } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub n: u32 } });

case!(c55_u64_widened_to_u128: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub n: u64 } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub n: u128 } });

case!(b51_i64_narrowed_to_i16: refused("range"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub n: i64 } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub n: i16 } });

case!(c56_u32_read_as_double: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub n: u32 } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub n: f64 } });

case!(tricky b52_i64_read_as_double: lossy("precision"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub n: i64 } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub n: f64 } });

case!(tricky b53_u64_read_as_double: lossy("precision"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub n: u64 } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub n: f64 } });

case!(tricky b54_u32_read_as_float: lossy("precision"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub n: u32 } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub n: f32 } });

case!(tricky c57_u16_read_as_float: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub n: u16 } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub n: f32 } });

case!(b55_float_read_as_integer: refused("integer"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub x: f32 } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub x: i32 } });

case!(c58_i8_widened_to_i16: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub n: i8 } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub n: i16 } });

// ---- strings, lists, sets, maps ------------------------------------------------------

case!(c59_optional_char_becomes_optional_string: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub c: Option<char> } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub c: Option<String> } });

case!(b56_optional_string_becomes_optional_char: refused("length"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub c: Option<String> } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub c: Option<char> } });

case!(c60_fixed_array_becomes_list: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub xs: [u32; 2] } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub xs: Vec<u32> } });

case!(b57_list_becomes_pair: refused("length"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub xs: Vec<u32> } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub xs: (u32, u32) } });

case!(c61_map_keys_kept_values_widened: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub m: std::collections::HashMap<String, u32> } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub m: std::collections::BTreeMap<String, u64> } });

case!(b58_list_of_options_becomes_list: refused("null"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub xs: Vec<Option<u32>> } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub xs: Vec<u32> } });

case!(c62_list_becomes_list_of_options: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub xs: Vec<u32> } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub xs: Vec<Option<u32>> } });

case!(c63_set_becomes_list: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub xs: std::collections::BTreeSet<u32> } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub xs: Vec<u32> } });

case!(tricky b59_list_becomes_set: lossy("duplicates"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub xs: Vec<u32> } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub xs: std::collections::BTreeSet<u32> } });

case!(tricky b60_map_read_as_a_struct: lossy("xs"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub xs: std::collections::BTreeMap<String, u32> } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct Xs { pub a: Option<u32>, pub b: Option<u32> }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub xs: Xs } });

case!(c64_struct_read_as_a_map_of_anything: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct Inner { pub a: String, pub b: i64 }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub inner: Inner } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub inner: std::collections::BTreeMap<String, serde_json::Value> } });

case!(c65_boxed_field_unboxed: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub name: Box<str>, pub n: Box<u32> } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub name: String, pub n: u32 } });

case!(c66_required_becomes_optional_in_a_list: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct Line { pub qty: u32 }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub lines: Vec<Line> } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct Line { pub qty: Option<u32> }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub lines: Vec<Line> } });

// ---- newtypes, transparent, flatten, defaults, unknown fields ------------------------

case!(c67_field_wrapped_in_a_transparent_newtype: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub amount: u32 } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(transparent)] pub struct Cents(u32);
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub amount: Cents } });

case!(c68_field_wrapped_in_a_newtype_struct: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub amount: u32 } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct Cents(u64);
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub amount: Cents } });

case!(b61_nested_struct_denies_the_field_it_dropped: refused("denies unknown fields"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct Line { pub sku: String, pub note: String }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub line: Line } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(deny_unknown_fields)] pub struct Line { pub sku: String }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub line: Line } });

case!(c69_nested_struct_defaults_its_new_field: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct Line { pub sku: String }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub line: Line } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(default)] pub struct Line { pub sku: String, pub qty: u32 }
          impl Default for Line { fn default() -> Self { Line { sku: String::new(), qty: 1 } } }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub line: Line } });

case!(b62_fields_moved_into_a_nested_struct: refused("inner"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub a: String, pub b: u32 } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct Inner { pub b: u32 }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub a: String, pub inner: Inner } });

case!(tricky c70_fields_moved_into_a_flattened_struct: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub a: String, pub b: u32 } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct Inner { pub b: u32 }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub a: String, #[serde(flatten)] pub inner: Inner } });

case!(tricky b63_flattened_field_renamed_into_optional: lossy("b"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct Inner { pub b: u32 }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub a: String, #[serde(flatten)] pub inner: Inner } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct Inner { pub c: Option<u32> }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub a: String, #[serde(flatten)] pub inner: Inner } });

case!(c71_flattened_struct_inlined: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct Inner { pub b: u32 }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub a: String, #[serde(flatten)] pub inner: Inner } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub a: String, pub b: u32 } });

// ---- enum representations -------------------------------------------------------------

case!(b64_externally_tagged_becomes_internally_tagged: refused("pay"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub enum Pay { Card { last4: String }, Cash { till: u32 } }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub pay: Pay } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(tag = "type")] pub enum Pay { Card { last4: String }, Cash { till: u32 } }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub pay: Pay } });

case!(b65_externally_tagged_becomes_untagged: refused("pay"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub enum Pay { Card { last4: String }, Cash { till: u32 } }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub pay: Pay } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(untagged)] pub enum Pay { Card { last4: String }, Cash { till: u32 } }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub pay: Pay } });

case!(c72_internally_tagged_gains_a_variant: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(tag = "type")] pub enum Pay { Card { last4: String } }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub pay: Pay } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(tag = "type")] pub enum Pay { Card { last4: String }, Cash { till: u32 } }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub pay: Pay } });

case!(b66_tag_field_renamed: refused("pay"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(tag = "t")] pub enum Pay { Card { last4: String } }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub pay: Pay } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(tag = "type")] pub enum Pay { Card { last4: String } }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub pay: Pay } });

case!(c73_adjacently_tagged_content_widened: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(tag = "t", content = "c")] pub enum Pay { Card(String), Cash(u32) }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub pay: Pay } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(tag = "t", content = "c")] pub enum Pay { Card(String), Cash(u64) }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub pay: Pay } });

case!(b67_untagged_loses_the_only_variant_for_strings: refused("v"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(untagged)] pub enum V { Int(u32), Text(String) }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub v: V } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(untagged)] pub enum V { Int(u32) }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub v: V } });

case!(c74_untagged_later_variant_gains_optional_field: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(untagged)] pub enum V { Big { a: u32, b: u32 }, Small { a: u32 } }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub v: V } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(untagged)] pub enum V { Big { a: u32, b: u32 }, Small { a: u32, c: Option<u32> } }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub v: V } });

case!(tricky b68_untagged_smaller_variant_moved_first: lossy("untagged"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(untagged)] pub enum V { Big { a: u32, b: u32 }, Small { a: u32 } }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub v: V } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(untagged)] pub enum V { Small { a: u32 }, Big { a: u32, b: u32 } }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub v: V } });

case!(b69_field_of_a_tagged_variant_renamed_into_optional: lossy("till"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(tag = "type")] pub enum Pay { Card { last4: String }, Cash { till: u32 } }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub pay: Pay } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(tag = "type")] pub enum Pay { Card { last4: String }, Cash { drawer: Option<u32> } }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub pay: Pay } });

case!(c75_enum_becomes_optional: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub enum Kind { A, B }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub kind: Kind } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub enum Kind { A, B }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub kind: Option<Kind> } });

case!(c76_recursive_enum_gains_a_variant: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub enum Expr { Num(i32), Add(Box<Expr>, Box<Expr>) }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub expr: Expr } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub enum Expr { Num(i32), Add(Box<Expr>, Box<Expr>), Neg(Box<Expr>) }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub expr: Expr } });

case!(b70_recursive_enum_loses_a_variant: refused("expr"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub enum Expr { Num(i32), Add(Box<Expr>, Box<Expr>) }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub expr: Expr } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub enum Expr { Num(i32) }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub expr: Expr } });

case!(b71_list_of_pairs_becomes_map: refused("type changed"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub xs: Vec<(String, u32)> } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub xs: std::collections::BTreeMap<String, u32> } });

case!(c77_bool_becomes_optional: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub flag: bool } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub flag: Option<bool> } });

case!(b72_char_becomes_number: refused("type changed"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub c: char } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub c: u32 } });

case!(b73_i128_read_as_double: lossy("precision"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub n: i128 } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub n: f64 } });

// ---- deprecation lifecycle: sunset dates (issue 14) -----------------------------------

fn deprecated_until(sunset: &str) -> Catalog {
    let mut entry = versioned(1, &[], payload("a", "string"));
    entry.deprecated = Some("use corpus.F".into());
    entry.deprecated_since = Some("2.3".into());
    entry.sunset = Some(sunset.into());
    entry.replaced_by = Some("corpus.F".into());
    catalog_with([entry])
}

#[test]
fn b74_deprecated_event_removed_before_its_sunset() {
    let report = factum_catalog::check_on(
        &deprecated_until("2027-01-31"),
        &catalog_with([]),
        "2027-01-30",
    );
    assert_eq!(report.len(), 1, "{report:?}");
    assert!(
        report[0]
            .reason
            .contains("before its sunset date 2027-01-31")
            && report[0].reason.contains("corpus.F"),
        "{report:?}"
    );
}

#[test]
fn c78_deprecated_event_removed_on_its_sunset() {
    for today in ["2027-01-31", "2031-12-01"] {
        let report =
            factum_catalog::check_on(&deprecated_until("2027-01-31"), &catalog_with([]), today);
        assert_eq!(report, [], "on {today}");
    }
}

#[test]
fn b77_sunset_that_is_no_date_holds_the_removal_back() {
    let report = factum_catalog::check_on(
        &deprecated_until("2027-6-30"),
        &catalog_with([]),
        "2031-01-01",
    );
    assert_eq!(report.len(), 1, "{report:?}");
    assert!(
        report[0].reason.contains("not a YYYY-MM-DD date"),
        "{report:?}"
    );
}

#[test]
fn b78_sunset_moved_earlier() {
    let report = factum_catalog::check_on(
        &deprecated_until("2027-06-30"),
        &deprecated_until("2027-01-31"),
        "2026-12-05",
    );
    assert_eq!(report.len(), 1, "{report:?}");
    assert!(report[0].reason.contains("moved earlier"), "{report:?}");
    let later = factum_catalog::check_on(
        &deprecated_until("2027-06-30"),
        &deprecated_until("2028-01-31"),
        "2026-12-05",
    );
    assert_eq!(later, []);
}

#[test]
fn the_schedule_survives_the_asyncapi_document() {
    let catalog = deprecated_until("2027-01-31");
    let document = factum_catalog::asyncapi::to_document(&catalog);
    let read = factum_catalog::asyncapi::from_document(&document).unwrap();
    let entry = &read.events["corpus.E"];
    assert_eq!(entry.sunset.as_deref(), Some("2027-01-31"));
    assert_eq!(entry.deprecated_since.as_deref(), Some("2.3"));
    assert_eq!(entry.replaced_by.as_deref(), Some("corpus.F"));
    let html = factum_catalog::render_html(&read);
    assert!(
        html.contains("since 2.3; kept until 2027-01-31; replaced by <a href=\"#corpus.F\">"),
        "{html}"
    );
}

case!(tricky b75_untagged_wide_integer_reordered_after_float: lossy("untagged"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(untagged)] pub enum V { Int(u64), Float(f64) }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub v: V } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(untagged)] pub enum V { Float(f64), Int(u64) }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub v: V } });

case!(tricky c79_optional_field_keeps_its_reader: compatible,
    old { #[derive(JsonSchema, Deserialize, Serialize)] pub struct Sku(String);
          #[payload] #[derive(JsonSchema, Deserialize, Serialize)] pub struct E {
              #[serde(default, deserialize_with = "some_sku")] pub sku: Option<Sku>, pub n: u32 }
          fn some_sku<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Sku>, D::Error> {
              Option::<Sku>::deserialize(d)
          } }
    new { #[derive(JsonSchema, Deserialize, Serialize)] pub struct Sku(String);
          #[payload] #[derive(JsonSchema, Deserialize, Serialize)] pub struct E {
              #[serde(default, deserialize_with = "some_sku")] pub sku: Option<Sku>, pub n: u64 }
          fn some_sku<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Sku>, D::Error> {
              Option::<Sku>::deserialize(d)
          } });

case!(tricky b76_catch_all_added_while_a_variant_narrows: refused("range"),
    old { #[derive(JsonSchema, Deserialize, Serialize)] #[serde(tag = "t")] pub enum Kind { A { x: u32 }, B }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub kind: Kind } }
    new { #[payload] #[derive(JsonSchema, Deserialize, Serialize)] #[serde(tag = "t")] pub enum Kind { A { x: u8 }, B, #[serde(other)] Unknown }
          #[derive(JsonSchema, Deserialize, Serialize)] pub struct E { pub kind: Kind } });
