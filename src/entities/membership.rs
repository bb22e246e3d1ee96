//! Memberships: which user belongs to which organization, in one shared table whose rows carry
//! their organization in `org_id` (attribute strategy).

use sea_orm::entity::prelude::*;
use sea_tenancy::Multitenant;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Multitenant)]
#[sea_orm(table_name = "memberships")]
#[multitenant(strategy = "attribute", column = "org_id")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub org_id: i64,
    pub user_id: i64,
    pub role: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The organization (tenant) this membership belongs to; removed with it.
    #[sea_orm(
        belongs_to = "super::organization::Entity",
        from = "Column::OrgId",
        to = "super::organization::Column::Id",
        on_delete = "Cascade"
    )]
    Organization,
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id"
    )]
    User,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl Related<super::organization::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Organization.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
