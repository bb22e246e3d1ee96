//! `#[derive(Multitenant)]`: parses `#[multitenant(..)]` and registers the entity.

use heck::ToUpperCamelCase;
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::{Data, DeriveInput, Fields, LitStr};

enum Strategy {
    Schema,
    Attribute { column: LitStr, global_rows: bool },
}

pub fn expand(input: DeriveInput) -> syn::Result<TokenStream> {
    // SeaORM's dense `#[sea_orm::model]` format copies the derives onto `ModelEx`: only the
    // struct named `Model` may produce the impls, or they would exist twice.
    if input.ident == "ModelEx" {
        return Ok(TokenStream::new());
    }
    if input.ident != "Model" {
        return Err(syn::Error::new(
            input.ident.span(),
            "#[derive(Multitenant)] goes on the entity's `Model` struct, next to `DeriveEntityModel`",
        ));
    }
    let fields = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(named) => named
                .named
                .iter()
                .filter_map(|f| f.ident.as_ref().map(|i| i.to_string()))
                .collect::<Vec<_>>(),
            _ => Vec::new(),
        },
        _ => {
            return Err(syn::Error::new(
                input.ident.span(),
                "#[derive(Multitenant)] only supports structs",
            ));
        }
    };
    let strategy = parse_attribute(&input, &fields)?;
    Ok(render(&strategy))
}

fn parse_attribute(input: &DeriveInput, fields: &[String]) -> syn::Result<Strategy> {
    let mut found = None;
    for attr in input
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("multitenant"))
    {
        if found.is_some() {
            return Err(syn::Error::new_spanned(
                attr,
                "#[multitenant(..)] is given more than once",
            ));
        }
        found = Some(attr);
    }
    let Some(attr) = found else {
        return Err(syn::Error::new(
            Span::call_site(),
            "#[derive(Multitenant)] needs #[multitenant(strategy = \"schema\")] or #[multitenant(strategy = \"attribute\", column = \"...\")]",
        ));
    };

    let mut strategy: Option<LitStr> = None;
    let mut column: Option<LitStr> = None;
    let mut global_rows: Option<syn::Path> = None;
    attr.parse_nested_meta(|meta| {
        if meta.path.is_ident("strategy") {
            strategy = Some(meta.value()?.parse()?);
            Ok(())
        } else if meta.path.is_ident("column") {
            column = Some(meta.value()?.parse()?);
            Ok(())
        } else if meta.path.is_ident("global_rows") {
            global_rows = Some(meta.path.clone());
            Ok(())
        } else {
            Err(meta.error(
                "unknown key: #[multitenant(..)] accepts `strategy`, `column` and `global_rows`",
            ))
        }
    })?;

    let Some(strategy) = strategy else {
        return Err(syn::Error::new_spanned(
            attr,
            "missing `strategy`: use strategy = \"schema\" or strategy = \"attribute\"",
        ));
    };
    match strategy.value().as_str() {
        "schema" => {
            if let Some(column) = column {
                return Err(syn::Error::new(
                    column.span(),
                    "`column` only applies to strategy = \"attribute\"; schema-strategy tables have no tenant column",
                ));
            }
            if let Some(path) = global_rows {
                return Err(syn::Error::new_spanned(
                    path,
                    "`global_rows` only applies to strategy = \"attribute\": rows without a tenant live in a table's tenant column",
                ));
            }
            Ok(Strategy::Schema)
        }
        "attribute" => {
            let Some(column) = column else {
                return Err(syn::Error::new(
                    strategy.span(),
                    "strategy = \"attribute\" needs the tenant column: add column = \"org_id\" (the field that holds the tenant key)",
                ));
            };
            if !fields.iter().any(|f| *f == column.value()) {
                return Err(syn::Error::new(
                    column.span(),
                    format!(
                        "`{}` is not a field of `Model`; the tenant column must be one of: {}",
                        column.value(),
                        fields.join(", ")
                    ),
                ));
            }
            Ok(Strategy::Attribute {
                column,
                global_rows: global_rows.is_some(),
            })
        }
        other => Err(syn::Error::new(
            strategy.span(),
            format!("unknown strategy `{other}`: expected \"schema\" or \"attribute\""),
        )),
    }
}

fn render(strategy: &Strategy) -> TokenStream {
    let (strategy_expr, column_check) = match strategy {
        Strategy::Schema => (quote!(::sea_tenancy::Strategy::Schema), TokenStream::new()),
        Strategy::Attribute { column, .. } => {
            let variant = syn::Ident::new(&column.value().to_upper_camel_case(), column.span());
            (
                quote!(::sea_tenancy::Strategy::Attribute { column: #column }),
                // Naming the `Column` variant ties the declared column to SeaORM's own model.
                quote_spanned! {column.span()=>
                    const _: fn() = || {
                        let _ = Column::#variant;
                    };
                },
            )
        }
    };
    let global_rows = matches!(
        strategy,
        Strategy::Attribute {
            global_rows: true,
            ..
        }
    );
    quote! {
        impl ::sea_tenancy::Multitenant for Entity {
            const STRATEGY: ::sea_tenancy::Strategy = #strategy_expr;
            const GLOBAL_ROWS: bool = #global_rows;
        }

        ::sea_tenancy::__private::inventory::submit! {
            ::sea_tenancy::registry::RegisteredEntity {
                table_name: || <Entity as ::sea_tenancy::__private::sea_orm::EntityName>::table_name(&Entity),
                strategy: #strategy_expr,
                global_rows: #global_rows,
                module: ::core::module_path!(),
            }
        }

        #column_check
    }
}
