//! Snapshot tests of the generated migration files: one per operation and per foreign-key
//! case (`cargo insta review` after an intended change).

mod generate_entities;

use generate_entities as e;
use sea_tenancy::generate::{
    Decisions, EntitySet, GenerateError, Renames, Set, Tenancy, operations, render::render,
    resolve::resolve,
};

/// The file of each set migrating from `old` to `new`.
fn files(
    old: &EntitySet,
    new: &EntitySet,
    renames: Renames,
) -> Result<Vec<(Set, String)>, GenerateError> {
    decided_files(old, new, renames, Decisions::default())
}

/// The same, with decisions given.
fn decided_files(
    old: &EntitySet,
    new: &EntitySet,
    mut renames: Renames,
    mut decisions: Decisions,
) -> Result<Vec<(Set, String)>, GenerateError> {
    let old = resolve(old)?.snapshot;
    let mut new = resolve(new)?.snapshot;
    let mut out = Vec::new();
    for (set, ops) in operations(&old, &mut new, &mut renames, &mut decisions)? {
        if !ops.is_empty() {
            out.push((set, render(set, &ops)?));
        }
    }
    Ok(out)
}

/// The same, one section per set.
fn migration(old: &EntitySet, new: &EntitySet, renames: Renames) -> Result<String, GenerateError> {
    Ok(files(old, new, renames)?
        .into_iter()
        .map(|(set, text)| format!("==== {} set\n{text}", set.folder()))
        .collect())
}

fn posts(v: EntitySet) -> EntitySet {
    EntitySet::new()
        .with::<e::account::Entity>(Tenancy::Global)
        .unwrap()
        .entities
        .into_iter()
        .chain(v.entities)
        .fold(EntitySet::new(), |mut s, x| {
            s.entities.push(x);
            s
        })
}

#[test]
fn create_every_tenancy_and_foreign_key_case() {
    let out = migration(&EntitySet::new(), &e::all(), Renames::default()).unwrap();
    insta::assert_snapshot!(out);
}

#[test]
fn same_input_same_bytes() {
    let a = migration(&EntitySet::new(), &e::all(), Renames::default()).unwrap();
    let b = migration(&EntitySet::new(), &e::all(), Renames::default()).unwrap();
    assert_eq!(a, b);
}

#[test]
fn no_change_no_operation() {
    assert_eq!(
        migration(&e::all(), &e::all(), Renames::default()).unwrap(),
        ""
    );
}

#[test]
fn add_alter_column_and_index() {
    let v1 = posts(
        EntitySet::new()
            .with::<e::post::Entity>(Tenancy::Schema)
            .unwrap(),
    );
    let v2 = posts(
        EntitySet::new()
            .with::<e::post_v2::Entity>(Tenancy::Schema)
            .unwrap(),
    );
    insta::assert_snapshot!(migration(&v1, &v2, Renames::default()).unwrap());
}

#[test]
fn drop_table() {
    let v1 = posts(
        EntitySet::new()
            .with::<e::post::Entity>(Tenancy::Schema)
            .unwrap(),
    );
    let v2 = posts(EntitySet::new());
    insta::assert_snapshot!(migration(&v1, &v2, Renames::default()).unwrap());
}

#[test]
fn rename_needs_a_decision() {
    let v1 = posts(
        EntitySet::new()
            .with::<e::post::Entity>(Tenancy::Schema)
            .unwrap(),
    );
    let v2 = posts(
        EntitySet::new()
            .with::<e::post_renamed::Entity>(Tenancy::Schema)
            .unwrap(),
    );
    let err = migration(&v1, &v2, Renames::default()).unwrap_err();
    assert!(
        err.to_string().contains("--rename posts.title=headline"),
        "{err}"
    );
    let renamed = migration(
        &v1,
        &v2,
        Renames {
            given: vec![Renames::parse_spec("posts.title=headline").unwrap()],
            ..Renames::default()
        },
    )
    .unwrap();
    insta::assert_snapshot!("rename_column", renamed);
    let no_rename = || Renames {
        no_rename: true,
        ..Renames::default()
    };
    // `title` is NOT NULL without a default: rolling back needs a value for existing rows, and
    // `headline` too; without them the error names the flag.
    let err = migration(&v1, &v2, no_rename()).unwrap_err().to_string();
    assert!(err.contains("--default posts."), "{err}");
    let fills = |specs: &[&str]| Decisions {
        fills: specs
            .iter()
            .map(|s| Decisions::parse_column_spec("--default", s).unwrap())
            .collect(),
        ..Decisions::default()
    };
    let dropped: String = decided_files(
        &v1,
        &v2,
        no_rename(),
        fills(&["posts.title='untitled'", "posts.headline=''"]),
    )
    .unwrap()
    .into_iter()
    .map(|(set, text)| format!("==== {} set\n{text}", set.folder()))
    .collect();
    insta::assert_snapshot!("drop_and_add_column_and_drop_foreign_key", dropped);
}

