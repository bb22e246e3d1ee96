//! Finds the tables a statement reads or writes.
//!
//! A table reference is the name that follows `FROM`, `JOIN`, `INTO`, `UPDATE`, `TABLE`,
//! `USING`, `TRUNCATE` or `REFERENCES` (skipping `ONLY`/`LATERAL`), or a comma inside a `FROM`
//! list. That covers every statement SeaORM and sea-query build — selects with joins and
//! subqueries, inserts, updates, deletes, upserts, pagination counts and schema DDL — and the
//! common shapes of hand-written SQL. Names defined by `WITH name AS (..)` are not tables.

use std::borrow::Cow;
use std::collections::HashSet;
use std::ops::Range;

use super::lexer::{Kind, Token, tokenize};

/// One table reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Relation<'a> {
    /// The schema it was qualified with, if any.
    pub schema: Option<Cow<'a, str>>,
    /// The table name, folded as PostgreSQL folds it.
    pub table: Cow<'a, str>,
    /// Where the reference starts in the statement (to insert a qualifier).
    pub span: Range<usize>,
}

/// What the router needs to know about a statement.
#[derive(Debug, Default)]
pub(crate) struct Analysis<'a> {
    pub relations: Vec<Relation<'a>>,
    /// The statement is a single `SELECT`/`INSERT`/`UPDATE`/`DELETE`/`WITH`/`VALUES`/`TABLE`
    /// (not DDL, not several statements).
    pub single_dml: bool,
    /// It starts with a session-level `SET`/`RESET` (not `SET LOCAL`).
    pub sets_session_state: bool,
    /// A statement kind tenant connections refuse (see `refusals`).
    pub refused: Option<super::refusals::Refusal>,
    /// `INSERT INTO t .. ON CONFLICT (a, b)`: the insert's table and its conflict target.
    pub conflict: Option<Conflict<'a>>,
}

/// The column-list conflict target of an upsert (`ON CONFLICT ON CONSTRAINT ..` and targets
/// with expressions are not recorded: they are left as written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Conflict<'a> {
    /// The index in [`Analysis::relations`] of the table inserted into.
    pub relation: usize,
    /// The target's columns, folded as PostgreSQL folds them.
    pub columns: Vec<Cow<'a, str>>,
    /// Where a column can be added: just after the target's `(`.
    pub insert_at: usize,
}

