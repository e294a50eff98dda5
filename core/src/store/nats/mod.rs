//! The JetStream backend (feature `nats`), being built: see `docs/JETSTREAM.md` for the
//! design. Only its pieces exist yet; nothing here is a store.

// Until the store that uses them lands, the pieces are used only by their tests (and
// not every piece by them).
#![allow(dead_code)]

pub(crate) mod config;
pub(crate) mod message;
pub(crate) mod setup;
pub(crate) mod subjects;
