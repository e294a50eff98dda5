#[derive(serde::Deserialize, schemars::JsonSchema)]
#[factum::payload]
struct Line {
    #[serde(alias = "qty")]
    quantity: u32,
}

fn main() {}
