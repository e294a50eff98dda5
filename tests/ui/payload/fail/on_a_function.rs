#[factum::payload]
fn line() {}

fn main() {}
