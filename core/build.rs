//! Declares `cfg(sql)`, set when an SQL backend (the `sqlite` or `postgres` feature) is
//! built: what needs an SQL database but not a particular one says `#[cfg(sql)]`, and
//! only the backends' own folders (`src/store/<backend>/`) name a backend's feature.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rustc-check-cfg=cfg(sql)");
    let on = |feature: &str| std::env::var_os(format!("CARGO_FEATURE_{feature}")).is_some();
    if on("SQLITE") || on("POSTGRES") {
        println!("cargo::rustc-cfg=sql");
    }
}
