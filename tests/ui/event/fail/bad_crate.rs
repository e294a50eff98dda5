// Misuses of the `crate = "path"` key of #[derive(Event)] and #[derive(EventSet)].
use factum::{Event, EventSet};

#[derive(Event)]
#[event(crate = "not a path")]
struct NotAPath {}

#[derive(Event)]
#[event(crate = 5)]
struct NotAString {}

#[derive(Event)]
#[event(crate = "factum", crate = "factum")]
struct Twice {}

#[derive(Event)]
#[event(crate = "factum")]
#[event(crate = "factum")]
struct TwiceInTwoAttributes {}

#[derive(Event)]
#[event(crate = "factum<u8>")]
struct GenericPath {}

#[derive(EventSet)]
#[event_set(crate = "a b")]
enum SetNotAPath {
    One(u8),
}

#[derive(EventSet)]
#[event_set(krate = "factum")]
enum SetUnknownKey {
    One(u8),
}

#[derive(EventSet)]
#[event_set]
enum SetNoArguments {
    One(u8),
}

fn main() {}
