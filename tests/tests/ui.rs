//! Compile-time behaviour of the derive macros: every misuse is a compile error with a
//! span on the offending tokens and a message that says how to fix it (`ui/**/fail`,
//! snapshots in the `.stderr` files beside them), and the supported forms compile and
//! behave (`ui/**/pass`).

#[test]
fn event_derive() {
    let t = trybuild::TestCases::new();
    t.pass("ui/event/pass/*.rs");
    t.compile_fail("ui/event/fail/*.rs");
}

#[test]
fn aggregate_macros() {
    let t = trybuild::TestCases::new();
    t.pass("ui/aggregate/pass/*.rs");
    t.compile_fail("ui/aggregate/fail/*.rs");
}

#[test]
fn projection_macros() {
    let t = trybuild::TestCases::new();
    t.pass("ui/projection/pass/*.rs");
    t.compile_fail("ui/projection/fail/*.rs");
}
