// #[derive(ManageTenant)] misuses, one module each: every error points at the offending token.
// (One file per derive: each compile-fail file is a separate build in trybuild.)

mod missing_template {
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
}

mod no_field {
    use sea_orm::entity::prelude::*;
    use sea_tenancy::ManageTenant;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, ManageTenant)]
    #[sea_orm(table_name = "organizations")]
    #[manage_tenant(template = ["org_"])]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub slug: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

mod unknown_field {
    use sea_orm::entity::prelude::*;
    use sea_tenancy::ManageTenant;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, ManageTenant)]
    #[sea_orm(table_name = "organizations")]
    #[manage_tenant(template = ["org_", org_id])]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub slug: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

mod bad_on_delete {
    use sea_orm::entity::prelude::*;
    use sea_tenancy::ManageTenant;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, ManageTenant)]
    #[sea_orm(table_name = "organizations")]
    #[manage_tenant(template = ["org_", id], on_delete = "cascade")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub slug: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

fn main() {}
