//! The generated fixtures of `generate_render.rs`, compiled: every kind of generated code builds
//! against sea-orm-migration and sea-tenancy, and each is a `MigrationTrait`.

#[path = "generated/add_comments_tenant.rs"]
mod add_comments_tenant;
#[path = "generated/alter_posts_tenant.rs"]
mod alter_posts_tenant;
#[path = "generated/create_all_public.rs"]
mod create_all_public;
#[path = "generated/create_all_tenant.rs"]
mod create_all_tenant;
#[path = "generated/move_posts_public.rs"]
mod move_posts_public;
#[path = "generated/move_posts_tenant.rs"]
mod move_posts_tenant;
#[path = "generated/rename_posts_tenant.rs"]
mod rename_posts_tenant;

use sea_orm_migration::MigrationTrait;

#[test]
fn generated_migrations_build() {
    let all: Vec<Box<dyn MigrationTrait>> = vec![
        Box::new(add_comments_tenant::Migration),
        Box::new(alter_posts_tenant::Migration),
        Box::new(create_all_public::Migration),
        Box::new(create_all_tenant::Migration),
        Box::new(move_posts_public::Migration),
        Box::new(move_posts_tenant::Migration),
        Box::new(rename_posts_tenant::Migration),
    ];
    assert_eq!(all.len(), 7);
    assert!(all.iter().all(|m| !m.name().is_empty()));
}
