use factum::ReadModel;
use serde::{Deserialize, Serialize};

#[derive(ReadModel, Serialize, Deserialize)]
struct IndexWithArguments {
    #[key]
    id: String,
    #[index(unique)]
    owner: String,
}

#[derive(ReadModel, Serialize, Deserialize)]
struct IndexedKey {
    #[key]
    #[index]
    id: String,
}

#[derive(ReadModel, Serialize, Deserialize)]
#[read_model(index(owner, ownr))]
struct UnknownIndexColumn {
    #[key]
    id: String,
    owner: String,
}

#[derive(ReadModel, Serialize, Deserialize)]
#[read_model(index())]
struct EmptyIndex {
    #[key]
    id: String,
}

fn main() {}
