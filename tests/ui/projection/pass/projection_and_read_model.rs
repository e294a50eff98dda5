use factum::saga::{ProcessManager, Reaction};
use factum::projection::{Envelope, HandlerError, Projection, ProjectionTx};
use factum::projection::ColumnType;
use factum::{Event, ReadModel};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, schemars::JsonSchema, Clone, Debug)]
struct Deposited {
    cents: i64,
}

/// A balance.
#[derive(ReadModel, Serialize, Deserialize, Clone, Debug)]
struct AccountBalance {
    /// The account.
    #[key]
    account: String,
    cents: i64,
    note: Option<String>,
    at: chrono::DateTime<chrono::Utc>,
    id: uuid::Uuid,
    ok: bool,
    ratio: f64,
    tags: Vec<String>,
}

struct Balances;

#[factum::projection(name = "balances", version = 3, read_models(AccountBalance), category = "account")]
impl Balances {
    #[on]
    async fn deposited(&self, _tx: &mut ProjectionTx, e: &Envelope<'_, Deposited>) -> Result<(), HandlerError> {
        let _ = e.cents;
        Ok(())
    }
}

struct Notifier<S> {
    _store: S,
}

#[factum::process_manager(name = "notifier")]
impl<S: Send + Sync + 'static> Notifier<S> {
    #[on]
    async fn deposited(&self, cx: &Reaction, _e: &Envelope<'_, Deposited>) -> Result<(), HandlerError> {
        let _ = cx.metadata();
        Ok(())
    }
}

pub fn main() {
    assert_eq!(<Balances as Projection>::NAME, "balances");
    assert_eq!(<Balances as Projection>::VERSION, 3);
    assert_eq!(<Balances as Projection>::EVENT_TYPES, ["Deposited"]);
    assert_eq!(<Balances as Projection>::CATEGORIES, ["account"]);
    let d = AccountBalance::descriptor();
    assert_eq!(d.table, "account_balance");
    assert_eq!(d.key, "account");
    assert_eq!(d.description, "A balance.");
    let types: Vec<(ColumnType, bool)> = d.columns.iter().map(|c| (c.ty, c.nullable)).collect();
    assert_eq!(
        types,
        [
            (ColumnType::Text, false),
            (ColumnType::Integer, false),
            (ColumnType::Text, true),
            (ColumnType::Timestamp, false),
            (ColumnType::Uuid, false),
            (ColumnType::Boolean, false),
            (ColumnType::Real, false),
            (ColumnType::Json, false),
        ]
    );
    assert_eq!(<Notifier<()> as ProcessManager>::NAME, "notifier");
    assert_eq!(Balances::read_models()[0].table_for(3), "account_balance_v3");
}
