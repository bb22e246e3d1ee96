//! The round-trip cases: each a sequence of entity versions, with the flags a user would pass
//! and rows written after each step (so later steps and their rollbacks run on data). Numbered
//! after the defects of issue #13 they reproduce; the others cover the remaining operations.
#![allow(dead_code)]

use sea_tenancy::generate::{Decisions, EntitySet, Options, Renames, Tenancy};

use super::entities as e;

/// One generation: the entities as they are, the flags, and rows written after it is applied
/// (`public_sql` in `public`, `tenant_sql` in each tenant schema).
pub struct Step {
    pub entities: EntitySet,
    pub flags: Vec<(&'static str, &'static str)>,
    pub public_sql: &'static str,
    pub tenant_sql: &'static str,
}

/// A named sequence of steps.
pub struct Case {
    pub name: &'static str,
    pub steps: Vec<Step>,
}

fn attribute(column: &str) -> Tenancy {
    Tenancy::Attribute {
        column: column.into(),
    }
}

/// Builds an entity set from `(add, tenancy)` pairs.
macro_rules! set {
    ($($entity:ty => $tenancy:expr),* $(,)?) => {{
        let set = EntitySet::new();
        $(let set = set.with::<$entity>($tenancy).unwrap();)*
        set
    }};
}

fn step(entities: EntitySet) -> Step {
    Step {
        entities,
        flags: Vec::new(),
        public_sql: "",
        tenant_sql: "",
    }
}

impl Step {
    fn flag(mut self, flag: &'static str, value: &'static str) -> Self {
        self.flags.push((flag, value));
        self
    }
    fn public(mut self, sql: &'static str) -> Self {
        self.public_sql = sql;
        self
    }
    fn tenant(mut self, sql: &'static str) -> Self {
        self.tenant_sql = sql;
        self
    }

    /// The options a user passing these flags gets (no terminal).
    pub fn options(&self, name: &str, timestamp: &str) -> Options {
        let mut options = Options {
            name: name.into(),
            timestamp: timestamp.into(),
            renames: Renames::default(),
            decisions: Decisions::default(),
        };
        for (flag, value) in &self.flags {
            let d = &mut options.decisions;
            match *flag {
                "--rename" => options
                    .renames
                    .given
                    .push(Renames::parse_spec(value).unwrap()),
                "--default" => d
                    .fills
                    .push(Decisions::parse_column_spec(flag, value).unwrap()),
                "--using" => d
                    .usings
                    .push(Decisions::parse_column_spec(flag, value).unwrap()),
                "--tenant-default" => d
                    .tenant_defaults
                    .push(Decisions::parse_tenant_default(value).unwrap()),
                other => panic!("unknown flag {other}"),
            }
        }
        options
    }
}