#[test]
fn a_terminal_answer_decides_the_rename() {
    let v1 = posts(
        EntitySet::new()
            .with::<e::post::Entity>(Tenancy::Schema)
            .unwrap(),
    );
    let v2 = posts(
        EntitySet::new()
            .with::<e::post_renamed::Entity>(Tenancy::Schema)
            .unwrap(),
    );
    let asked = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let log = asked.clone();
    let out = migration(
        &v1,
        &v2,
        Renames {
            ask: Some(Box::new(move |t, o, n| {
                log.borrow_mut().push(format!("{t}.{o}={n}"));
                true
            })),
            ..Renames::default()
        },
    )
    .unwrap();
    assert_eq!(*asked.borrow(), ["posts.title=headline"]);
    assert!(
        out.contains(".rename_column(Posts::Title, Posts::Headline)"),
        "{out}"
    );
    let bad = migration(
        &v1,
        &v2,
        Renames {
            given: vec![Renames::parse_spec("posts.nope=headline").unwrap()],
            no_rename: true,
            ..Renames::default()
        },
    )
    .unwrap_err();
    assert!(matches!(bad, GenerateError::BadRename { .. }), "{bad}");
    assert!(Renames::parse_spec("posts.title").is_err());
}

#[test]
fn strategy_moves_between_sets() {
    let global = posts(
        EntitySet::new()
            .with::<e::post::Entity>(Tenancy::Global)
            .unwrap(),
    );
    let schema = posts(
        EntitySet::new()
            .with::<e::post::Entity>(Tenancy::Schema)
            .unwrap(),
    );
    insta::assert_snapshot!(
        "global_to_schema",
        migration(&global, &schema, Renames::default()).unwrap()
    );
}

#[test]
fn global_to_attribute_enables_isolation() {
    let global = EntitySet::new()
        .with::<e::project::Entity>(Tenancy::Global)
        .unwrap();
    let attribute = EntitySet::new()
        .with::<e::project::Entity>(e::attribute())
        .unwrap();
    insta::assert_snapshot!(migration(&global, &attribute, Renames::default()).unwrap());
}

#[test]
fn add_foreign_key_to_existing_tables() {
    let before = EntitySet::new()
        .with::<e::post::Entity>(Tenancy::Schema)
        .unwrap()
        .with::<e::account::Entity>(Tenancy::Global)
        .unwrap()
        .with::<e::post_renamed::Entity>(Tenancy::Schema);
    // `post_renamed` and `post` share a table: the set refuses it.
    assert!(matches!(before, Err(GenerateError::DuplicateTable { .. })));
    let before = posts(
        EntitySet::new()
            .with::<e::post::Entity>(Tenancy::Schema)
            .unwrap(),
    );
    let after = posts(
        EntitySet::new()
            .with::<e::post::Entity>(Tenancy::Schema)
            .unwrap()
            .with::<e::comment::Entity>(Tenancy::Schema)
            .unwrap(),
    );
    insta::assert_snapshot!(migration(&before, &after, Renames::default()).unwrap());
}

#[test]
fn unknown_reference_names_entity_and_field() {
    let err = resolve(
        &EntitySet::new()
            .with::<e::comment::Entity>(Tenancy::Schema)
            .unwrap(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("comment"), "{err}");
    assert!(err.contains("field `post_id`"), "{err}");
    assert!(err.contains("`posts`"), "{err}");
}

#[test]
fn vacuous_attribute_uniqueness_warns() {
    let badges = EntitySet::new()
        .with::<e::badge::Entity>(e::attribute())
        .unwrap();
    let warnings = resolve(&badges).unwrap().warnings;
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("unique (org_id, id)") && warnings[0].contains("constrains nothing"),
        "{warnings:?}"
    );
    let resolved = resolve(&e::all()).unwrap();
    assert!(resolved.warnings.is_empty(), "{:?}", resolved.warnings);
    let projects = &resolved.snapshot.tables["projects"];
    let unique: Vec<_> = projects
        .indexes
        .iter()
        .map(|i| i.columns.join(","))
        .collect();
    assert!(unique.contains(&"org_id,slug".to_owned()), "{unique:?}");
    assert!(unique.contains(&"org_id,id".to_owned()), "{unique:?}");
}

/// Citus: in the public set, new tables are created without foreign keys and made reference
/// tables (global) or distributed (attribute, after their row-level security, which sets the
/// tenant column's default Citus would refuse to change afterwards); the keys come after every
/// distribution. The tenant set gets none of it.
#[test]
fn public_keys_wait_for_the_citus_distribution() {
    let sets = files(&EntitySet::new(), &e::all(), Renames::default()).unwrap();
    let public = &sets.iter().find(|(s, _)| *s == Set::Public).unwrap().1;
    let up = &public[..public.find("async fn down").unwrap()];
    let at = |needle: &str| {
        up.find(needle)
            .unwrap_or_else(|| panic!("no `{needle}` in up:\n{up}"))
    };
    let last_distribution = up.rfind("sea_tenancy::citus::").unwrap();
    assert!(at("create_foreign_key") > last_distribution, "{up}");
    assert!(!up.contains(".foreign_key("), "no inline key: {up}");
    for table in ["accounts", "audits", "orgs"] {
        at(&format!(
            "sea_tenancy::citus::reference_table(manager.get_connection(), \"{table}\")"
        ));
    }
    for table in ["projects", "tasks"] {
        let distributed = at(&format!(
            "sea_tenancy::citus::distribute_table(manager.get_connection(), \"{table}\", \"org_id\")"
        ));
        let isolated = at(&format!(
            "enable_tenant_isolation(manager.get_connection(), \"{table}\", \"org_id\")"
        ));
        assert!(isolated < distributed, "{table}: {up}");
    }
    let tenant = &sets.iter().find(|(s, _)| *s == Set::Tenant).unwrap().1;
    assert!(!tenant.contains("sea_tenancy::citus"), "{tenant}");
    // `down` drops the new tables without disabling their row-level security first (Citus
    // refuses to drop the default of a distribution column).
    assert!(!public.contains("disable_tenant_isolation"), "{public}");
}

