//! The rendered migrations of `tests/generate_roundtrip.rs`'s cases, compiled into it.
//! Written by `UPDATE_GENERATED=1 cargo test --test generate_fixtures`; do not edit.
#![deny(warnings)]

#[path = "c01_primary_key_s1_tenant.rs"]
pub mod c01_primary_key_s1_tenant;
#[path = "c01_primary_key_s2_tenant.rs"]
pub mod c01_primary_key_s2_tenant;
#[path = "c02_strategy_switch_s1_public.rs"]
pub mod c02_strategy_switch_s1_public;
#[path = "c02_strategy_switch_s2_public.rs"]
pub mod c02_strategy_switch_s2_public;
#[path = "c02_strategy_switch_s3_public.rs"]
pub mod c02_strategy_switch_s3_public;
#[path = "c02_strategy_switch_s3_tenant.rs"]
pub mod c02_strategy_switch_s3_tenant;
#[path = "c02_strategy_switch_s4_public.rs"]
pub mod c02_strategy_switch_s4_public;
#[path = "c02_strategy_switch_s4_tenant.rs"]
pub mod c02_strategy_switch_s4_tenant;
#[path = "c03_self_reference_s1_public.rs"]
pub mod c03_self_reference_s1_public;
#[path = "c04_identity_s1_tenant.rs"]
pub mod c04_identity_s1_tenant;
#[path = "c04_identity_s2_tenant.rs"]
pub mod c04_identity_s2_tenant;
#[path = "c04_identity_s3_tenant.rs"]
pub mod c04_identity_s3_tenant;
#[path = "c06_type_change_s1_public.rs"]
pub mod c06_type_change_s1_public;
#[path = "c06_type_change_s2_public.rs"]
pub mod c06_type_change_s2_public;
#[path = "c06_type_change_s3_public.rs"]
pub mod c06_type_change_s3_public;
#[path = "c07_index_names_s1_public.rs"]
pub mod c07_index_names_s1_public;
#[path = "c08_attribute_index_s1_public.rs"]
pub mod c08_attribute_index_s1_public;
#[path = "c09_set_null_s1_public.rs"]
pub mod c09_set_null_s1_public;
#[path = "c11_not_null_column_s1_tenant.rs"]
pub mod c11_not_null_column_s1_tenant;
#[path = "c11_not_null_column_s2_tenant.rs"]
pub mod c11_not_null_column_s2_tenant;
#[path = "c11_not_null_column_s3_tenant.rs"]
pub mod c11_not_null_column_s3_tenant;
#[path = "c12_key_cycle_s1_public.rs"]
pub mod c12_key_cycle_s1_public;
#[path = "c14_tenant_default_s1_public.rs"]
pub mod c14_tenant_default_s1_public;
#[path = "c14_tenant_default_s2_public.rs"]
pub mod c14_tenant_default_s2_public;
#[path = "op_columns_s1_tenant.rs"]
pub mod op_columns_s1_tenant;
#[path = "op_columns_s2_tenant.rs"]
pub mod op_columns_s2_tenant;
#[path = "op_columns_s3_tenant.rs"]
pub mod op_columns_s3_tenant;
#[path = "op_keys_and_guard_s1_public.rs"]
pub mod op_keys_and_guard_s1_public;
#[path = "op_keys_and_guard_s2_public.rs"]
pub mod op_keys_and_guard_s2_public;
#[path = "op_keys_and_guard_s3_public.rs"]
pub mod op_keys_and_guard_s3_public;
#[path = "op_keys_and_guard_s4_public.rs"]
pub mod op_keys_and_guard_s4_public;

use sea_orm_migration::MigrationTrait;

/// The migration of fixture `name`.
pub fn migration(name: &str) -> Option<Box<dyn MigrationTrait>> {
    let migration: Box<dyn MigrationTrait> = match name {
        "c01_primary_key_s1_tenant" => Box::new(c01_primary_key_s1_tenant::Migration),
        "c01_primary_key_s2_tenant" => Box::new(c01_primary_key_s2_tenant::Migration),
        "c02_strategy_switch_s1_public" => Box::new(c02_strategy_switch_s1_public::Migration),
        "c02_strategy_switch_s2_public" => Box::new(c02_strategy_switch_s2_public::Migration),
        "c02_strategy_switch_s3_public" => Box::new(c02_strategy_switch_s3_public::Migration),
        "c02_strategy_switch_s3_tenant" => Box::new(c02_strategy_switch_s3_tenant::Migration),
        "c02_strategy_switch_s4_public" => Box::new(c02_strategy_switch_s4_public::Migration),
        "c02_strategy_switch_s4_tenant" => Box::new(c02_strategy_switch_s4_tenant::Migration),
        "c03_self_reference_s1_public" => Box::new(c03_self_reference_s1_public::Migration),
        "c04_identity_s1_tenant" => Box::new(c04_identity_s1_tenant::Migration),
        "c04_identity_s2_tenant" => Box::new(c04_identity_s2_tenant::Migration),
        "c04_identity_s3_tenant" => Box::new(c04_identity_s3_tenant::Migration),
        "c06_type_change_s1_public" => Box::new(c06_type_change_s1_public::Migration),
        "c06_type_change_s2_public" => Box::new(c06_type_change_s2_public::Migration),
        "c06_type_change_s3_public" => Box::new(c06_type_change_s3_public::Migration),
        "c07_index_names_s1_public" => Box::new(c07_index_names_s1_public::Migration),
        "c08_attribute_index_s1_public" => Box::new(c08_attribute_index_s1_public::Migration),
        "c09_set_null_s1_public" => Box::new(c09_set_null_s1_public::Migration),
        "c11_not_null_column_s1_tenant" => Box::new(c11_not_null_column_s1_tenant::Migration),
        "c11_not_null_column_s2_tenant" => Box::new(c11_not_null_column_s2_tenant::Migration),
        "c11_not_null_column_s3_tenant" => Box::new(c11_not_null_column_s3_tenant::Migration),
        "c12_key_cycle_s1_public" => Box::new(c12_key_cycle_s1_public::Migration),
        "c14_tenant_default_s1_public" => Box::new(c14_tenant_default_s1_public::Migration),
        "c14_tenant_default_s2_public" => Box::new(c14_tenant_default_s2_public::Migration),
        "op_columns_s1_tenant" => Box::new(op_columns_s1_tenant::Migration),
        "op_columns_s2_tenant" => Box::new(op_columns_s2_tenant::Migration),
        "op_columns_s3_tenant" => Box::new(op_columns_s3_tenant::Migration),
        "op_keys_and_guard_s1_public" => Box::new(op_keys_and_guard_s1_public::Migration),
        "op_keys_and_guard_s2_public" => Box::new(op_keys_and_guard_s2_public::Migration),
        "op_keys_and_guard_s3_public" => Box::new(op_keys_and_guard_s3_public::Migration),
        "op_keys_and_guard_s4_public" => Box::new(op_keys_and_guard_s4_public::Migration),
        _ => return None,
    };
    Some(migration)
}
