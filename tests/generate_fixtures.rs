//! The rendered migration files of the round-trip cases are the generator's current output: each
//! case of `generate_support/cases.rs` is generated step by step in a scratch app (`--check`
//! passing after each step), and every file must equal its copy under
//! `generate_support/roundtrip/`, which `generate_roundtrip.rs` compiles and runs.
//! `UPDATE_GENERATED=1 cargo test --test generate_fixtures` rewrites them (and their `mod.rs`);
//! kept apart from `generate_roundtrip.rs` so fixtures that no longer compile can be rewritten.

#[path = "generate_support/cases.rs"]
mod cases;
#[path = "generate_support/entities.rs"]
mod entities;
#[path = "generate_support/scratch.rs"]
mod scratch;

use scratch::{fixtures, generate, index};

#[test]
fn rendered_files_are_current() {
    let update = std::env::var_os("UPDATE_GENERATED").is_some();
    let mut names = Vec::new();
    let mut stale = Vec::new();
    for case in cases::all() {
        for step in generate(&case) {
            for (_, name, text) in step.files {
                let path = fixtures().join(format!("{name}.rs"));
                if update {
                    std::fs::write(&path, &text).unwrap();
                } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                    stale.push(name.clone());
                }
                names.push(name);
            }
        }
    }
    let index_path = fixtures().join("mod.rs");
    let index = index(&names);
    if update {
        std::fs::write(&index_path, &index).unwrap();
    } else if std::fs::read_to_string(&index_path).ok().as_deref() != Some(index.as_str()) {
        stale.push("mod.rs".into());
    }
    assert!(
        stale.is_empty(),
        "rendered files differ from the compiled fixtures {stale:?}: run `UPDATE_GENERATED=1 cargo test --test generate_fixtures` and review the diff"
    );
}
