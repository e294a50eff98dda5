//! The supported forms of the macros compile and behave: each file under `ui/**/pass` is
//! a module of this test, and its `main` (which asserts what the macros generated) runs
//! as a test of its own. The misuses are trybuild's job, in `ui.rs`.

macro_rules! pass_cases {
    ($($name:ident => $path:literal,)*) => {
        $(
            // The cases spell out every supported form, idiomatic or not
            // (`self: &mut Self` included), and keep fields only the macros read.
            #[allow(dead_code, clippy::needless_arbitrary_self_type)]
            #[path = $path]
            mod $name;

            #[test]
            fn $name() {
                $name::main();
            }
        )*
    };
}

pass_cases! {
    event_basic => "../ui/event/pass/basic.rs",
    event_versioned => "../ui/event/pass/versioned.rs",
    event_dropped => "../ui/event/pass/dropped.rs",
    event_deprecated => "../ui/event/pass/deprecated.rs",
    event_enums => "../ui/event/pass/enums.rs",
    payload_recorded => "../ui/payload/pass/recorded.rs",
    aggregate_basic => "../ui/aggregate/pass/basic.rs",
    aggregate_decision => "../ui/aggregate/pass/decision.rs",
    projection_and_read_model => "../ui/projection/pass/projection_and_read_model.rs",
}
