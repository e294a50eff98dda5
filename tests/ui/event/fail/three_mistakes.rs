// Three independent mistakes, all reported at once: an unknown key (which darling would
// otherwise report alone), a version of 0, and a generic event type.
use factum::Event;

#[derive(Event)]
#[event(colour = "red", version = 0)]
struct Opened<T> {
    owner: T,
}

fn main() {}
