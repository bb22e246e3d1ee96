//! Public (global) migrations of the reference app: tables that live once, in `public`.

pub use sea_orm_migration::prelude::*;

mod m20261123_112659_initial;
mod m20261123_115247_membership_org_fk;

/// The public migration set.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_112659_initial::Migration),
            Box::new(m20261123_115247_membership_org_fk::Migration),
        ]
    }
}
