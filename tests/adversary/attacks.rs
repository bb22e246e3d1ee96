//! The attacks: SQL text sent through tenant A's connection, trying to read or change tenant
//! B's data, to become someone else, or to leave something behind for others. Each names what
//! it expects to meet; the runner checks the invariants for every one of them.
//!
//! `Refused` means sea-tenancy stopped it before sending; `Denied` means PostgreSQL did — the
//! forms the statement reader does not understand are here on purpose, to show that the
//! boundary is PostgreSQL's, not the reader's.

use super::world::{Attack, Expect::*, Via::*};

macro_rules! attack {
    ($name:literal, $via:expr, $expect:expr) => {
        Attack {
            name: $name,
            via: $via,
            expect: $expect,
        }
    };
}

/// Every attack, by category.
pub fn all() -> Vec<Attack> {
    let mut all = Vec::new();
    all.extend(references());
    all.extend(strings_and_dynamic_sql());
    all.extend(settings_and_roles());
    all.extend(transaction_control());
    all.extend(pool_state());
    all.extend(catalogs_sequences_locks());
    all.extend(privileged());
    all.extend(shared_tables());
    all
}

/// Ways to name B's tables that the statement reader does not see (or sees).
fn references() -> Vec<Attack> {
    vec![
        attack!(
            "plain qualified name",
            Query("SELECT title FROM {B}.posts"),
            Refused
        ),
        attack!(
            "unicode-escaped schema",
            Query("SELECT title FROM U&\"{B_UESC}\".posts"),
            Denied
        ),
        attack!(
            "parenthesized join in FROM",
            Query("SELECT p.title FROM ({B}.posts AS p CROSS JOIN (SELECT 1) AS one)"),
            Denied
        ),
        attack!(
            "line comment ended by a carriage return",
            Query("SELECT title FROM -- hidden\r{B}.posts"),
            Refused
        ),
        attack!("TABLE statement", Query("TABLE {B}.comments"), Refused),
        attack!(
            "search path switched, then an unqualified name the reader misses",
            Steps(&[
                "SELECT set_config('search_path', '{B}, public', false)",
                "SELECT p.title FROM (posts AS p CROSS JOIN (SELECT 1) AS one)",
            ]),
            Denied
        ),
        attack!(
            "find_by_statement with a hidden reference",
            Model("SELECT p.* FROM (U&\"{B_UESC}\".posts AS p CROSS JOIN (SELECT 1) AS one)"),
            Denied
        ),
        attack!(
            "custom expression with a subquery",
            Cust("EXISTS (SELECT 1 FROM U&\"{B_UESC}\".posts)"),
            Denied
        ),
        attack!(
            "custom expression naming B's schema",
            Cust("(SELECT count(*) FROM {B}.posts) > 0"),
            Refused
        ),
        attack!(
            "writable CTE deleting B's comments",
            Query(
                "WITH gone AS (DELETE FROM U&\"{B_UESC}\".comments RETURNING body) SELECT body FROM gone"
            ),
            Denied
        ),
        attack!(
            "update through a unicode-escaped name",
            Unprepared("UPDATE U&\"{B_UESC}\".posts SET title = 'pwned'"),
            Denied
        ),
        attack!(
            "insert through a unicode-escaped name",
            Unprepared("INSERT INTO U&\"{B_UESC}\".posts (title, author_id) VALUES ('planted', 1)"),
            Denied
        ),
        attack!(
            "EXPLAIN ANALYZE of a hidden read",
            Query("EXPLAIN ANALYZE SELECT * FROM U&\"{B_UESC}\".posts"),
            Denied
        ),
    ]
}

