use sea_orm::entity::prelude::*;
use sea_tenancy::Multitenant;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Multitenant)]
#[sea_orm(table_name = "posts")]
#[multitenant(strategy = "schema")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub title: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

fn main() {
    assert_eq!(
        <Entity as sea_tenancy::Multitenant>::STRATEGY,
        sea_tenancy::Strategy::Schema
    );
}
