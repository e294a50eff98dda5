use factum::projection::{Envelope, HandlerError, ProjectionTx};
use factum::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, schemars::JsonSchema, Clone, Debug)]
struct Deposited {
    cents: i64,
}

struct A;

#[factum::projection(name = "bad name!", version = 0, category = "has-dash")]
impl A {
    #[on]
    async fn one(&self, _tx: &mut ProjectionTx, _e: &Envelope<'_, Deposited>) -> Result<(), HandlerError> {
        Ok(())
    }
}

struct B;

#[factum::projection(name = "b", colour = "red")]
impl B {
    #[on]
    async fn one(&self, _tx: &mut ProjectionTx, _e: &Envelope<'_, Deposited>) -> Result<(), HandlerError> {
        Ok(())
    }
}

struct C;

#[factum::projection(name = "c")]
impl C {}

#[factum::projection(name = "d")]
struct D;

fn main() {}