/// SQL inside strings, functions that run queries, anonymous and temporary code.
fn strings_and_dynamic_sql() -> Vec<Attack> {
    vec![
        attack!(
            "query_to_xml",
            Query("SELECT query_to_xml('select title from {B}.posts', true, false, '')::text AS x"),
            Denied
        ),
        attack!(
            "query_to_xml with the query built at run time",
            Query(
                "SELECT query_to_xml(concat('sel', 'ect title from ', '{B}', '.posts'), true, false, '')::text AS x"
            ),
            Denied
        ),
        attack!(
            "table_to_xml",
            Query("SELECT table_to_xml('{B}.comments', true, false, '')::text AS x"),
            Denied
        ),
        attack!(
            "query_to_xml over B's attribute rows",
            Query(
                "SELECT query_to_xml('select role from public.memberships where org_id = {B_KEY}', true, false, '')::text AS x"
            ),
            Harmless
        ),
        attack!(
            "DO block with EXECUTE format",
            Unprepared(
                "DO $$ BEGIN EXECUTE format('UPDATE %I.posts SET title = %L', '{B}', 'pwned'); END $$"
            ),
            Refused
        ),
        attack!(
            "temporary function running dynamic SQL",
            Steps(&[
                "CREATE FUNCTION pg_temp.steal() RETURNS text LANGUAGE plpgsql AS $f$ DECLARE r text; BEGIN EXECUTE format('SELECT string_agg(title, %L) FROM %I.posts', ',', '{B}') INTO r; RETURN r; END $f$",
                "SELECT pg_temp.steal() AS loot",
            ]),
            Denied
        ),
        attack!(
            "view in pg_temp over B's table",
            Steps(&[
                "CREATE VIEW pg_temp.loot AS SELECT p.title FROM (U&\"{B_UESC}\".posts AS p CROSS JOIN (SELECT 1) AS one)",
                "SELECT * FROM pg_temp.loot",
            ]),
            Denied
        ),
    ]
}

/// The tenant key and the role as settings; becoming another role.
fn settings_and_roles() -> Vec<Attack> {
    vec![
        attack!(
            "SET LOCAL of the tenant key",
            Txn(&[
                "SET LOCAL sea_tenancy.tenant = '{B_KEY}'",
                "SELECT role FROM memberships"
            ]),
            Refused
        ),
        attack!(
            "tenant key set through a computed set_config",
            Steps(&[
                "SELECT set_config(concat('sea_tenancy', '.tenant'), '{B_KEY}', false)",
                "SELECT role FROM public.memberships",
            ]),
            Harmless
        ),
        attack!(
            "set_config('role') to B",
            Query("SELECT set_config('role', '{B_ROLE}', false)"),
            Refused
        ),
        attack!(
            "computed set_config of the role to B",
            Query("SELECT set_config(concat('ro', 'le'), '{B_ROLE}', false)"),
            Denied
        ),
        attack!(
            "computed set_config of the role to a superuser",
            Query("SELECT set_config(concat('ro', 'le'), 'postgres', false)"),
            Denied
        ),
        attack!(
            "computed set_config of the session authorization",
            Query("SELECT set_config(concat('session', '_authorization'), '{B_ROLE}', false)"),
            Denied
        ),
        attack!(
            "computed SET ROLE to the tenants' group, then read",
            Steps(&[
                "SELECT set_config(concat('ro', 'le'), '{GROUP}', false)",
                "SELECT role FROM public.memberships",
            ]),
            Any
        ),
        attack!("SET ROLE", Unprepared("SET ROLE {B_ROLE}"), Refused),
        attack!(
            "SET LOCAL ROLE NONE in a transaction",
            Txn(&["SET LOCAL ROLE NONE", "SELECT role FROM memberships"]),
            Refused
        ),
        attack!(
            "SET SESSION AUTHORIZATION",
            Unprepared("SET SESSION AUTHORIZATION {B_ROLE}"),
            Refused
        ),
        attack!("RESET ALL", Unprepared("RESET ALL"), Refused),
        attack!(
            "grant itself B's role",
            Unprepared("GRANT \"{B_ROLE}\" TO \"{A_ROLE}\""),
            Denied
        ),
        attack!(
            "make itself superuser",
            Unprepared("ALTER ROLE CURRENT_USER SUPERUSER"),
            Refused
        ),
        attack!(
            "change its own password",
            Unprepared("ALTER USER \"{A_ROLE}\" PASSWORD 'mine now'"),
            Refused
        ),
    ]
}

/// Ending the transaction SeaORM manages, to run what follows outside it.
fn transaction_control() -> Vec<Attack> {
    vec![
        attack!(
            "COMMIT, then a hidden read",
            Unprepared("SELECT 1; COMMIT; SELECT * FROM U&\"{B_UESC}\".posts"),
            Refused
        ),
        attack!(
            "COMMIT inside a tenant transaction",
            Txn(&[
                "SELECT 1",
                "COMMIT",
                "SELECT title FROM U&\"{B_UESC}\".posts"
            ]),
            Refused
        ),
        attack!(
            "ROLLBACK then SET ROLE",
            Unprepared("ROLLBACK; SET ROLE {B_ROLE}"),
            Refused
        ),
        attack!("BEGIN", Unprepared("BEGIN"), Refused),
        attack!(
            "SAVEPOINT juggling",
            Txn(&["SAVEPOINT x", "ROLLBACK TO SAVEPOINT x"]),
            Refused
        ),
    ]
}

