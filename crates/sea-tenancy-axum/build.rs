//! Extracts the workspace README's "Web apps: axum" section into `OUT_DIR`, where `lib.rs`
//! includes it as documentation under `cfg(doctest)`: every Rust block of that section is then
//! compiled by `cargo test --doc`, so the README's axum code cannot drift from the API. Only
//! that section: the README's other snippets are fragments written for reading.

use std::path::Path;

const HEADING: &str = "## Web apps: axum\n";

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let readme = Path::new(&manifest).join("../../README.md");
    println!("cargo::rerun-if-changed={}", readme.display());
    let out =
        Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("readme_axum.md");
    let section = match std::fs::read_to_string(&readme) {
        Ok(text) => {
            // A renamed heading must not silently turn the README's code into untested text.
            let start = text.find(HEADING).unwrap_or_else(|| {
                panic!(
                    "{} has no `{}` section; update crates/sea-tenancy-axum/build.rs with the new heading",
                    readme.display(),
                    HEADING.trim_end()
                )
            });
            let body = &text[start..];
            let end = body[HEADING.len()..]
                .find("\n## ")
                .map_or(body.len(), |i| HEADING.len() + i + 1);
            body[..end].to_owned()
        }
        // Outside the workspace (a published crate) there is no README to test.
        Err(_) => String::new(),
    };
    std::fs::write(&out, section).expect("write the extracted README section");
}
