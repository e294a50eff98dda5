//! Factum's event catalog: the AsyncAPI document model, the BACKWARD_TRANSITIVE
//! compatibility checker that guards stored events against breaking schema changes, the
//! HTML/Markdown rendering, and the `factum-catalog` command line.
//!
//! The crate is deliberately empty until event descriptors exist to catalogue.
