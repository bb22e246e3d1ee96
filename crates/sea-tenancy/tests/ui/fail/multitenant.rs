// #[derive(Multitenant)] misuses, one module each: every error points at the offending token.
// (One file per derive: each compile-fail file is a separate build in trybuild.)

mod missing_attribute {
    use sea_orm::entity::prelude::*;
    use sea_tenancy::Multitenant;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Multitenant)]
    #[sea_orm(table_name = "memberships")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub org_id: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

mod unknown_strategy {
    use sea_orm::entity::prelude::*;
    use sea_tenancy::Multitenant;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Multitenant)]
    #[sea_orm(table_name = "memberships")]
    #[multitenant(strategy = "schemaa")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub org_id: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

mod unknown_key {
    use sea_orm::entity::prelude::*;
    use sea_tenancy::Multitenant;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Multitenant)]
    #[sea_orm(table_name = "memberships")]
    #[multitenant(strategy = "schema", tenant = "x")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub org_id: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

mod attribute_without_column {
    use sea_orm::entity::prelude::*;
    use sea_tenancy::Multitenant;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Multitenant)]
    #[sea_orm(table_name = "memberships")]
    #[multitenant(strategy = "attribute")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub org_id: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

mod column_with_schema_strategy {
    use sea_orm::entity::prelude::*;
    use sea_tenancy::Multitenant;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Multitenant)]
    #[sea_orm(table_name = "memberships")]
    #[multitenant(strategy = "schema", column = "org_id")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub org_id: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

mod misspelled_column {
    use sea_orm::entity::prelude::*;
    use sea_tenancy::Multitenant;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Multitenant)]
    #[sea_orm(table_name = "memberships")]
    #[multitenant(strategy = "attribute", column = "orgid")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub org_id: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

mod not_named_model {
    use sea_tenancy::Multitenant;

    // The derive belongs on SeaORM's `Model` struct (where `DeriveEntityModel` generates `Entity`).
    #[derive(Multitenant)]
    #[multitenant(strategy = "schema")]
    pub struct Post {
        pub id: i64,
        pub org_id: i64,
    }
}

fn main() {}
