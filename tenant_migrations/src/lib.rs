//! Per-tenant migrations of the reference app: run once in every tenant schema.

pub use sea_orm_migration::prelude::*;

mod m20261123_112659_initial;

/// The tenant migration set.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(m20261123_112659_initial::Migration)]
    }
}
