use factum::projection::{Envelope, HandlerError, ProjectionTx};

struct NotAnEvent;

struct Balances;

#[factum::projection(name = "balances")]
impl Balances {
    #[on]
    async fn nope(&self, _tx: &mut ProjectionTx, _e: &Envelope<'_, NotAnEvent>) -> Result<(), HandlerError> {
        Ok(())
    }
}

fn main() {}
