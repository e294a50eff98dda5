#[factum::payload]
#[derive(serde::Deserialize)]
struct Line {
    #[serde(alias = "qty")]
    quantity: u32,
}

fn main() {}