/// State a pooled connection could carry to its next user.
fn pool_state() -> Vec<Attack> {
    vec![
        attack!(
            "temporary table shadowing a tenant table",
            Unprepared("CREATE TEMP TABLE posts (id bigint, title text, author_id bigint)"),
            Refused
        ),
        attack!(
            "SELECT INTO TEMP shadowing a tenant table",
            Steps(&[
                "SELECT 0::bigint AS id, 'shadow'::text AS title, 0::bigint AS author_id INTO TEMP posts",
                "SELECT p.title FROM (posts AS p CROSS JOIN (SELECT 1) AS one)",
            ]),
            Harmless
        ),
        attack!(
            "SELECT INTO TEMP shadowing a global table",
            Steps(&[
                "SELECT * INTO TEMP users FROM public.users WHERE false",
                "SELECT count(*) AS n FROM pg_temp.users",
            ]),
            Harmless
        ),
        attack!(
            "re-preparing the driver's statement name",
            Unprepared(
                "DEALLOCATE ALL; PREPARE sqlx_s_1 AS INSERT INTO U&\"{B_UESC}\".posts (title, author_id) VALUES ('planted', 1)"
            ),
            Refused
        ),
        attack!("LISTEN", Unprepared("LISTEN sea_tenancy"), Refused),
        attack!(
            "session-level search path",
            Unprepared("SET search_path TO {B}"),
            Refused
        ),
    ]
}

/// B's catalogs, statistics, sequences, locks, and sea-tenancy's own tables.
fn catalogs_sequences_locks() -> Vec<Attack> {
    vec![
        attack!(
            "column statistics of B's tables",
            Query("SELECT most_common_vals::text AS v FROM pg_stats WHERE schemaname = '{B}'"),
            Harmless
        ),
        attack!(
            "column statistics of the shared attribute table",
            Query(
                "SELECT most_common_vals::text AS v, histogram_bounds::text AS h FROM pg_stats WHERE tablename = 'memberships'"
            ),
            Harmless
        ),
        attack!(
            "B's table names from the catalog (structure, no rows)",
            Query(
                "SELECT relname::text AS r FROM pg_class WHERE relnamespace = '{B}'::regnamespace"
            ),
            Harmless
        ),
        attack!(
            "setval on B's sequence",
            Query("SELECT setval('{B}.posts_id_seq', 1000)"),
            Denied
        ),
        attack!(
            "setval on B's sequence, name hidden",
            Query("SELECT setval(concat('{B}', '.posts_id_seq'), 1000)"),
            Denied
        ),
        attack!(
            "nextval on B's sequence",
            Query("SELECT nextval(concat('{B}', '.posts_id_seq'))"),
            Denied
        ),
        attack!(
            "read B's sequence",
            Query("SELECT last_value FROM U&\"{B_UESC}\".posts_id_seq"),
            Denied
        ),
        attack!(
            "lock B's table",
            Txn(&["LOCK TABLE U&\"{B_UESC}\".posts IN ACCESS EXCLUSIVE MODE"]),
            Denied
        ),
        attack!(
            "other sessions' query text",
            Query("SELECT query FROM pg_stat_activity WHERE usename <> current_user"),
            Harmless
        ),
        attack!(
            "the tenant map",
            Query(
                "SELECT role::text AS r, schema, key FROM public.sea_tenancy_tenants WHERE role::text <> current_user"
            ),
            Harmless
        ),
        attack!(
            "the migration mirror",
            Query("SELECT tenant, version FROM public.sea_tenancy_migrations"),
            Denied
        ),
        attack!(
            "B's migration tracking table",
            Query("SELECT version FROM U&\"{B_UESC}\".seaql_migrations"),
            Denied
        ),
        attack!(
            "its own migration tracking table",
            Unprepared("DELETE FROM {A}.seaql_migrations"),
            Denied
        ),
        attack!(
            "VACUUM FULL of B's table",
            Unprepared("VACUUM FULL U&\"{B_UESC}\".posts"),
            Any
        ),
    ]
}

