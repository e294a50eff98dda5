//! The JetStream backend (feature `nats`), being built: see `docs/JETSTREAM.md` for the
//! design. Its pieces (setup, subjects, journal messages, claims, appends) exist; the
//! `EventStore` over them does not yet.

// Until the store that uses them lands, the pieces are used only by their tests (and
// not every piece by them).
#![allow(dead_code)]

pub(crate) mod append;
pub(crate) mod claims;
pub(crate) mod config;
pub(crate) mod global;
pub(crate) mod journal;
pub(crate) mod message;
pub(crate) mod reads;
pub(crate) mod setup;
pub(crate) mod snapshots;
pub(crate) mod subjects;
#[cfg(test)]
pub(crate) mod testing;
