//! Invitations: a membership's pending invitations, in one shared table whose rows carry their
//! organization in `org_id` (attribute strategy). The key to `memberships` is tenant-matched,
//! `(org_id, membership_id) → memberships (org_id, id)`: an invitation can only name a
//! membership of its own organization, on plain PostgreSQL and on Citus alike (where both
//! tables are distributed on `org_id`, colocated).

use sea_orm::entity::prelude::*;
use sea_tenancy::Multitenant;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Multitenant)]
#[sea_orm(table_name = "invitations")]
#[multitenant(strategy = "attribute", column = "org_id")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub org_id: i64,
    pub membership_id: i64,
    pub email: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The membership that invites; its invitations go with it.
    #[sea_orm(
        belongs_to = "super::membership::Entity",
        from = "Column::MembershipId",
        to = "super::membership::Column::Id",
        on_delete = "Cascade"
    )]
    Membership,
}

impl Related<super::membership::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Membership.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