/// Every round-trip case.
pub fn all() -> Vec<Case> {
    vec![
        Case {
            name: "c01_primary_key",
            steps: vec![
                step(set![e::pk1::Entity => Tenancy::Schema])
                    .tenant("INSERT INTO posts (title) VALUES ('a'), ('b')"),
                step(set![e::pk2::Entity => Tenancy::Schema])
                    .tenant("INSERT INTO posts (id, title) VALUES (3, 'c')"),
            ],
        },
        Case {
            name: "c02_strategy_switch",
            steps: vec![
                step(set![e::note::Entity => Tenancy::Global])
                    .public("INSERT INTO notes (org_id, slug) VALUES (1, 'a')"),
                step(set![e::note::Entity => attribute("org_id")])
                    .public("INSERT INTO notes (org_id, slug) VALUES (2, 'a')"),
                step(set![e::note::Entity => Tenancy::Schema])
                    .tenant("INSERT INTO notes (org_id, slug) VALUES (1, 'a')"),
                step(set![e::note::Entity => Tenancy::Global]),
            ],
        },
        Case {
            name: "c03_self_reference",
            steps: vec![step(set![e::node::Entity => attribute("org_id")]).public(
                "INSERT INTO nodes (id, org_id, parent_id) VALUES (1, 1, NULL), (2, 1, 1)",
            )],
        },
        Case {
            name: "c04_identity",
            steps: vec![
                step(set![e::counter1::Entity => Tenancy::Schema])
                    .tenant("INSERT INTO counters (label) VALUES ('a'), ('b')"),
                step(set![e::counter2::Entity => Tenancy::Schema])
                    .tenant("INSERT INTO counters (id, label) VALUES (10, 'c')"),
                // Numbering goes on after the rows already there.
                step(set![e::counter1::Entity => Tenancy::Schema]).tenant(
                    "INSERT INTO counters (label) VALUES ('d');
                     DO $$ BEGIN IF (SELECT max(id) FROM counters) <> 11 THEN RAISE 'identity restarted'; END IF; END $$",
                ),
            ],
        },
        Case {
            name: "c06_type_change",
            steps: vec![
                step(set![e::item1::Entity => Tenancy::Global])
                    .public("INSERT INTO items (qty) VALUES ('12')"),
                step(set![e::item2::Entity => Tenancy::Global])
                    .flag("--using", "items.qty=qty::bigint")
                    .public("INSERT INTO items (qty) VALUES (7)"),
                step(set![e::item1::Entity => Tenancy::Global]),
            ],
        },
        Case {
            name: "c07_index_names",
            steps: vec![step(
                set![e::post::Entity => Tenancy::Global, e::post_tag::Entity => Tenancy::Global],
            )],
        },
        Case {
            name: "c08_attribute_index",
            steps: vec![step(set![e::remark::Entity => attribute("org_id")])],
        },
        Case {
            name: "c09_set_null",
            steps: vec![
                step(set![
                    e::board::Entity => attribute("org_id"),
                    e::card::Entity => attribute("org_id"),
                ])
                .public(
                    "INSERT INTO boards (id, org_id) VALUES (1, 1);
                     INSERT INTO cards (id, org_id, board_id) VALUES (1, 1, 1);
                     DELETE FROM boards WHERE id = 1;
                     DO $$ BEGIN IF (SELECT org_id FROM cards WHERE id = 1 AND board_id IS NULL) <> 1 THEN RAISE 'tenant lost'; END IF; END $$",
                ),
            ],
        },
        Case {
            name: "c11_not_null_column",
            steps: vec![
                step(set![e::job1::Entity => Tenancy::Schema])
                    .tenant("INSERT INTO jobs (title) VALUES ('a')"),
                step(set![e::job2::Entity => Tenancy::Schema])
                    .flag("--default", "jobs.priority=0")
                    .tenant("INSERT INTO jobs (title, priority) VALUES ('b', 2)"),
                // Dropped again: rolling back adds it to a table with rows.
                step(set![e::job1::Entity => Tenancy::Schema])
                    .flag("--default", "jobs.priority=0"),
            ],
        },
        Case {
            name: "c12_key_cycle",
            steps: vec![
                step(set![e::member::Entity => Tenancy::Global, e::club::Entity => Tenancy::Global])
                    .public(
                        "INSERT INTO clubs (id) VALUES (1); INSERT INTO members (id, club_id) VALUES (1, 1);
                         UPDATE clubs SET owner_id = 1",
                    ),
            ],
        },
        Case {
            name: "c14_tenant_default",
            steps: vec![
                step(set![e::space::Entity => attribute("id")])
                    .flag("--tenant-default", "spaces=keep")
                    .public("INSERT INTO spaces (name) VALUES ('kept default')"),
                step(set![e::space::Entity => Tenancy::Global])
                    .public("INSERT INTO spaces (name) VALUES ('still there')"),
            ],
        },
        Case {
            name: "op_columns",
            steps: vec![
                step(set![e::article1::Entity => Tenancy::Schema])
                    .tenant("INSERT INTO articles (title, body) VALUES ('a', NULL)"),
                step(set![e::article2::Entity => Tenancy::Schema])
                    .flag("--rename", "articles.title=headline")
                    .flag("--default", "articles.body=''")
                    .tenant("INSERT INTO articles (headline, body) VALUES ('b', 'x')"),
                step(set![e::article1::Entity => Tenancy::Schema])
                    .flag("--rename", "articles.headline=title"),
            ],
        },
        Case {
            name: "op_keys_and_guard",
            steps: vec![
                step(set![e::guild::Entity => Tenancy::Global, e::guild_member1::Entity => Tenancy::Global])
                    .public("INSERT INTO guilds (id, name) VALUES (1, 'g'); INSERT INTO guild_members (guild_id) VALUES (1)"),
                step(
                    set![e::guild::Entity => Tenancy::Global, e::guild_member2::Entity => Tenancy::Global]
                        .managing("guilds", &["id"]),
                ),
                step(set![e::guild::Entity => Tenancy::Global, e::guild_member1::Entity => Tenancy::Global]),
                step(set![e::guild::Entity => Tenancy::Global]),
            ],
        },
    ]
}