const RELATION_KEYWORDS: &[&str] = &[
    "FROM",
    "JOIN",
    "INTO",
    "UPDATE",
    "TABLE",
    "USING",
    "TRUNCATE",
    "REFERENCES",
];
const SKIPPED_BEFORE_RELATION: &[&str] = &["ONLY", "LATERAL", "IF", "NOT", "EXISTS"];
const FROM_LIST_ENDS: &[&str] = &[
    "WHERE",
    "GROUP",
    "HAVING",
    "ORDER",
    "LIMIT",
    "OFFSET",
    "RETURNING",
    "UNION",
    "INTERSECT",
    "EXCEPT",
    "ON",
    "SET",
    "VALUES",
    "WINDOW",
    "FOR",
    "SELECT",
    "JOIN",
    "FETCH",
];
const DML_STARTS: &[&str] = &["SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "VALUES"];

pub(crate) fn analyze(sql: &str) -> Analysis<'_> {
    let tokens = tokenize(sql);
    let ctes = cte_names(&tokens);

    let mut relations = Vec::new();
    let mut depth = 0usize;
    let mut expect_relation = false;
    // After FROM/JOIN/USING (or a comma of a FROM list) `name(` is a function call; after
    // INTO/TABLE/REFERENCES it is a table followed by its column list.
    let mut call_possible = true;
    let mut from_list_depth: Option<usize> = None;
    // The relation after the latest `INTO`, the table an `ON CONFLICT` belongs to.
    let mut into_relation: Option<usize> = None;
    let mut after_into = false;
    let mut conflict = None;
    let mut i = 0;
    while i < tokens.len() {
        let kind = &tokens[i].kind;
        match kind {
            Kind::Open => {
                depth += 1;
                expect_relation = false;
            }
            Kind::Close => {
                depth = depth.saturating_sub(1);
                if from_list_depth.is_some_and(|d| depth < d) {
                    from_list_depth = None;
                }
                expect_relation = false;
            }
            Kind::Comma => {
                expect_relation = from_list_depth == Some(depth);
                call_possible = true;
            }
            Kind::Semicolon => {
                expect_relation = false;
                from_list_depth = None;
            }
            Kind::Word(_) if RELATION_KEYWORDS.iter().any(|k| kind.is_keyword(k)) => {
                expect_relation = true;
                after_into = kind.is_keyword("INTO");
                call_possible = ["FROM", "JOIN", "USING"].iter().any(|k| kind.is_keyword(k));
                if kind.is_keyword("FROM") {
                    from_list_depth = Some(depth);
                }
            }
            Kind::Word(_)
                if expect_relation
                    && SKIPPED_BEFORE_RELATION.iter().any(|k| kind.is_keyword(k)) => {}
            Kind::Word(_) | Kind::Quoted(_) if expect_relation => {
                expect_relation = false;
                if let Some((relation, next)) = relation_at(&tokens, i, call_possible) {
                    if !ctes.contains(relation.table.as_ref()) || relation.schema.is_some() {
                        if after_into {
                            into_relation = Some(relations.len());
                        }
                        relations.push(relation);
                    }
                    i = next;
                    continue;
                }
            }
            Kind::Word(_)
                if kind.is_keyword("CONFLICT")
                    && i > 0
                    && tokens[i - 1].kind.is_keyword("ON")
                    && conflict.is_none() =>
            {
                expect_relation = false;
                conflict = into_relation.and_then(|r| conflict_target(&tokens, i + 1, r));
            }
            Kind::Word(_) => {
                if FROM_LIST_ENDS.iter().any(|k| kind.is_keyword(k)) {
                    from_list_depth = from_list_depth.filter(|d| *d < depth);
                }
                expect_relation = false;
            }
            _ => expect_relation = false,
        }
        i += 1;
    }

    let first = tokens.first().map(|t| &t.kind);
    let single = !tokens
        .iter()
        .enumerate()
        .any(|(n, t)| t.kind == Kind::Semicolon && n + 1 < tokens.len());
    let single_dml = single && first.is_some_and(|k| DML_STARTS.iter().any(|s| k.is_keyword(s)));
    let sets_session_state = tokens.iter().enumerate().any(|(n, t)| {
        let starts_statement = n == 0 || tokens[n - 1].kind == Kind::Semicolon;
        starts_statement
            && (t.kind.is_keyword("RESET")
                || (t.kind.is_keyword("SET")
                    && !tokens
                        .get(n + 1)
                        .is_some_and(|next| next.kind.is_keyword("LOCAL"))))
    });
    Analysis {
        refused: super::refusals::refusal(sql, &tokens),
        relations,
        single_dml,
        sets_session_state,
        conflict,
    }
}

/// Reads `(col, "Col", ..)` at `i`; `None` unless it is a plain column list.
fn conflict_target<'a>(tokens: &[Token<'a>], i: usize, relation: usize) -> Option<Conflict<'a>> {
    let open = tokens.get(i).filter(|t| t.kind == Kind::Open)?;
    let mut columns = Vec::new();
    let mut j = i + 1;
    loop {
        columns.push(ident(tokens.get(j)?)?);
        match tokens.get(j + 1)?.kind {
            Kind::Comma => j += 2,
            Kind::Close => break,
            _ => return None,
        }
    }
    Some(Conflict {
        relation,
        columns,
        insert_at: open.span.end,
    })
}

/// Reads `name`, `schema.name` or `db.schema.name` starting at `i`; `None` for a function call.
fn relation_at<'a>(
    tokens: &[Token<'a>],
    i: usize,
    call_possible: bool,
) -> Option<(Relation<'a>, usize)> {
    let mut parts: Vec<Cow<'a, str>> = vec![ident(&tokens[i])?];
    let mut j = i + 1;
    while j + 1 < tokens.len() && tokens[j].kind == Kind::Dot {
        parts.push(ident(&tokens[j + 1])?);
        j += 2;
    }
    if call_possible && tokens.get(j).is_some_and(|t| t.kind == Kind::Open) {
        return None;
    }
    let table = parts.pop()?;
    let schema = parts.pop();
    Some((
        Relation {
            schema,
            table,
            span: tokens[i].span.start..tokens[j - 1].span.end,
        },
        j,
    ))
}

fn ident<'a>(token: &Token<'a>) -> Option<Cow<'a, str>> {
    match &token.kind {
        Kind::Word(w) if w.bytes().any(|b| b.is_ascii_uppercase()) => {
            Some(Cow::Owned(w.to_ascii_lowercase()))
        }
        Kind::Word(w) => Some(Cow::Borrowed(*w)),
        Kind::Quoted(q) => Some(q.clone()),
        _ => None,
    }
}

