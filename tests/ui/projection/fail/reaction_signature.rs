use factum::saga::Reaction;
use factum::projection::{Envelope, HandlerError, ProjectionTx};
use factum::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, schemars::JsonSchema, Clone, Debug)]
struct Deposited {
    cents: i64,
}

struct Saga;

#[factum::process_manager(name = "saga")]
impl Saga {
    #[on]
    async fn wrong_context(&self, _tx: &mut ProjectionTx, _e: &Envelope<'_, Deposited>) -> Result<(), HandlerError> {
        Ok(())
    }
    #[on]
    async fn fine(&self, _cx: &Reaction, _e: &Envelope<'_, Deposited>) -> Result<(), HandlerError> {
        Ok(())
    }
}

fn main() {}
