//! Compile-time behaviour of the derive macros: every misuse is a compile error with a
//! span on the offending tokens and a message that says how to fix it (`ui/**/fail`,
//! snapshots in the `.stderr` files beside them).
//!
//! The supported forms (`ui/**/pass`) are compiled and run by `ui_pass.rs` as modules of
//! an ordinary test, not here: with no pass cases trybuild only type-checks, which keeps
//! it from building every dependency a second time.

#[test]
fn event_derive() {
    trybuild::TestCases::new().compile_fail("ui/event/fail/*.rs");
}

#[test]
fn aggregate_macros() {
    trybuild::TestCases::new().compile_fail("ui/aggregate/fail/*.rs");
}

#[test]
fn projection_macros() {
    trybuild::TestCases::new().compile_fail("ui/projection/fail/*.rs");
}

#[test]
fn payload_attribute() {
    trybuild::TestCases::new().compile_fail("ui/payload/fail/*.rs");
}