/// What only privileged roles may do.
fn privileged() -> Vec<Attack> {
    vec![
        attack!(
            "read a server file",
            Query("SELECT pg_read_file('PG_VERSION')"),
            Denied
        ),
        attack!(
            "list the data directory",
            Query("SELECT pg_ls_dir('.')"),
            Denied
        ),
        attack!(
            "write a server file",
            Unprepared("COPY (SELECT 1) TO '/tmp/sea_tenancy_adversary_pwned'"),
            Denied
        ),
        attack!(
            "run a program",
            Unprepared("COPY (SELECT 1) TO PROGRAM 'touch /tmp/sea_tenancy_adversary_pwned'"),
            Denied
        ),
        attack!(
            "import a large object",
            Query("SELECT lo_import('/etc/passwd')"),
            Denied
        ),
        attack!(
            "install an extension",
            Unprepared("CREATE EXTENSION IF NOT EXISTS dblink"),
            Denied
        ),
        attack!(
            "change the server's configuration",
            Unprepared("ALTER SYSTEM SET work_mem = '1GB'"),
            Denied
        ),
        // Denied while B has a connection open; with one connection for all tenants B has
        // none at that moment, and the statement finds nobody to terminate.
        attack!(
            "terminate B's connections",
            Query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{B_ROLE}'"
            ),
            Any
        ),
        attack!(
            "create a role",
            Unprepared("CREATE ROLE evil LOGIN SUPERUSER"),
            Denied
        ),
        attack!("create a schema", Unprepared("CREATE SCHEMA evil"), Denied),
        attack!(
            "create a table in public",
            Unprepared("CREATE TABLE public.evil (id int)"),
            Denied
        ),
        attack!(
            "shadow a built-in function in public",
            Unprepared(
                "CREATE FUNCTION public.lower(varchar) RETURNS text LANGUAGE sql AS 'SELECT ''x'''"
            ),
            Denied
        ),
        attack!(
            "create a table in its own schema",
            Unprepared("CREATE TABLE {A}.evil (id int)"),
            Denied
        ),
    ]
}

/// The shared tables: attribute rows, the tenant map, global tables, policies.
fn shared_tables() -> Vec<Attack> {
    vec![
        attack!(
            "read B's attribute rows by key",
            Query("SELECT role FROM public.memberships WHERE org_id = {B_KEY}"),
            Harmless
        ),
        attack!(
            "update B's attribute rows",
            Unprepared("UPDATE public.memberships SET role = 'pwned' WHERE org_id = {B_KEY}"),
            Harmless
        ),
        attack!(
            "delete B's attribute rows",
            Unprepared("DELETE FROM public.memberships WHERE org_id = {B_KEY}"),
            Harmless
        ),
        attack!(
            "insert a row with B's key",
            Unprepared(
                "INSERT INTO public.memberships (org_id, user_id, role) VALUES ({B_KEY}, 1, 'planted')"
            ),
            Denied
        ),
        attack!(
            "move its own rows to B",
            Unprepared("UPDATE public.memberships SET org_id = {B_KEY}"),
            Denied
        ),
        attack!(
            "truncate the shared table",
            Unprepared("TRUNCATE public.memberships"),
            Denied
        ),
        attack!(
            "re-key itself in the tenant map",
            Unprepared("UPDATE public.sea_tenancy_tenants SET key = '{B_KEY}'"),
            Denied
        ),
        attack!(
            "add itself to the tenant map under B's key",
            Unprepared(
                "INSERT INTO public.sea_tenancy_tenants VALUES ('{A_ROLE}x', 'x', '{B_KEY}')"
            ),
            Denied
        ),
        attack!(
            "delete B's organization with the guard's setting",
            Txn(&[
                "SELECT set_config(concat('sea_tenancy', '.provisioning'), 'on', true)",
                "DELETE FROM public.organizations WHERE id = {B_KEY}",
            ]),
            Denied
        ),
        attack!(
            "rename B's organization",
            Unprepared("UPDATE public.organizations SET name = 'pwned' WHERE id = {B_KEY}"),
            Denied
        ),
        attack!(
            "change a global table it may only read",
            Unprepared("UPDATE public.users SET email = 'pwned@example.com'"),
            Denied
        ),
        attack!(
            "switch row-level security off",
            Unprepared("ALTER TABLE public.memberships DISABLE ROW LEVEL SECURITY"),
            Denied
        ),
        attack!(
            "drop the isolation policy",
            Unprepared("DROP POLICY sea_tenancy_isolation ON public.memberships"),
            Denied
        ),
    ]
}
