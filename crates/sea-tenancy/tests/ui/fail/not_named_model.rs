use sea_tenancy::Multitenant;

// The derive belongs on SeaORM's `Model` struct (where `DeriveEntityModel` generates `Entity`).
#[derive(Multitenant)]
#[multitenant(strategy = "schema")]
pub struct Post {
    pub id: i64,
    pub org_id: i64,
}

fn main() {}
