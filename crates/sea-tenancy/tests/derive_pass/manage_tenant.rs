use sea_orm::entity::prelude::*;
use sea_tenancy::ManageTenant;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, ManageTenant)]
#[sea_orm(table_name = "organizations")]
#[manage_tenant(template = ["org_", id, "_", slug], on_delete = "drop", update = false)]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub slug: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

// `create` defaults to true, `update = false` was given: checked at compile time.
const _: () = assert!(
    <Entity as sea_tenancy::ManageTenant>::CREATE && !<Entity as sea_tenancy::ManageTenant>::UPDATE
);

fn main() {
    use sea_tenancy::{ManageTenant, OnDelete};
    let org = Model {
        id: 7,
        slug: "acme".into(),
    };
    assert_eq!(org.tenant().schema(), "org_7_acme");
    assert_eq!(org.tenant().key(), "7");
    assert_eq!(Entity::TEMPLATE_COLUMNS, &["id", "slug"]);
    assert_eq!(Entity::ON_DELETE, OnDelete::Drop);
    let bad = Model {
        id: 7,
        slug: "Acme Corp".into(),
    };
    assert!(bad.try_tenant().is_err());
}
