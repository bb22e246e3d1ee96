//! The public migration set: global and attribute-strategy tables, run once in `public`.
//! `generate-migrations` and `new-migration` write and register the migrations.

pub use sea_orm_migration::prelude::*;

mod m20261202_000319_initial;

/// The migration set.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(m20261202_000319_initial::Migration)]
    }
}
