//! Entities used by the generator tests: one of each tenancy and each foreign-key case, plus a
//! second version of `posts` for the alteration cases. Included with `mod` by the tests.
#![allow(dead_code)]

pub mod org {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "orgs")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub name: String,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

pub mod account {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "accounts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        #[sea_orm(unique)]
        pub email: String,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// Attribute strategy, target of a tenant-matched key; `slug` is unique per tenant.
pub mod project {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "projects")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub org_id: i64,
        #[sea_orm(unique)]
        pub slug: String,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// Attribute → attribute (composite key), attribute → global (plain key).
pub mod task {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "tasks")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub org_id: i64,
        pub project_id: Option<i64>,
        pub owner_id: i64,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::project::Entity",
            from = "Column::ProjectId",
            to = "super::project::Column::Id"
        )]
        Project,
        #[sea_orm(
            belongs_to = "super::account::Entity",
            from = "Column::OwnerId",
            to = "super::account::Column::Id"
        )]
        Owner,
    }
    impl ActiveModelBehavior for ActiveModel {}
}

/// Schema strategy: schema → global (qualified `public`).
pub mod post {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "posts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub title: String,
        pub author_id: i64,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::account::Entity",
            from = "Column::AuthorId",
            to = "super::account::Column::Id"
        )]
        Author,
    }
    impl ActiveModelBehavior for ActiveModel {}
}

/// `posts`, changed: `title` nullable with a default and longer, `views` added, an index.
pub mod post_v2 {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "posts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        #[sea_orm(column_type = "Text", nullable, default_value = "untitled")]
        pub title: Option<String>,
        pub author_id: i64,
        #[sea_orm(indexed, default_value = 0)]
        pub views: i32,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::account::Entity",
            from = "Column::AuthorId",
            to = "super::account::Column::Id"
        )]
        Author,
    }
    impl ActiveModelBehavior for ActiveModel {}
}

/// `posts` with `title` renamed to `headline` and the relation removed.
pub mod post_renamed {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "posts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub headline: String,
        pub author_id: i64,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// Schema → schema (unqualified).
pub mod comment {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "comments")]
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
    impl ActiveModelBehavior for ActiveModel {}
}

/// Global → schema: no foreign key possible.
pub mod audit {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audits")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub post_id: i64,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::post::Entity",
            from = "Column::PostId",
            to = "super::post::Column::Id"
        )]
        Post,
    }
    impl ActiveModelBehavior for ActiveModel {}
}

/// Attribute strategy with a uniqueness that already includes the primary key.
pub mod badge {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "badges")]
    pub struct Model {
        #[sea_orm(primary_key, unique)]
        pub id: i64,
        pub org_id: i64,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// Global → attribute (`project`): a plain key PostgreSQL takes and Citus refuses (a reference
/// table cannot reference a distributed one).
pub mod pin {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "pins")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub project_id: i64,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::project::Entity",
            from = "Column::ProjectId",
            to = "super::project::Column::Id"
        )]
        Project,
    }
    impl ActiveModelBehavior for ActiveModel {}
}

/// Attribute → attribute with `SetNull`: `SET NULL (project_id)` on a tenant-matched key, which
/// Citus refuses (the key includes the distribution column).
pub mod milestone {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "milestones")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub org_id: i64,
        pub project_id: Option<i64>,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::project::Entity",
            from = "Column::ProjectId",
            to = "super::project::Column::Id",
            on_delete = "SetNull"
        )]
        Project,
    }
    impl ActiveModelBehavior for ActiveModel {}
}

/// A name that fits PostgreSQL's 63 bytes, but whose unique constraint's name does not.
pub mod long {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "customer_subscription_renewal_reminder_delivery_attempts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        #[sea_orm(unique)]
        pub idempotency_key: String,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

use sea_tenancy::generate::{EntitySet, Tenancy};

pub fn attribute() -> Tenancy {
    Tenancy::Attribute {
        column: "org_id".into(),
    }
}

/// Every case at once.
pub fn all() -> EntitySet {
    EntitySet::new()
        .with::<org::Entity>(Tenancy::Global)
        .unwrap()
        .with::<account::Entity>(Tenancy::Global)
        .unwrap()
        .with::<project::Entity>(attribute())
        .unwrap()
        .with::<task::Entity>(attribute())
        .unwrap()
        .with::<post::Entity>(Tenancy::Schema)
        .unwrap()
        .with::<comment::Entity>(Tenancy::Schema)
        .unwrap()
        .with::<audit::Entity>(Tenancy::Global)
        .unwrap()
        .managing("orgs", &["id"])
}
