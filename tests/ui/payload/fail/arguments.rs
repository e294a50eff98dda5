#[factum::payload(aliases)]
#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Line {
    qty: u32,
}

fn main() {}
