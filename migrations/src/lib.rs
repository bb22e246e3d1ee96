//! Public (global) migrations of the reference app: tables that live once, in `public`.

pub use sea_orm_migration::prelude::*;

mod m20261201_080530_initial;
mod m20261201_080540_add_invitations;

/// The public migration set.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261201_080530_initial::Migration),
            Box::new(m20261201_080540_add_invitations::Migration),
        ]
    }
}
