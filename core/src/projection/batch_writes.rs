//! Batch-level read-model writes: a batch's row changes are kept in memory, coalesced per
//! row key, and written when the batch commits (or before SQL of the handler's own runs),
//! as one multi-row statement per table and kind of change.
//!
//! A handler's [`update`](super::ProjectionTx::update) of a row the batch has not seen is
//! kept as a change waiting for the stored row: at flush, the stored rows of every such
//! key are loaded with one statement, the changes are applied in the order they were
//! made, and the results are written. So a batch of 10,000 events over 1,000 accounts
//! costs three statements, not 20,000.
//!
//! Each backend writes them its own way (`store/<backend>/read_side/rows.rs`: PostgreSQL
//! through `unnest` of one text array per column, SQLite through `json_each` of one JSON
//! array of rows), both with `ON CONFLICT ... DO UPDATE`. Keys are unique within a
//! statement by construction, which `ON CONFLICT` needs.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::collections::hash_map::Entry as MapEntry;

use serde_json::{Map, Value};

use super::ProjectionError;
use super::database::ReadSideTx;
use super::tx::{fields, row_error};
use crate::projection::read_model::{ReadModel, ReadModelDescriptor};

type Result<T, E = ProjectionError> = std::result::Result<T, E>;

/// A change of a row waiting for the stored row: gets it (`None`: no row) and returns
/// what the row becomes (`None`: deleted).
pub(super) type Change<M> = Box<dyn FnOnce(Option<M>) -> Option<M> + Send>;

/// What the batch knows of one row.
enum State<M> {
    /// The row as the batch has it (`None`: there is none); `dirty` when the table still
    /// holds something else.
    Known { row: Option<M>, dirty: bool },
    /// Changes, in order, to apply to the stored row once it is loaded.
    Waiting(Vec<Change<M>>),
}

struct Slot<M> {
    /// The key as JSON, to bind.
    key: Value,
    state: State<M>,
}

/// The pending rows of one read model.
pub(super) struct Rows<M> {
    slots: HashMap<String, Slot<M>>,
}

/// What a flush writes for one read model: whole rows (field maps) to insert or replace,
/// and keys to delete.
type Writes = (Vec<Map<String, Value>>, Vec<Value>);

/// One read model's pending rows, whatever its type.
trait PendingRows: Send {
    fn descriptor(&self) -> &'static ReadModelDescriptor;
    fn as_any(&mut self) -> &mut dyn Any;
    fn model_type(&self) -> TypeId;
    /// Keys whose changes wait for the stored row.
    fn waiting_keys(&self) -> Vec<Value>;
    /// Applies the waiting changes to the stored rows (JSON objects of their fields).
    fn resolve(&mut self, stored: Vec<Value>) -> Result<()>;
    /// Takes the rows to write (as field maps) and the keys to delete.
    fn take_writes(&mut self) -> Result<Writes>;
    fn is_empty(&self) -> bool;
}

/// The key text a slot is found by.
///
/// Times are stored to the microsecond: two time keys that differ below it are one row,
/// so they are one slot, and a loaded row's key finds the slot of the key it was asked
/// by.
fn slot_key(model: &ReadModelDescriptor, key: &Value) -> Result<String> {
    if model
        .key_column()
        .is_some_and(|c| c.ty == crate::projection::read_model::ColumnType::Timestamp)
        && let Some(micros) = key.as_str().and_then(super::tx::micros_of)
    {
        return Ok(format!("time:{micros}"));
    }
    serde_json::to_string(key).map_err(|e| row_error(model, e))
}

impl<M: ReadModel> Rows<M> {
    fn new() -> Self {
        Rows {
            slots: HashMap::new(),
        }
    }

    /// The row the batch has for `key`, if it knows it without the table.
    pub(super) fn known(&self, key: &Value) -> Result<Option<Option<M>>> {
        let model = M::descriptor();
        match self.slots.get(&slot_key(model, key)?) {
            Some(Slot {
                state: State::Known { row, .. },
                ..
            }) => Ok(Some(match row {
                None => None,
                Some(row) => Some(copy(row)?),
            })),
            _ => Ok(None),
        }
    }

    /// Records the stored row of `key` (read by the caller), applying what waited for it.
    pub(super) fn loaded(&mut self, key: Value, stored: Option<M>) -> Result<()> {
        let text = slot_key(M::descriptor(), &key)?;
        match self.slots.entry(text) {
            MapEntry::Vacant(v) => {
                v.insert(Slot {
                    key,
                    state: State::Known {
                        row: stored,
                        dirty: false,
                    },
                });
            }
            MapEntry::Occupied(mut o) => {
                let slot = o.get_mut();
                if let State::Waiting(changes) = &mut slot.state {
                    let mut row = stored;
                    for change in changes.drain(..) {
                        row = change(row);
                    }
                    slot.state = State::Known { row, dirty: true };
                }
            }
        }
        Ok(())
    }

    /// The row of `key` becomes `row` (`None`: deleted), whatever it was.
    pub(super) fn set(&mut self, key: Value, row: Option<M>) -> Result<()> {
        let text = slot_key(M::descriptor(), &key)?;
        self.slots.insert(
            text,
            Slot {
                key,
                state: State::Known { row, dirty: true },
            },
        );
        Ok(())
    }

    /// Applies `change` to the row of `key` now if the batch knows it, or once it is
    /// loaded.
    pub(super) fn change(&mut self, key: Value, change: Change<M>) -> Result<()> {
        let text = slot_key(M::descriptor(), &key)?;
        match self.slots.entry(text) {
            MapEntry::Vacant(v) => {
                v.insert(Slot {
                    key,
                    state: State::Waiting(vec![change]),
                });
            }
            MapEntry::Occupied(mut o) => match &mut o.get_mut().state {
                State::Waiting(changes) => changes.push(change),
                State::Known { row, dirty } => {
                    *row = change(row.take());
                    *dirty = true;
                }
            },
        }
        Ok(())
    }
}

