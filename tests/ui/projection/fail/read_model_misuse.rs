use factum::ReadModel;
use serde::{Deserialize, Serialize};

#[derive(ReadModel, Serialize, Deserialize)]
struct NoKey {
    cents: i64,
}

#[derive(ReadModel, Serialize, Deserialize)]
struct TwoKeys {
    #[key]
    a: String,
    #[key]
    b: String,
}

#[derive(ReadModel, Serialize, Deserialize)]
struct OptionalKey {
    #[key]
    a: Option<String>,
}

#[derive(ReadModel, Serialize, Deserialize)]
#[read_model(table = "Bad-Name")]
struct BadTable {
    #[key]
    a: String,
}

#[derive(ReadModel, Serialize, Deserialize)]
#[read_model(tabel = "x")]
struct UnknownKey {
    #[key]
    a: String,
}

#[derive(ReadModel, Serialize, Deserialize)]
enum NotAStruct {
    A,
}

#[derive(ReadModel, Serialize, Deserialize)]
struct Tuple(String);

fn main() {}
