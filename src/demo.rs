//! `cargo run -- demo`: the reference app's main job end to end, in a database of its own.
//!
//! Creates (or recreates) database `saas_app_demo`, migrates `public`, signs up two
//! organizations (each gets its own schema, fully migrated), writes posts and memberships
//! through tenant connections, and shows that each organization sees only its own data.

use sea_orm::{ActiveModelTrait, ConnectionTrait, Database, EntityTrait, PaginatorTrait, Set};
use sea_tenancy::Tenancy;

use crate::app::SaasApp;
use crate::entities::{membership, organization, post, user};

const DEMO_DB: &str = "saas_app_demo";

/// Runs the demo against the server of `server_url` (any database on it).
pub async fn run(server_url: &str) -> Result<(), Box<dyn std::error::Error>> {
    let admin = Database::connect(server_url).await?;
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {DEMO_DB} WITH (FORCE)"))
        .await?;
    admin
        .execute_unprepared(&format!("CREATE DATABASE {DEMO_DB}"))
        .await?;
    admin.close().await?;
    let url = with_database(server_url, DEMO_DB);
    let raw = Database::connect(url.as_str()).await?;
    println!("database {DEMO_DB}: created");

    sea_tenancy::migrate::migrate_public(&SaasApp, &raw).await?;
    println!("public: migrated, roles installed");
    // The app's connection: the global role, and each tenant's own role per tenant.
    let db = Tenancy::connect(&SaasApp, url.as_str()).await?;

    let alice = user::ActiveModel {
        email: Set("alice@example.com".into()),
        ..Default::default()
    }
    .insert(&db)
    .await?;
    let mut orgs = Vec::new();
    for name in ["Acme", "Globex"] {
        let org = sea_tenancy::manage::provision(
            &SaasApp,
            &raw,
            organization::ActiveModel {
                name: Set(name.into()),
                ..Default::default()
            },
        )
        .await?;
        println!("organization {name}: schema {} provisioned", org.tenant());
        orgs.push(org);
    }

    for org in &orgs {
        let conn = db.with_tenant(org.tenant());
        for i in 1..=org.id * 2 {
            post::ActiveModel {
                title: Set(format!("{} post {i}", org.name)),
                author_id: Set(alice.id),
                ..Default::default()
            }
            .insert(&conn)
            .await?;
        }
        membership::ActiveModel {
            user_id: Set(alice.id),
            role: Set("owner".into()),
            ..Default::default()
        }
        .insert(&conn)
        .await?;
    }

    for org in &orgs {
        let conn = db.with_tenant(org.tenant());
        let posts = post::Entity::find().all(&conn).await?;
        let members = membership::Entity::find().count(&conn).await?;
        println!(
            "{} sees {} posts ({}) and {} membership(s)",
            org.name,
            posts.len(),
            posts
                .iter()
                .map(|p| p.title.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            members
        );
    }
    // PostgreSQL itself keeps tenants apart: raw SQL on Acme's connection naming Globex's
    // schema runs as Acme's role and is refused by the server.
    let acme = db.with_tenant(orgs[0].tenant());
    // (The statement reader cannot see inside the string: only PostgreSQL stands in the way.)
    let hostile = format!(
        "SELECT query_to_xml('SELECT title FROM {}.posts', true, false, '')",
        orgs[1].tenant().schema()
    );
    match acme.execute_unprepared(&hostile).await {
        Err(e) => println!("Acme reading Globex's schema with raw SQL: {e}"),
        Ok(_) => return Err("raw SQL of one tenant read another tenant's schema".into()),
    }
    match post::Entity::find().all(&db).await {
        Err(e) => println!("without a tenant: {e}"),
        Ok(rows) => {
            return Err(format!("a query without tenant returned {} rows", rows.len()).into());
        }
    }
    raw.close().await?;
    Ok(())
}

/// `server_url` with its database replaced by `database`.
fn with_database(server_url: &str, database: &str) -> String {
    let (base, query) = match server_url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (server_url, None),
    };
    let prefix_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[prefix_end..].find('/') {
        Some(slash) => &base[..prefix_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{database}?{q}"),
        None => format!("{base}/{database}"),
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_the_database() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
        assert_eq!(
            with_database("postgres://u@h/db?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
    }
}
