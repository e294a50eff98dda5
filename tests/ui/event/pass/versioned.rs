use factum::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, schemars::JsonSchema, Debug, PartialEq)]
#[event(
    name = "bank.Deposited",
    version = 4,
    upcast(from = 1, with = v1_to_v2),
    upcast(from = 2, try_with = v2_to_v3),
    upcast(from = 3, with = rename_note),
    deprecated = "use bank.Credited"
)]
struct Deposited {
    cents: i64,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Deserialize)]
struct V1 {
    dollars: i64,
}

#[derive(Serialize, Deserialize)]
struct V2 {
    cents: i64,
}

fn v1_to_v2(old: V1) -> V2 {
    V2 { cents: old.dollars * 100 }
}

fn v2_to_v3(old: V2) -> Result<serde_json::Value, String> {
    if old.cents < 0 {
        return Err("negative deposit".into());
    }
    Ok(serde_json::json!({ "cents": old.cents, "memo": "legacy" }))
}

fn rename_note(mut v: serde_json::Value) -> serde_json::Value {
    if let Some(memo) = v.as_object_mut().and_then(|o| o.remove("memo")) {
        v["note"] = memo;
    }
    v
}

pub fn main() {
    let up = Deposited::upcast(1, serde_json::json!({ "dollars": 3 })).unwrap();
    assert_eq!(up, serde_json::json!({ "cents": 300, "note": "legacy" }));
    let err = Deposited::upcast(2, serde_json::json!({ "cents": -1 })).unwrap_err();
    assert!(err.to_string().contains("negative deposit"), "{err}");
    assert!(Deposited::upcast(5, serde_json::json!({})).is_err());
    let d = Deposited::descriptor();
    assert_eq!(d.upcasters, &[1, 2, 3]);
    assert_eq!(d.deprecated, Some("use bank.Credited"));
    assert_eq!(d.name, "bank.Deposited");
    let schema = (d.schema)();
    assert_eq!(schema.get("$schema").and_then(|s| s.as_str()), Some("http://json-schema.org/draft-07/schema#"));
}
