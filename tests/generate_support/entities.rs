//! Entity versions for the round-trip cases of `tests/generate_roundtrip.rs`: one module per
//! version of a table (`pk1::Entity`, `pk2::Entity`), each named after the case that uses it.
#![allow(dead_code)]

/// Declares an entity module without relations: `entity!(module, "table", { fields })`.
macro_rules! entity {
    ($module:ident, $table:literal, { $($field:tt)* }) => {
        pub mod $module {
            use sea_orm::entity::prelude::*;
            #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
            #[sea_orm(table_name = $table)]
            pub struct Model { $($field)* }
            #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
            pub enum Relation {}
            impl ActiveModelBehavior for ActiveModel {}
        }
    };
}

// 1: a primary key that changes (and loses its identity).
entity!(pk1, "posts", {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub title: String,
});
entity!(pk2, "posts", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub title: String,
});

// 2: one entity through global → attribute → schema → global.
entity!(note, "notes", {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub org_id: i64,
    #[sea_orm(unique)]
    pub slug: String,
});

// 3: a tree of attribute rows.
pub mod node {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "nodes")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub org_id: i64,
        pub parent_id: Option<i64>,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(belongs_to = "Entity", from = "Column::ParentId", to = "Column::Id")]
        Parent,
    }
    impl ActiveModelBehavior for ActiveModel {}
}

// 4: identity removed, then added back.
entity!(counter1, "counters", {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub label: String,
});
entity!(counter2, "counters", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i64,
    pub label: String,
});

// 5: a global table tenant tables reference becomes a tenant table.
entity!(account, "accounts", {
    #[sea_orm(primary_key)]
    pub id: i64,
});
pub mod story {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "stories")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub account_id: i64,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::account::Entity",
            from = "Column::AccountId",
            to = "super::account::Column::Id"
        )]
        Account,
    }
    impl ActiveModelBehavior for ActiveModel {}
}

// 6: varchar → bigint (needs USING) → varchar (the way back needs it).
entity!(item1, "items", {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub qty: String,
});
entity!(item2, "items", {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub qty: i64,
});

// 7: `post.tags_count` and `post_tags.count` name the same index.
entity!(post, "post", {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(indexed)]
    pub tags_count: i32,
});
entity!(post_tag, "post_tags", {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(indexed)]
    pub count: i32,
});

// 8: a plain index of an attribute table.
entity!(remark, "remarks", {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub org_id: i64,
    #[sea_orm(indexed)]
    pub post_id: i64,
});

// 9: a tenant-matched key with ON DELETE SET NULL.
entity!(board, "boards", {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub org_id: i64,
});
pub mod card {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cards")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub org_id: i64,
        pub board_id: Option<i64>,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::board::Entity",
            from = "Column::BoardId",
            to = "super::board::Column::Id",
            on_delete = "SetNull"
        )]
        Board,
    }
    impl ActiveModelBehavior for ActiveModel {}
}

// 10: a field whose index name is over 63 bytes.
entity!(long_field, "subscriptions", {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(indexed)]
    pub renewal_reminder_delivery_attempt_idempotency_key: String,
});

// 11: a NOT NULL column without a default added to a table with rows, then dropped.
entity!(job1, "jobs", {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub title: String,
});
entity!(job2, "jobs", {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub title: String,
    pub priority: i32,
});

// 12: a cycle of optional keys.
pub mod member {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "members")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub club_id: Option<i64>,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::club::Entity",
            from = "Column::ClubId",
            to = "super::club::Column::Id"
        )]
        Club,
    }
    impl ActiveModelBehavior for ActiveModel {}
}
pub mod club {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "clubs")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub owner_id: Option<i64>,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::member::Entity",
            from = "Column::OwnerId",
            to = "super::member::Column::Id"
        )]
        Owner,
    }
    impl ActiveModelBehavior for ActiveModel {}
}

// 14: a tenant table isolated on its own id, which declares a default.
entity!(space, "spaces", {
    #[sea_orm(primary_key, auto_increment = false, default_expr = "Expr::cust(\"gen_random_uuid()\")")]
    pub id: Uuid,
    pub name: String,
});

// Column operations: rename, NOT NULL with a fill, default, index, drop.
entity!(article1, "articles", {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub title: String,
    pub body: Option<String>,
});
entity!(article2, "articles", {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub headline: String,
    pub body: String,
    #[sea_orm(indexed, default_value = 0)]
    pub views: i32,
});

// Keys and the guard: a relation added and removed, a table gaining and losing ManageTenant.
entity!(guild, "guilds", {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
});
entity!(guild_member1, "guild_members", {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub guild_id: i64,
});
pub mod guild_member2 {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "guild_members")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub guild_id: i64,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::guild::Entity",
            from = "Column::GuildId",
            to = "super::guild::Column::Id",
            on_delete = "Cascade"
        )]
        Guild,
    }
    impl ActiveModelBehavior for ActiveModel {}
}
