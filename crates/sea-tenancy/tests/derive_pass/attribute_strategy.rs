use sea_orm::entity::prelude::*;
use sea_tenancy::Multitenant;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Multitenant)]
#[sea_orm(table_name = "memberships")]
#[multitenant(strategy = "attribute", column = "org_id")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub org_id: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

fn main() {
    assert_eq!(
        <Entity as sea_tenancy::Multitenant>::STRATEGY,
        sea_tenancy::Strategy::Attribute { column: "org_id" }
    );
}
