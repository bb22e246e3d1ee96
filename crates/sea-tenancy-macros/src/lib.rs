//! Derive macros of [sea-tenancy](https://docs.rs/sea-tenancy). Use them through the
//! `sea_tenancy` re-exports; the generated code names `::sea_tenancy` paths.

mod manage_tenant;
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

/// Marks the entity whose rows are tenants.
///
/// `#[manage_tenant(template = ["org_", id])]` names each row's schema (`org_<id>`); options:
/// `create = false` (schemas are made elsewhere), `update = false` (never rename),
/// `on_delete = "keep" | "drop"` (default `keep`: deleting a row never loses a schema by
/// accident). It implements `sea_tenancy::ManageTenant` for `Entity` and adds
/// `Model::tenant()` / `Model::try_tenant()`.
#[proc_macro_derive(ManageTenant, attributes(manage_tenant))]
pub fn derive_manage_tenant(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    manage_tenant::expand(input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
