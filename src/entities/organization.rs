//! Organizations: the app's tenants. Each row owns schema `org_<id>`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "organizations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// The tenant this organization is: schema `org_<id>`, key `<id>`.
    pub fn tenant(&self) -> sea_tenancy::Tenant {
        sea_tenancy::Tenant::new(format!("org_{}", self.id), self.id)
            .expect("org_<integer> is always a valid schema name")
    }
}
