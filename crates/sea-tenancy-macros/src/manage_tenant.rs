//! `#[derive(ManageTenant)]`: parses `#[manage_tenant(template = [..], ..)]`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Expr, ExprArray, Fields, Ident, Lit, LitBool, LitStr};

enum Part {
    Text(LitStr),
    Field(Ident),
}

pub fn expand(input: DeriveInput) -> syn::Result<TokenStream> {
    if input.ident == "ModelEx" {
        return Ok(TokenStream::new());
    }
    if input.ident != "Model" {
        return Err(syn::Error::new(
            input.ident.span(),
            "#[derive(ManageTenant)] goes on the entity's `Model` struct, next to `DeriveEntityModel`",
        ));
    }
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new(
            input.ident.span(),
            "#[derive(ManageTenant)] only supports structs",
        ));
    };
    let Fields::Named(named) = &data.fields else {
        return Err(syn::Error::new(
            input.ident.span(),
            "#[derive(ManageTenant)] needs named fields",
        ));
    };
    let fields: Vec<&Ident> = named
        .named
        .iter()
        .filter_map(|f| f.ident.as_ref())
        .collect();
    let primary_keys: Vec<&Ident> = named
        .named
        .iter()
        .filter(|f| f.attrs.iter().any(is_primary_key))
        .filter_map(|f| f.ident.as_ref())
        .collect();
    let key_ty = named
        .named
        .iter()
        .find(|f| f.attrs.iter().any(is_primary_key))
        .map(|f| f.ty.clone());
    let key = match primary_keys.as_slice() {
        [one] => *one,
        [] => {
            return Err(syn::Error::new(
                input.ident.span(),
                "#[derive(ManageTenant)] needs a `#[sea_orm(primary_key)]` field: its value is the tenant key",
            ));
        }
        _ => {
            return Err(syn::Error::new(
                input.ident.span(),
                "#[derive(ManageTenant)] needs a single-column primary key: its value is the tenant key",
            ));
        }
    };

    let mut template: Option<(ExprArray, Vec<Part>)> = None;
    let mut create = true;
    let mut update = true;
    let mut on_delete = quote!(::sea_tenancy::OnDelete::Keep);
    let mut seen = false;
    for attr in input
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("manage_tenant"))
    {
        seen = true;
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("template") {
                let array: ExprArray = meta.value()?.parse()?;
                let parts = parse_template(&array, &fields)?;
                template = Some((array, parts));
            } else if meta.path.is_ident("create") {
                create = meta.value()?.parse::<LitBool>()?.value;
            } else if meta.path.is_ident("update") {
                update = meta.value()?.parse::<LitBool>()?.value;
            } else if meta.path.is_ident("on_delete") {
                let lit: LitStr = meta.value()?.parse()?;
                on_delete = match lit.value().as_str() {
                    "keep" => quote!(::sea_tenancy::OnDelete::Keep),
                    "drop" => quote!(::sea_tenancy::OnDelete::Drop),
                    other => {
                        return Err(syn::Error::new(
                            lit.span(),
                            format!("unknown on_delete `{other}`: expected \"keep\" (the default) or \"drop\""),
                        ));
                    }
                };
            } else {
                return Err(meta.error(
                    "unknown key: #[manage_tenant(..)] accepts `template`, `create`, `update` and `on_delete`",
                ));
            }
            Ok(())
        })?;
    }
    let Some((_, parts)) = template else {
        let msg = if seen {
            "missing `template`: e.g. #[manage_tenant(template = [\"org_\", id])]"
        } else {
            "#[derive(ManageTenant)] needs #[manage_tenant(template = [\"org_\", id])]"
        };
        return Err(syn::Error::new(input.ident.span(), msg));
    };

    let pushes = parts.iter().map(|part| match part {
        Part::Text(lit) => quote!(schema.push_str(#lit);),
        Part::Field(field) => {
            quote!(::sea_tenancy::manage::TemplateValue::render(&model.#field, &mut schema);)
        }
    });
    // A template that reads only the primary key renders from a key alone: `Entity::tenant_for`.
    let key_only = parts.iter().all(|part| match part {
        Part::Field(field) => field == key,
        Part::Text(_) => true,
    });
    let tenant_for = match (&key_ty, key_only) {
        (Some(ty), true) => {
            let key_pushes = parts.iter().map(|part| match part {
                Part::Text(lit) => quote!(schema.push_str(#lit);),
                Part::Field(_) => {
                    quote!(::sea_tenancy::manage::TemplateValue::render(&key, &mut schema);)
                }
            });
            quote! {
                impl Entity {
                    /// The tenant whose primary key is `key`, rendered from the template without
                    /// reading its row (the template reads only the key). Whether such a row
                    /// exists is not checked: use `sea_tenancy::manage::find_tenant` for that.
                    pub fn tenant_for(key: #ty) -> ::std::result::Result<::sea_tenancy::Tenant, ::sea_tenancy::TenantError> {
                        let mut schema = ::std::string::String::new();
                        #(#key_pushes)*
                        ::sea_tenancy::Tenant::new(schema, ::std::string::ToString::to_string(&key))
                    }
                }
            }
        }
        _ => TokenStream::new(),
    };
    let template_columns: Vec<String> = parts
        .iter()
        .filter_map(|part| match part {
            Part::Field(field) => Some(field.to_string()),
            Part::Text(_) => None,
        })
        .collect();

    Ok(quote! {
        impl ::sea_tenancy::ManageTenant for Entity {
            const CREATE: bool = #create;
            const UPDATE: bool = #update;
            const ON_DELETE: ::sea_tenancy::OnDelete = #on_delete;
            const TEMPLATE_COLUMNS: &'static [&'static str] = &[#(#template_columns),*];

            fn tenant_schema(model: &Model) -> ::std::string::String {
                let mut schema = ::std::string::String::new();
                #(#pushes)*
                schema
            }

            fn tenant_key(model: &Model) -> ::std::string::String {
                ::std::string::ToString::to_string(&model.#key)
            }
        }

        /// Every tenant row of this entity: `TenancyApp::all_tenants`'s default when the program
        /// has one managing entity.
        fn __sea_tenancy_all_tenants(
            db: &::sea_tenancy::__private::sea_orm::DatabaseConnection,
        ) -> ::sea_tenancy::registry::TenantsFuture<'_> {
            ::std::boxed::Box::pin(::sea_tenancy::all_tenants::managed::<Entity, _>(db))
        }

        // Lets the migration generator install the guard trigger on this table, and the
        // runners list its tenants.
        ::sea_tenancy::__private::inventory::submit! {
            ::sea_tenancy::registry::RegisteredManageTenant {
                table_name: || <Entity as ::sea_tenancy::__private::sea_orm::EntityName>::table_name(&Entity),
                template_columns: &[#(#template_columns),*],
                module: ::core::module_path!(),
                all_tenants: __sea_tenancy_all_tenants,
            }
        }

        #tenant_for

        impl Model {
            /// The tenant this row is: its schema (from the `manage_tenant` template) and its
            /// key (the primary key).
            ///
            /// # Panics
            /// If the template renders an invalid schema name (possible only with text fields
            /// in the template; rows created through `sea_tenancy::manage::provision` never do).
            /// Use [`Model::try_tenant`] to handle that case.
            pub fn tenant(&self) -> ::sea_tenancy::Tenant {
                match self.try_tenant() {
                    ::std::result::Result::Ok(tenant) => tenant,
                    ::std::result::Result::Err(err) => ::std::panic!("{}", err),
                }
            }

            /// The tenant this row is, or why its template renders an invalid schema name.
            pub fn try_tenant(&self) -> ::std::result::Result<::sea_tenancy::Tenant, ::sea_tenancy::TenantError> {
                <Entity as ::sea_tenancy::ManageTenant>::tenant_of(self)
            }
        }
    })
}

fn is_primary_key(attr: &syn::Attribute) -> bool {
    if !attr.path().is_ident("sea_orm") {
        return false;
    }
    let mut found = false;
    let _ = attr.parse_nested_meta(|meta| {
        if meta.path.is_ident("primary_key") {
            found = true;
        }
        // Skip any value (`column_type = "..."`, ...).
        if meta.input.peek(syn::Token![=]) {
            let _: Expr = meta.value()?.parse()?;
        } else if meta.input.peek(syn::token::Paren) {
            let _: proc_macro2::Group = meta.input.parse()?;
        }
        Ok(())
    });
    found
}

fn parse_template(array: &ExprArray, fields: &[&Ident]) -> syn::Result<Vec<Part>> {
    if array.elems.is_empty() {
        return Err(syn::Error::new_spanned(
            array,
            "the template is empty: e.g. [\"org_\", id]",
        ));
    }
    let mut parts = Vec::new();
    for elem in &array.elems {
        match elem {
            Expr::Lit(lit) => match &lit.lit {
                Lit::Str(s) => parts.push(Part::Text(s.clone())),
                other => {
                    return Err(syn::Error::new_spanned(
                        other,
                        "template parts are string literals or field names",
                    ));
                }
            },
            Expr::Path(path) if path.path.get_ident().is_some() => {
                let ident = path.path.get_ident().expect("checked").clone();
                if !fields.iter().any(|f| **f == ident) {
                    let names: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
                    return Err(syn::Error::new(
                        ident.span(),
                        format!(
                            "`{ident}` is not a field of `Model`; template fields must be among: {}",
                            names.join(", ")
                        ),
                    ));
                }
                parts.push(Part::Field(ident));
            }
            other => {
                return Err(syn::Error::new_spanned(
                    other,
                    "template parts are string literals or field names",
                ));
            }
        }
    }
    if !parts.iter().any(|p| matches!(p, Part::Field(_))) {
        return Err(syn::Error::new_spanned(
            array,
            "the template names no field, so every row would get the same schema: add one, e.g. [\"org_\", id]",
        ));
    }
    Ok(parts)
}
