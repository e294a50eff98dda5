//! The JetStream backend (feature `nats`), being built: see `docs/JETSTREAM.md` for the
//! design. Only its pieces exist yet; nothing here is a store.

// The pieces are used by their tests until the store that uses them lands.
#![cfg_attr(not(test), allow(dead_code))]

pub(crate) mod subjects;
