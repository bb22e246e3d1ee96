// Entities normally live in their own module: the generated impl and registration must resolve
// `Entity`/`Column` there, and the registry must find the table at run time.

mod post {
    use sea_orm::entity::prelude::*;
    use sea_tenancy::Multitenant;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Multitenant)]
    #[sea_orm(table_name = "posts")]
    #[multitenant(strategy = "attribute", column = "org_id")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub org_id: i64,
        pub title: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

fn main() {
    let expected = sea_tenancy::Strategy::Attribute { column: "org_id" };
    assert_eq!(
        <post::Entity as sea_tenancy::Multitenant>::STRATEGY,
        expected
    );

    let registry = sea_tenancy::Registry::global().expect("no conflicting declarations");
    let posts = registry.get("posts").expect("`posts` is registered");
    assert_eq!(posts.strategy, expected);
    assert!(
        posts.module.ends_with("::post"),
        "registered from module {:?}",
        posts.module
    );
    assert!(registry.get("memberships").is_none());
}
