//! The JetStream backend (feature `nats`): [`NatsStore`], configured by [`NatsConfig`].
//! The design, the mapping of streams, versions and positions onto JetStream, and its
//! limits are in `docs/JETSTREAM.md`.

pub(crate) mod append;
pub(crate) mod claims;
pub(crate) mod config;
pub(crate) mod global;
pub(crate) mod journal;
pub(crate) mod message;
pub(crate) mod reads;
pub(crate) mod setup;
pub(crate) mod snapshots;
pub(crate) mod store;
pub(crate) mod subjects;
#[cfg(test)]
pub(crate) mod testing;
pub(crate) mod unique;

pub use config::NatsConfig;
pub use store::NatsStore;
