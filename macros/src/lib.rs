//! Derive macros for Factum (`#[derive(Event)]`, aggregates, read models).
//!
//! This crate is re-exported by `factum`; depend on `factum`, not on this crate. Generated
//! code names only `::factum::__private` paths, so it keeps working under renamed imports.
//! The derives themselves arrive with the domain-modelling layer; until then the crate is
//! empty on purpose so the workspace layout and the dependency edge are fixed early.
