//! Compile tests of `#[derive(Multitenant)]` and `#[derive(ManageTenant)]`: the accepted forms build (and run), and every
//! misuse fails with an error pointing at the offending token.
//!
//! Regenerate the expected `.stderr` files with
//! `TRYBUILD=overwrite cargo test -p sea-tenancy --test derive_ui`, then review them.

#[test]
fn derive_ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