/// Names bound by `WITH name AS (` / `WITH name (cols) AS (`.
fn cte_names<'a>(tokens: &[Token<'a>]) -> HashSet<Cow<'a, str>> {
    let mut names = HashSet::new();
    for (n, t) in tokens.iter().enumerate() {
        if !t.kind.is_keyword("AS") || tokens.get(n + 1).is_none_or(|t| t.kind != Kind::Open) {
            continue;
        }
        // Walk back over an optional column list.
        let mut k = n;
        if k > 0 && tokens[k - 1].kind == Kind::Close {
            while k > 0 && tokens[k - 1].kind != Kind::Open {
                k -= 1;
            }
            k = k.saturating_sub(1);
        }
        if k > 0
            && let Some(name) = ident(&tokens[k - 1])
        {
            names.insert(name);
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables(sql: &str) -> Vec<String> {
        analyze(sql)
            .relations
            .iter()
            .map(|r| match &r.schema {
                Some(s) => format!("{s}.{}", r.table),
                None => r.table.to_string(),
            })
            .collect()
    }

    #[test]
    fn finds_sea_query_shapes() {
        assert_eq!(
            tables(
                r#"SELECT "posts"."id", "posts"."title" FROM "posts" WHERE "posts"."id" = $1 LIMIT $2"#
            ),
            ["posts"]
        );
        assert_eq!(
            tables(
                r#"SELECT "comments"."id" FROM "comments" INNER JOIN "posts" AS "r0" ON "r0"."id" = "comments"."post_id" LEFT JOIN "public"."users" ON true"#
            ),
            ["comments", "posts", "public.users"]
        );
        assert_eq!(
            tables(r#"INSERT INTO "posts" ("title") VALUES ($1) RETURNING "id""#),
            ["posts"]
        );
        assert_eq!(
            tables(r#"UPDATE "posts" SET "title" = $1 WHERE "posts"."id" = $2"#),
            ["posts"]
        );
        assert_eq!(
            tables(r#"DELETE FROM "posts" WHERE "posts"."id" = $1"#),
            ["posts"]
        );
        assert_eq!(
            tables(
                r#"SELECT COUNT(*) AS num_items FROM (SELECT "posts"."id" FROM "posts") AS "sub_query""#
            ),
            ["posts"]
        );
        assert_eq!(
            tables(r#"SELECT EXISTS(SELECT 1 FROM "a" , "b" WHERE x IN (SELECT y FROM c))"#),
            ["a", "b", "c"]
        );
    }

    #[test]
    fn ignores_ctes_functions_and_literals() {
        assert_eq!(
            tables(
                "WITH posts AS (SELECT 1 FROM real_table) SELECT * FROM posts, generate_series(1, 2)"
            ),
            ["real_table"]
        );
        assert_eq!(tables("SELECT 'FROM posts' FROM x"), ["x"]);
        assert_eq!(tables("select * from Posts"), ["posts"]);
        assert_eq!(tables("SELECT * FROM ONLY \"Mixed\""), ["Mixed"]);
    }

    #[test]
    fn finds_conflict_targets() {
        let sql = r#"INSERT INTO "tags" ("name") VALUES ($1) ON CONFLICT ("name") DO UPDATE SET "name" = "excluded"."name""#;
        let a = analyze(sql);
        let c = a.conflict.unwrap();
        assert_eq!(a.relations[c.relation].table, "tags");
        assert_eq!(c.columns, ["name"]);
        assert!(sql[..c.insert_at].ends_with("ON CONFLICT ("));
        let c = analyze("insert into t (a, b) values (1, 2) on conflict (A, \"B\") do nothing")
            .conflict
            .unwrap();
        assert_eq!(c.columns, ["a", "B"]);
        // Left as written: constraint names, expressions, no target, no insert.
        assert!(
            analyze("INSERT INTO t VALUES (1) ON CONFLICT ON CONSTRAINT k DO NOTHING")
                .conflict
                .is_none()
        );
        assert!(
            analyze("INSERT INTO t VALUES (1) ON CONFLICT (lower(a)) DO NOTHING")
                .conflict
                .is_none()
        );
        assert!(
            analyze("INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING")
                .conflict
                .is_none()
        );
        assert!(
            analyze("SELECT 'ON CONFLICT (a)' FROM t")
                .conflict
                .is_none()
        );
    }

    #[test]
    fn classifies_statements() {
        assert!(analyze("SELECT 1").single_dml);
        assert!(!analyze("SELECT 1; SELECT 2").single_dml);
        assert!(analyze("SELECT 1;").single_dml);
        assert!(!analyze("CREATE TABLE x (id int)").single_dml);
        assert!(analyze("SET search_path = org_2").sets_session_state);
        assert!(analyze("select 1; reset role").sets_session_state);
        assert!(!analyze("SET LOCAL search_path = org_2").sets_session_state);
        assert!(!analyze("UPDATE t SET a = 1").sets_session_state);
    }
}
