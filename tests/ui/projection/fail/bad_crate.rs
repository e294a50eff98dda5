// Misuses of the `crate = "path"` key of #[factum::projection],
// #[factum::process_manager] and #[derive(ReadModel)].
use factum::saga::Reaction;
use factum::projection::{Envelope, HandlerError, ProjectionTx};
use factum::{Event, ReadModel};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, schemars::JsonSchema, Clone, Debug)]
struct Deposited {
    cents: i64,
}

struct A;

#[factum::projection(name = "a", crate = 1)]
impl A {
    #[on]
    async fn one(&self, _tx: &mut ProjectionTx, _e: &Envelope<'_, Deposited>) -> Result<(), HandlerError> {
        Ok(())
    }
}

struct B;

#[factum::process_manager(name = "b", crate = "factum", crate = "factum")]
impl B {
    #[on]
    async fn one(&self, _cx: &Reaction, _e: &Envelope<'_, Deposited>) -> Result<(), HandlerError> {
        Ok(())
    }
}

#[derive(ReadModel, Serialize, Deserialize)]
#[read_model(crate = "Vec<u8>")]
struct Balance {
    #[key]
    account: String,
}

fn main() {}
