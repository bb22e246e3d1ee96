use sea_orm::entity::prelude::*;
use sea_tenancy::ManageTenant;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, ManageTenant)]
#[sea_orm(table_name = "organizations")]
#[manage_tenant(on_delete = "drop")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub slug: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

fn main() {}
