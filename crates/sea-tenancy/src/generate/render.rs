//! Operations → a sea-orm-migration source file, written the way a person writes one: sea-query
//! builders, a `down` that undoes `up`, `DeriveIden` enums for the names, comments where the
//! tenancy rules chose something, formatted by `prettyplease` (and `rustfmt` when installed).
//! The same operations always give the same bytes.

use std::collections::BTreeMap;

use heck::{ToSnakeCase, ToUpperCamelCase};
use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

use super::error::GenerateError;
use super::format::{self, rustfmt, uncomment, wrap};
use super::operation::Operation;
use super::snapshot::{Column, ForeignKey, Index, Set, Table};
use super::step::{Modify, Step, steps};

/// Names used by the file, collected while rendering: table → column variants.
#[derive(Default)]
struct Idens {
    tables: BTreeMap<String, Vec<String>>,
}

impl Idens {
    fn table(&mut self, table: &str) -> TokenStream {
        self.tables.entry(table.to_owned()).or_default();
        let t = enum_ident(table);
        quote!(#t::Table)
    }
    fn column(&mut self, table: &str, column: &str) -> TokenStream {
        let cols = self.tables.entry(table.to_owned()).or_default();
        if !cols.iter().any(|c| c == column) {
            cols.push(column.to_owned());
        }
        let t = enum_ident(table);
        let c = variant_ident(column);
        quote!(#t::#c)
    }
    fn columns(&mut self, table: &str, columns: &[String]) -> TokenStream {
        let cols: Vec<TokenStream> = columns.iter().map(|c| self.column(table, c)).collect();
        if cols.len() == 1 {
            cols.into_iter().next().expect("one")
        } else {
            quote!((#(#cols),*))
        }
    }
    fn enums(&self) -> TokenStream {
        let enums = self.tables.iter().map(|(table, columns)| {
            let name = enum_ident(table);
            let table_attr = if name.to_string().to_snake_case() == *table {
                quote!()
            } else {
                quote!(#[sea_orm(iden = #table)])
            };
            let variants = columns.iter().map(|c| {
                let v = variant_ident(c);
                if v.to_string().to_snake_case() == *c {
                    quote!(#v,)
                } else {
                    quote!(#[sea_orm(iden = #c)] #v,)
                }
            });
            quote! {
                #[derive(DeriveIden)]
                enum #name {
                    #table_attr
                    Table,
                    #(#variants)*
                }
            }
        });
        quote!(#(#enums)*)
    }
}

fn enum_ident(table: &str) -> Ident {
    Ident::new(&safe(table.to_upper_camel_case()), Span::call_site())
}

fn variant_ident(column: &str) -> Ident {
    let mut v = safe(column.to_upper_camel_case());
    if v == "Table" {
        v = "TableColumn".into();
    }
    Ident::new(&v, Span::call_site())
}

fn safe(mut s: String) -> String {
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, 'T');
    }
    s
}

/// A comment placeholder: prettyplease drops comments, so they travel as a macro call whose
/// string is turned into `//` lines after formatting.
fn comment(text: &str) -> TokenStream {
    let marker = format!("{}{text}", format::COMMENT_MARK);
    quote!(__comment__!(#marker);)
}

/// `.big_integer()` etc. for a PostgreSQL type as sea-query writes it.
fn column_type(sql: &str) -> TokenStream {
    let (base, args) = match sql.split_once('(') {
        Some((b, rest)) => (b.trim(), Some(rest.trim_end_matches(')'))),
        None => (sql, None),
    };
    let nums: Vec<u32> = args
        .map(|a| a.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_default();
    match (base, nums.as_slice()) {
        ("smallint", []) => quote!(.small_integer()),
        ("integer", []) => quote!(.integer()),
        ("bigint", []) => quote!(.big_integer()),
        ("varchar", []) => quote!(.string()),
        ("varchar", [n]) => quote!(.string_len(#n)),
        ("char", [n]) => quote!(.char_len(#n)),
        ("text", []) => quote!(.text()),
        ("boolean" | "bool", []) => quote!(.boolean()),
        ("real", []) => quote!(.float()),
        ("double precision", []) => quote!(.double()),
        ("numeric", []) => quote!(.decimal()),
        ("numeric", [p, s]) => quote!(.decimal_len(#p, #s)),
        ("date", []) => quote!(.date()),
        ("time", []) | ("time without time zone", []) => quote!(.time()),
        ("timestamp", []) | ("timestamp without time zone", []) => quote!(.date_time()),
        ("timestamp with time zone", []) => quote!(.timestamp_with_time_zone()),
        ("uuid", []) => quote!(.uuid()),
        ("json", []) => quote!(.json()),
        ("jsonb", []) => quote!(.json_binary()),
        ("bytea", []) => quote!(.binary()),
        _ => quote!(.custom(Alias::new(#sql))),
    }
}

fn column_def(idens: &mut Idens, table: &str, c: &Column, primary: bool) -> TokenStream {
    let name = idens.column(table, &c.name);
    let ty = column_type(&c.sql_type);
    let null = if c.nullable {
        quote!(.null())
    } else {
        quote!(.not_null())
    };
    let auto = if c.auto_increment {
        quote!(.auto_increment())
    } else {
        quote!()
    };
    let pk = if primary {
        quote!(.primary_key())
    } else {
        quote!()
    };
    let default = match &c.default {
        Some(d) => quote!(.default(Expr::cust(#d))),
        None => quote!(),
    };
    quote!(ColumnDef::new(#name) #ty #null #auto #pk #default)
}

fn action(a: &str) -> TokenStream {
    match a {
        "CASCADE" => quote!(ForeignKeyAction::Cascade),
        "SET NULL" => quote!(ForeignKeyAction::SetNull),
        "SET DEFAULT" => quote!(ForeignKeyAction::SetDefault),
        "RESTRICT" => quote!(ForeignKeyAction::Restrict),
        _ => quote!(ForeignKeyAction::NoAction),
    }
}

fn foreign_key(idens: &mut Idens, table: &str, fk: &ForeignKey) -> TokenStream {
    let name = &fk.name;
    let from_t = idens.table(table);
    let from_c = idens.columns(table, &fk.columns);
    let r = &fk.references;
    let to_t = idens.table(&r.table);
    let to_c = idens.columns(&r.table, &r.columns);
    let to = match &r.schema {
        Some(schema) => quote!(.to((Alias::new(#schema), #to_t), #to_c)),
        None => quote!(.to(#to_t, #to_c)),
    };
    let on_delete = fk.on_delete.as_deref().map(|a| {
        let a = action(a);
        quote!(.on_delete(#a))
    });
    let on_update = fk.on_update.as_deref().map(|a| {
        let a = action(a);
        quote!(.on_update(#a))
    });
    quote!(ForeignKey::create().name(#name).from(#from_t, #from_c) #to #on_delete #on_update)
}

fn fk_comment(fk: &ForeignKey) -> Option<TokenStream> {
    let r = &fk.references;
    if r.schema.is_some() {
        Some(comment(&format!(
            "`{}` lives in `public`, once for every tenant: the key names it with its schema.",
            r.table
        )))
    } else if fk.columns.len() > 1
        && fk.columns.len() == r.columns.len()
        && fk.columns[0] == r.columns[0]
    {
        Some(comment(&format!(
            "Tenant-matched key: a row may only reference `{}` rows of its own tenant (MATCH SIMPLE: a NULL reference is allowed).",
            r.table
        )))
    } else {
        None
    }
}

fn create_table(idens: &mut Idens, t: &Table) -> TokenStream {
    let mut body = Vec::new();
    let single_pk = t.primary_key.len() == 1;
    let table = idens.table(&t.name);
    for c in &t.columns {
        let primary = single_pk && t.primary_key[0] == c.name;
        let def = column_def(idens, &t.name, c, primary);
        body.push(quote!(.col(#def)));
    }
    if t.primary_key.len() > 1 {
        let cols = t.primary_key.iter().map(|c| idens.column(&t.name, c));
        body.push(quote!(.primary_key(Index::create() #(.col(#cols))*)));
    }
    let mut comments = Vec::new();
    for fk in &t.foreign_keys {
        if let Some(c) = fk_comment(fk) {
            comments.push(c);
        }
        let def = foreign_key(idens, &t.name, fk);
        body.push(quote!(.foreign_key(#def)));
    }
    for omitted in &t.omitted_foreign_keys {
        comments.push(comment(&format!(
            "No foreign key for `{}` → `{}`: {}.",
            omitted.columns.join(", "),
            omitted.table,
            omitted.reason
        )));
    }
    quote! {
        #(#comments)*
        manager.create_table(Table::create().table(#table) #(#body)* .to_owned()).await?;
    }
}

fn index(idens: &mut Idens, table: &str, index: &Index) -> TokenStream {
    let name = &index.name;
    let t = idens.table(table);
    let cols = index.columns.iter().map(|c| idens.column(table, c));
    let unique = if index.unique {
        quote!(.unique())
    } else {
        quote!()
    };
    quote! {
        manager.create_index(Index::create().name(#name).table(#t) #(.col(#cols))* #unique .to_owned()).await?;
    }
}

/// `manager.alter_table(Table::alter().table(T).<change>)`.
fn alter(idens: &mut Idens, table: &str, change: TokenStream) -> TokenStream {
    let t = idens.table(table);
    quote!(manager.alter_table(Table::alter().table(#t) #change .to_owned()).await?;)
}

/// `.modify_column(ColumnDef::new(T::C) <spec>)`.
fn modify(idens: &mut Idens, table: &str, column: &str, spec: TokenStream) -> TokenStream {
    let c = idens.column(table, column);
    alter(
        idens,
        table,
        quote!(.modify_column(ColumnDef::new(#c) #spec)),
    )
}

fn step(idens: &mut Idens, step: &Step) -> TokenStream {
    match step {
        // Plain SQL names its tables and columns itself (an enum variant only it used would be
        // dead code in the generated file).
        Step::Sql { sql, .. } => quote!(manager.get_connection().execute_unprepared(#sql).await?;),
        Step::Comment(text) => comment(text),
        Step::CreateTable(t) => create_table(idens, t),
        Step::DropTable(name) => {
            let table = idens.table(name);
            quote!(manager.drop_table(Table::drop().table(#table).to_owned()).await?;)
        }
        Step::ReferenceTable { table } => quote! {
            sea_tenancy::citus::reference_table(manager.get_connection(), #table).await?;
        },
        Step::DistributeTable { table, column } => quote! {
            sea_tenancy::citus::distribute_table(manager.get_connection(), #table, #column).await?;
        },
        Step::AddColumn { table, column } => {
            let def = column_def(idens, table, column, false);
            alter(idens, table, quote!(.add_column(#def)))
        }
        Step::DropColumn { table, column } => {
            let c = idens.column(table, column);
            alter(idens, table, quote!(.drop_column(#c)))
        }
        Step::RenameColumn { table, from, to } => {
            let f = idens.column(table, from);
            let n = idens.column(table, to);
            alter(idens, table, quote!(.rename_column(#f, #n)))
        }
        Step::ModifyColumn(Modify {
            table,
            column,
            sql_type,
            using,
            nullable,
            default,
        }) => {
            let ty = sql_type.as_deref().map(column_type);
            let using = using.as_ref().map(|u| quote!(.using(Expr::cust(#u))));
            let null = nullable.map(|n| {
                if n {
                    quote!(.null())
                } else {
                    quote!(.not_null())
                }
            });
            let default = default.as_ref().map(|d| quote!(.default(Expr::cust(#d))));
            modify(idens, table, column, quote!(#ty #null #default #using))
        }
        Step::Fill {
            table,
            column,
            value,
        } => {
            let t = idens.table(table);
            let c = idens.column(table, column);
            quote! {
                manager.execute(Query::update().table(#t).value(#c, Expr::cust(#value)).and_where(Expr::col(#c).is_null()).to_owned()).await?;
            }
        }
        Step::CreateIndex { table, index: i } => index(idens, table, i),
        Step::DropIndex { table, name } => {
            let t = idens.table(table);
            quote!(manager.drop_index(Index::drop().name(#name).table(#t).to_owned()).await?;)
        }
        Step::AddForeignKey {
            table,
            foreign_key: fk,
        } => {
            let note = fk_comment(fk);
            let def = foreign_key(idens, table, fk);
            quote! {
                #note
                manager.create_foreign_key(#def.to_owned()).await?;
            }
        }
        Step::DropForeignKey { table, name } => {
            let t = idens.table(table);
            quote!(manager.drop_foreign_key(ForeignKey::drop().name(#name).table(#t).to_owned()).await?;)
        }
        Step::EnableIsolation {
            table,
            column,
            keep_default,
            global_rows,
        } => {
            let function = match (*global_rows, *keep_default) {
                (false, true) => quote!(enable_tenant_isolation_keep_default),
                (false, false) => quote!(enable_tenant_isolation),
                (true, true) => quote!(enable_tenant_isolation_with_global_rows_keep_default),
                (true, false) => quote!(enable_tenant_isolation_with_global_rows),
            };
            quote! {
                sea_tenancy::rls::#function(manager.get_connection(), #table, #column).await?;
            }
        }
        Step::DisableIsolation { table, column } => quote! {
            sea_tenancy::rls::disable_tenant_isolation(manager.get_connection(), #table, #column).await?;
        },
        Step::InstallGuard { table, columns } => quote! {
            sea_tenancy::manage::install_guard(manager.get_connection(), #table, &[#(#columns),*]).await?;
        },
    }
}

fn operation(idens: &mut Idens, op: &Operation) -> TokenStream {
    steps(op).iter().map(|s| step(idens, s)).collect()
}

/// Renders one migration file of `set` from its ordered operations.
pub fn render(set: Set, ops: &[Operation]) -> Result<String, GenerateError> {
    let mut idens = Idens::default();
    let up: Vec<TokenStream> = ops.iter().map(|op| operation(&mut idens, op)).collect();
    let down: Vec<TokenStream> = Operation::rollback(ops)
        .iter()
        .map(|op| operation(&mut idens, op))
        .collect();
    let enums = idens.enums();
    let summary = ops
        .iter()
        .map(Operation::describe)
        .collect::<Vec<_>>()
        .join("; ");
    let header = match set {
        Set::Public => format!(
            " Generated by `generate-migrations` (public set: global and attribute tables): {summary}."
        ),
        Set::Tenant => format!(
            " Generated by `generate-migrations` (tenant set: run in every tenant schema): {summary}."
        ),
    };
    let header = wrap(&header, 95).into_iter().map(|line| format!(" {line}"));
    let file = quote! {
        #(#![doc = #header])*

        use sea_orm_migration::prelude::*;

        #[derive(DeriveMigrationName)]
        pub struct Migration;

        #[async_trait::async_trait]
        impl MigrationTrait for Migration {
            async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
                #(#up)*
                Ok(())
            }

            async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
                #(#down)*
                Ok(())
            }
        }

        #enums
    };
    let parsed: syn::File = syn::parse2(file).map_err(|e| GenerateError::Render(e.to_string()))?;
    let text = rustfmt(prettyplease::unparse(&parsed));
    Ok(rustfmt(uncomment(&text)))
}
