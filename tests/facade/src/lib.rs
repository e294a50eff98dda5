//! A company facade crate: it re-exports Factum, and its users depend on it alone, naming
//! Factum as `acme::factum` (see `factum-tests-facade-user`).

pub use factum;