/// Keys Citus refuses are warnings: the migration serves plain PostgreSQL, and stops on Citus.
#[test]
fn keys_citus_refuses_warn() {
    let set = EntitySet::new()
        .with::<e::project::Entity>(e::attribute())
        .unwrap()
        .with::<e::pin::Entity>(Tenancy::Global)
        .unwrap()
        .with::<e::milestone::Entity>(e::attribute())
        .unwrap();
    let warnings = resolve(&set).unwrap().warnings;
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings.iter().any(|w| w.contains("fk_pins_project_id")
            && w.contains("reference tables cannot reference distributed ones")
            && w.contains("make `pins` an attribute table")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("fk_milestones_project_id")
                && w.contains("ON DELETE SET NULL (project_id)")
                && w.contains("use Cascade, Restrict or no action")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .all(|w| w.ends_with("this migration fails on Citus"))
    );
}

/// The generated files are also checked in under `tests/generated/` and compiled into this
/// test (see `generated.rs`), so every kind of generated code is known to build.
/// `UPDATE_GENERATED=1` rewrites them after an intended change.
#[test]
fn generated_files_are_the_compiled_fixtures() {
    let posts_v1 = || {
        posts(
            EntitySet::new()
                .with::<e::post::Entity>(Tenancy::Schema)
                .unwrap(),
        )
    };
    let cases: Vec<(&str, Vec<(Set, String)>)> = vec![
        (
            "create_all",
            files(&EntitySet::new(), &e::all(), Renames::default()).unwrap(),
        ),
        (
            "alter_posts",
            files(
                &posts_v1(),
                &posts(
                    EntitySet::new()
                        .with::<e::post_v2::Entity>(Tenancy::Schema)
                        .unwrap(),
                ),
                Renames::default(),
            )
            .unwrap(),
        ),
        (
            "rename_posts",
            files(
                &posts_v1(),
                &posts(
                    EntitySet::new()
                        .with::<e::post_renamed::Entity>(Tenancy::Schema)
                        .unwrap(),
                ),
                Renames {
                    given: vec![Renames::parse_spec("posts.title=headline").unwrap()],
                    ..Renames::default()
                },
            )
            .unwrap(),
        ),
        (
            "move_posts",
            files(
                &posts(
                    EntitySet::new()
                        .with::<e::post::Entity>(Tenancy::Global)
                        .unwrap(),
                ),
                &posts_v1(),
                Renames::default(),
            )
            .unwrap(),
        ),
        (
            "add_comments",
            files(
                &posts_v1(),
                &posts(
                    EntitySet::new()
                        .with::<e::post::Entity>(Tenancy::Schema)
                        .unwrap()
                        .with::<e::comment::Entity>(Tenancy::Schema)
                        .unwrap(),
                ),
                Renames::default(),
            )
            .unwrap(),
        ),
    ];
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/generated");
    let update = std::env::var_os("UPDATE_GENERATED").is_some();
    for (case, sets) in cases {
        for (set, text) in sets {
            let path = dir.join(format!("{case}_{}.rs", set.folder()));
            if update {
                std::fs::write(&path, &text).unwrap();
            }
            let fixture = std::fs::read_to_string(&path).unwrap_or_else(|e| {
                panic!("{}: {e} (UPDATE_GENERATED=1 writes it)", path.display())
            });
            assert_eq!(
                text,
                fixture,
                "{} differs (UPDATE_GENERATED=1 rewrites it)",
                path.display()
            );
        }
    }
}

#[test]
fn names_over_63_bytes_are_refused() {
    let set = EntitySet::new()
        .with::<e::long::Entity>(Tenancy::Global)
        .unwrap();
    let err = resolve(&set).unwrap_err();
    assert!(
        matches!(&err, GenerateError::IdentifierTooLong { name, .. } if name.starts_with("uq_customer_")),
        "{err}"
    );
}

#[test]
fn attribute_tables_need_a_not_null_tenant_column() {
    let set = EntitySet::new()
        .with::<e::task::Entity>(Tenancy::Attribute {
            column: "project_id".into(),
        })
        .unwrap();
    let err = resolve(&set).unwrap_err();
    assert!(
        matches!(err, GenerateError::NullableTenantColumn { ref column, .. } if column == "project_id"),
        "{err}"
    );
}
