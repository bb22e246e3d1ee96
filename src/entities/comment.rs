//! Comments on posts: per tenant, like posts.

use sea_orm::entity::prelude::*;
use sea_tenancy::Multitenant;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Multitenant)]
#[sea_orm(table_name = "comments")]
#[multitenant(strategy = "schema")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub post_id: i64,
    pub body: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::post::Entity",
        from = "Column::PostId",
        to = "super::post::Column::Id",
        on_delete = "Cascade"
    )]
    Post,
}

impl Related<super::post::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Post.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
