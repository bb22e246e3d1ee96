//! Derive macros of [sea-tenancy](https://docs.rs/sea-tenancy). Use them through the
//! `sea_tenancy` re-exports; the generated code names `::sea_tenancy` paths.

mod multitenant;

use proc_macro::TokenStream;

/// Declares how an entity's rows are kept apart.
///
/// Put it next to SeaORM's `DeriveEntityModel` on the `Model` struct:
///
/// - `#[multitenant(strategy = "schema")]`: one table per tenant, in the tenant's schema;
/// - `#[multitenant(strategy = "attribute", column = "org_id")]`: a shared table whose rows carry
///   the tenant key in `org_id`.
///
/// It implements `sea_tenancy::Multitenant` for `Entity` and registers the entity, so the
/// router and the migration tooling find it at run time.
#[proc_macro_derive(Multitenant, attributes(multitenant))]
pub fn derive_multitenant(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    multitenant::expand(input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