/// A copy of a row through serde (read models need not be `Clone`).
fn copy<M: ReadModel>(row: &M) -> Result<M> {
    let model = M::descriptor();
    let value = serde_json::to_value(row).map_err(|e| row_error(model, e))?;
    serde_json::from_value(value).map_err(|e| row_error(model, e))
}

/// A stored row (its fields as a JSON object) decoded.
pub(super) fn decode_row<M: ReadModel>(fields: Value) -> Result<M> {
    serde_json::from_value(fields)
        .map_err(|e| row_error(M::descriptor(), format!("stored row does not decode: {e}")))
}

impl<M: ReadModel> PendingRows for Rows<M> {
    fn descriptor(&self) -> &'static ReadModelDescriptor {
        M::descriptor()
    }

    fn as_any(&mut self) -> &mut dyn Any {
        self
    }

    fn model_type(&self) -> TypeId {
        TypeId::of::<M>()
    }

    fn waiting_keys(&self) -> Vec<Value> {
        self.slots
            .values()
            .filter(|s| matches!(s.state, State::Waiting(_)))
            .map(|s| s.key.clone())
            .collect()
    }

    fn resolve(&mut self, stored: Vec<Value>) -> Result<()> {
        let model = M::descriptor();
        for fields in stored {
            let row: M = decode_row(fields)?;
            let key = serde_json::to_value(row.key()).map_err(|e| row_error(model, e))?;
            self.loaded(key, Some(row))?;
        }
        // Waiting keys without a stored row start from none.
        for slot in self.slots.values_mut() {
            if let State::Waiting(changes) = &mut slot.state {
                let mut row = None;
                for change in changes.drain(..) {
                    row = change(row);
                }
                slot.state = State::Known { row, dirty: true };
            }
        }
        Ok(())
    }

    fn take_writes(&mut self) -> Result<Writes> {
        let model = M::descriptor();
        let mut upserts = Vec::new();
        let mut deletes = Vec::new();
        for (_, slot) in self.slots.drain() {
            match slot.state {
                State::Known {
                    row: Some(row),
                    dirty: true,
                } => {
                    let value = serde_json::to_value(&row).map_err(|e| row_error(model, e))?;
                    let fields = fields(model, value)?;
                    // A handler that changed the key field inside a closure wrote another
                    // row than it named: refuse rather than write it under the wrong key.
                    if fields.get(model.key) != Some(&slot.key) {
                        return Err(row_error(
                            model,
                            format!(
                                "a change of the row with key {} returned a row with key {}; \
                                 changes must keep the key",
                                slot.key,
                                fields.get(model.key).unwrap_or(&Value::Null)
                            ),
                        ));
                    }
                    upserts.push(fields);
                }
                State::Known {
                    row: None,
                    dirty: true,
                } => deletes.push(slot.key),
                State::Known { dirty: false, .. } => {}
                State::Waiting(_) => {
                    return Err(row_error(
                        model,
                        "changes still wait for the stored row at flush (a bug in Factum)",
                    ));
                }
            }
        }
        Ok((upserts, deletes))
    }

    fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

/// The pending rows of every read model a batch has touched.
#[derive(Default)]
pub(super) struct WriteBuffer {
    models: Vec<Box<dyn PendingRows>>,
}

impl WriteBuffer {
    /// The pending rows of `M`.
    pub(super) fn rows<M: ReadModel>(&mut self) -> &mut Rows<M> {
        let at = match self
            .models
            .iter()
            .position(|m| m.model_type() == TypeId::of::<M>())
        {
            Some(at) => at,
            None => {
                self.models.push(Box::new(Rows::<M>::new()));
                self.models.len() - 1
            }
        };
        self.models[at]
            .as_any()
            .downcast_mut::<Rows<M>>()
            .expect("the slot of a type holds that type's rows")
    }

    /// Whether nothing is pending.
    pub(super) fn is_empty(&self) -> bool {
        self.models.iter().all(|m| m.is_empty())
    }

    /// Writes everything pending on `conn` (inside the batch's transaction) and empties
    /// the buffer; for read models that record their changes, records them too (see
    /// [`changes`](super::changes)). Returns whether it recorded any.
    pub(super) async fn flush(
        &mut self,
        conn: &mut dyn ReadSideTx,
        key: &super::ProjectionKey,
    ) -> Result<bool> {
        let (projection, version) = (key.name.as_str(), key.version);
        let mut recorded = false;
        for rows in &mut self.models {
            if rows.is_empty() {
                continue;
            }
            let model = rows.descriptor();
            let waiting = rows.waiting_keys();
            if !waiting.is_empty() {
                let stored = conn.load_rows(model, version, &waiting).await?;
                rows.resolve(stored)?;
            }
            let (upserts, deletes) = rows.take_writes()?;
            // A deletion's change carries the row deleted: read it before it goes.
            let deleted = if model.changes && !deletes.is_empty() {
                conn.load_rows(model, version, &deletes).await?
            } else {
                Vec::new()
            };
            if !upserts.is_empty() {
                conn.upsert_rows(model, version, &upserts).await?;
            }
            if !deletes.is_empty() {
                conn.delete_rows(model, version, &deletes).await?;
            }
            if model.changes && !(upserts.is_empty() && deleted.is_empty()) {
                super::changes::record(conn, projection, version, model, &upserts, &deleted)
                    .await?;
                recorded = true;
            }
        }
        Ok(recorded)
    }

    /// Drops everything pending (the batch rolled back).
    pub(super) fn clear(&mut self) {
        self.models.clear();
    }
}
