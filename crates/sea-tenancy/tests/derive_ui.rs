//! Compile errors of `#[derive(Multitenant)]` and `#[derive(ManageTenant)]`: every misuse fails
//! with an error pointing at the offending token. One file per derive (`tests/ui/fail/`), one
//! module per misuse: trybuild compiles each file separately, so fewer files cost less.
//!
//! Only failures go through trybuild: with no passing case it runs `cargo check` (no code
//! generation, no linking) on its own copy of the dependencies. The accepted forms are ordinary
//! test binaries, `tests/derive_pass/*.rs`, built in the workspace's target.
//!
//! Regenerate the expected `.stderr` files with
//! `TRYBUILD=overwrite cargo test -p sea-tenancy --test derive_ui`, then review them.

#[test]
fn derive_ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
}
