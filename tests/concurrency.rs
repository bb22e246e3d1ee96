//! 50 concurrent tasks over 10 tenants on a small pool, random inserts and reads: no row is ever
//! visible outside its tenant.

mod common;

use rand::Rng;
use saas_app::entities::{membership, post};
use sea_orm::{ActiveModelTrait, EntityTrait, PaginatorTrait, Set, TransactionTrait};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_tasks_ten_tenants_zero_leaks() {
    let app = common::app_with_pool(4).await;
    let alice = app.user("alice@example.com").await;
    let mut tenants = Vec::new();
    for i in 0..10 {
        tenants.push(app.org(&format!("org {i}")).await.1);
    }

    let mut tasks = Vec::new();
    for task in 0..50usize {
        let tenant = tenants[task % tenants.len()].clone();
        let conn = app.db.with_tenant(tenant.clone());
        let author = alice.id;
        tasks.push(tokio::spawn(async move {
            let mut inserted = 0u64;
            for step in 0..20 {
                let (op, in_txn) = {
                    let mut rng = rand::rng();
                    (rng.random_range(0..4u8), rng.random_bool(0.3))
                };
                // Every row is tagged with its tenant, so any leak is visible in what we read.
                let title = format!("{}:{task}:{step}", tenant.schema());
                match op {
                    0 | 1 => {
                        let am = post::ActiveModel {
                            title: Set(title),
                            author_id: Set(author),
                            ..Default::default()
                        };
                        if in_txn {
                            let txn = conn.begin().await.unwrap();
                            am.insert(&txn).await.unwrap();
                            txn.commit().await.unwrap();
                        } else {
                            am.insert(&conn).await.unwrap();
                        }
                        membership::ActiveModel {
                            user_id: Set(author),
                            role: Set(tenant.schema().to_owned()),
                            ..Default::default()
                        }
                        .insert(&conn)
                        .await
                        .unwrap();
                        inserted += 1;
                    }
                    _ => {
                        let posts = if in_txn {
                            let txn = conn.begin().await.unwrap();
                            let p = post::Entity::find().all(&txn).await.unwrap();
                            txn.commit().await.unwrap();
                            p
                        } else {
                            post::Entity::find().all(&conn).await.unwrap()
                        };
                        for p in posts {
                            assert!(
                                p.title.starts_with(&format!("{}:", tenant.schema())),
                                "tenant {} saw {:?}",
                                tenant.schema(),
                                p.title
                            );
                        }
                        for m in membership::Entity::find().all(&conn).await.unwrap() {
                            assert_eq!(
                                m.role,
                                tenant.schema(),
                                "tenant {} saw {m:?}",
                                tenant.schema()
                            );
                            assert_eq!(m.org_id.to_string(), tenant.key());
                        }
                    }
                }
            }
            inserted
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.expect("task panicked");
    }

    let mut counted = 0;
    for tenant in &tenants {
        let conn = app.db.with_tenant(tenant.clone());
        let posts = post::Entity::find().count(&conn).await.unwrap();
        let members = membership::Entity::find().count(&conn).await.unwrap();
        assert_eq!(posts, members, "{tenant}");
        counted += posts;
    }
    assert_eq!(counted, total);
}
