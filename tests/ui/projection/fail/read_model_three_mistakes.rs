// Independent mistakes of a read model, all reported at once: a misspelt struct-level
// key, a #[key] with arguments, and an #[index] with arguments.
use factum::ReadModel;
use serde::{Deserialize, Serialize};

#[derive(ReadModel, Serialize, Deserialize)]
#[read_model(tabel = "balances")]
struct Balance {
    #[key(primary)]
    account: String,
    #[index(unique)]
    owner: String,
}

fn main() {}
