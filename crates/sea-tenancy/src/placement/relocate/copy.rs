//! Step 3 of a move: the rows go into the target with binary `COPY` — the global rows the
//! tenant's data references first, then its tables parents-first — its sequences follow, and
//! every table's row count is compared with the source's before the target commits.

use futures::StreamExt;
use sea_orm::DatabaseConnection;
use sea_orm::sqlx::{self, AssertSqlSafe, Row};

use super::plan::Item;
use super::{Conn, Copied, MOVE_KEY, MoveError, Source, Transfer, acquire, count, exec};
use crate::tenant::quote_ident;

impl Transfer<'_> {
    /// Steps 2 and 3: lock the source, copy into the target, verify, commit the target.
    pub(super) async fn run(
        &mut self,
        src: &DatabaseConnection,
        dst: &DatabaseConnection,
    ) -> Result<Source, MoveError> {
        let mut s = acquire(src, self.from).await?;
        let mut d = acquire(dst, self.to).await?;
        // On failure both connections are closed as they drop (see `acquire`), which ends
        // both transactions, even one stopped mid-COPY.
        let copied = self.copy(&mut s, &mut d).await?;
        Ok(Source { conn: s, copied })
    }

    async fn copy(&mut self, s: &mut Conn, d: &mut Conn) -> Result<Copied, MoveError> {
        let enter = format!(
            "SELECT pg_advisory_xact_lock(hashtextextended('sea_tenancy:' || $1, 0)), set_config('{MOVE_KEY}', $2, true), set_config('sea_tenancy.provisioning', 'on', true)"
        );
        for conn in [&mut *s, &mut *d] {
            exec(conn, "BEGIN".to_owned())
                .await
                .map_err(|e| self.failed(e))?;
            sqlx::query(AssertSqlSafe(enter.as_str()))
                .bind(self.tenant.schema())
                .bind(self.tenant.key())
                .execute(&mut **conn)
                .await
                .map_err(|e| self.failed(e))?;
        }
        // Tenant transactions of processes using a placement hold this lock shared (see
        // `catalog::install_fence`): one in flight might still write after the copy.
        let in_flight: bool = sqlx::query_scalar(
            "SELECT NOT pg_try_advisory_xact_lock(hashtextextended('sea_tenancy_move:' || $1, 0))",
        )
        .bind(self.tenant.schema())
        .fetch_one(&mut **s)
        .await
        .map_err(|e| self.failed(e))?;
        if in_flight {
            return Err(MoveError::Busy {
                tenant: self.tenant.schema().to_owned(),
                detail: "a transaction of the tenant is open".to_owned(),
            });
        }
        let (items, attribute) = self.items(s).await?;
        self.lock(s, &items).await?;
        let (order, references) = self.plan(s, &items).await?;
        // Rows a tenant left here when it moved away (fenced, unreachable) are replaced by the
        // copy coming back; any other rows of it here are a conflict to resolve by hand.
        let left_here: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM public.sea_tenancy_moved WHERE tenant = $1)",
        )
        .bind(self.tenant.schema())
        .fetch_one(&mut **d)
        .await
        .map_err(|e| self.failed(e))?;
        for item in &attribute {
            if left_here {
                exec(
                    d,
                    format!("DELETE FROM {} t{}", item.qualified, item.filter("t")),
                )
                .await
                .map_err(|e| self.failed(e))?;
            }
            let there = count(d, item).await.map_err(|e| self.failed(e))?;
            if there > 0 {
                return Err(MoveError::TargetOccupied {
                    tenant: self.tenant.schema().to_owned(),
                    database: self.to.to_owned(),
                    what: format!(
                        "{there} row(s) in `{}` (left by an earlier move?)",
                        item.key
                    ),
                });
            }
        }
        let mut referenced = Vec::new();
        for (i, r) in references.iter().enumerate() {
            let select = format!(
                "SELECT p.* FROM {} p WHERE ({}) IN (SELECT {} FROM {} c{})",
                r.parent,
                columns("p", &r.parent_columns),
                columns("c", &r.child_columns),
                r.child.qualified,
                r.child.filter("c"),
            );
            let rows = self
                .through_temp(s, d, &select, &r.parent, &format!("st_ref_{i}"), true)
                .await?;
            referenced.push((r.parent_key.clone(), rows));
        }
        let mut tables = Vec::new();
        for (i, item) in order.iter().enumerate() {
            let rows = match &item.column {
                None => self.copy_table(s, d, item).await?,
                Some(_) => {
                    let select = format!("SELECT * FROM {} t{}", item.qualified, item.filter("t"));
                    self.through_temp(
                        s,
                        d,
                        &select,
                        &item.qualified,
                        &format!("st_row_{i}"),
                        false,
                    )
                    .await?
                }
            };
            let source_rows = count(s, item).await.map_err(|e| self.failed(e))?;
            let target_rows = count(d, item).await.map_err(|e| self.failed(e))?;
            if source_rows != target_rows || rows != source_rows as u64 {
                return Err(MoveError::CountMismatch {
                    tenant: self.tenant.schema().to_owned(),
                    table: item.key.clone(),
                    from: self.from.to_owned(),
                    to: self.to.to_owned(),
                    source_rows,
                    target_rows,
                });
            }
            tables.push((item.key.clone(), rows));
        }
        let mut shared = attribute.clone();
        for r in &references {
            if !shared.iter().any(|i| i.key == r.parent_key) {
                shared.push(Item {
                    qualified: r.parent.clone(),
                    key: r.parent_key.clone(),
                    column: None,
                });
            }
        }
        self.sequences(s, d, &shared).await?;
        sqlx::query("DELETE FROM public.sea_tenancy_moved WHERE tenant = $1")
            .bind(self.tenant.schema())
            .execute(&mut **d)
            .await
            .map_err(|e| self.failed(e))?;
        exec(d, "COMMIT".to_owned())
            .await
            .map_err(|e| self.failed(e))?;
        Ok(Copied {
            attribute,
            tables,
            referenced,
        })
    }

    /// `COPY` of a whole schema table, source to target.
    async fn copy_table(&self, s: &mut Conn, d: &mut Conn, item: &Item) -> Result<u64, MoveError> {
        let out = format!("COPY {} TO STDOUT (FORMAT binary)", item.qualified);
        let into = format!("COPY {} FROM STDIN (FORMAT binary)", item.qualified);
        self.pipe(s, d, &out, &into).await
    }

    /// Rows of `select` in the source into `table` of the target, through a temporary table:
    /// `INSERT .. SELECT` keeps row-level security's checks and the guard triggers in force
    /// (which `COPY FROM` into the table would not allow). Returns the rows inserted.
    async fn through_temp(
        &self,
        s: &mut Conn,
        d: &mut Conn,
        select: &str,
        table: &str,
        temp: &str,
        skip_existing: bool,
    ) -> Result<u64, MoveError> {
        exec(
            d,
            format!("CREATE TEMP TABLE {temp} (LIKE {table}) ON COMMIT DROP"),
        )
        .await
        .map_err(|e| self.failed(e))?;
        let out = format!("COPY ({select}) TO STDOUT (FORMAT binary)");
        let into = format!("COPY {temp} FROM STDIN (FORMAT binary)");
        self.pipe(s, d, &out, &into).await?;
        let conflict = if skip_existing {
            " ON CONFLICT DO NOTHING"
        } else {
            ""
        };
        let done = sqlx::raw_sql(AssertSqlSafe(format!(
            "INSERT INTO {table} SELECT * FROM {temp}{conflict}"
        )))
        .execute(&mut **d)
        .await
        .map_err(|e| self.failed(format!("copying into {table}: {e}")))?;
        if skip_existing {
            // A global row already there must be the same row, not another one that happens to
            // have the same key (sequences of two databases overlap).
            let differing: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT count(*) FROM {temp} t WHERE NOT EXISTS (SELECT 1 FROM {table} p WHERE ROW(p.*) IS NOT DISTINCT FROM ROW(t.*))"
            )))
            .fetch_one(&mut **d)
            .await
            .map_err(|e| self.failed(e))?;
            if differing > 0 {
                return Err(self.failed(format!(
                    "{differing} row(s) of {table} that the tenant's data references exist in `{}` with the same key but different values; keys of global tables referenced from tenant data must be unique across databases (UUIDs, or disjoint sequences)",
                    self.to
                )));
            }
        }
        Ok(done.rows_affected())
    }

    async fn pipe(
        &self,
        s: &mut Conn,
        d: &mut Conn,
        out: &str,
        into: &str,
    ) -> Result<u64, MoveError> {
        let mut sink = d.copy_in_raw(into).await.map_err(|e| self.failed(e))?;
        let mut stream = s.copy_out_raw(out).await.map_err(|e| self.failed(e))?;
        let mut failure = None;
        while let Some(chunk) = stream.next().await {
            let sent = match chunk {
                Ok(bytes) => sink.send(bytes).await.map(|_| ()),
                Err(e) => Err(e),
            };
            if let Err(e) = sent {
                failure = Some(e);
                break;
            }
        }
        // Drain the rest so the source connection stays usable.
        while stream.next().await.is_some() {}
        drop(stream);
        match failure {
            None => sink.finish().await.map_err(|e| self.failed(e)),
            Some(e) => {
                let _ = sink.abort("sea-tenancy: copy failed").await;
                Err(self.failed(e))
            }
        }
    }

    /// The tenant's sequences continue where the source's are; sequences of the shared tables
    /// it wrote to (attribute tables, referenced global rows) move past the copied keys.
    async fn sequences(
        &self,
        s: &mut Conn,
        d: &mut Conn,
        shared: &[Item],
    ) -> Result<(), MoveError> {
        let seqs: Vec<String> = sqlx::query_scalar(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = $1 AND c.relkind = 'S'",
        )
        .bind(self.tenant.schema())
        .fetch_all(&mut **s)
        .await
        .map_err(|e| self.failed(e))?;
        for seq in seqs {
            let qualified = format!("{}.{}", self.tenant.quoted_schema(), quote_ident(&seq));
            let row = sqlx::raw_sql(AssertSqlSafe(format!(
                "SELECT last_value, is_called FROM {qualified}"
            )))
            .fetch_one(&mut **s)
            .await
            .map_err(|e| self.failed(e))?;
            let last: i64 = row.try_get("last_value").map_err(|e| self.failed(e))?;
            let called: bool = row.try_get("is_called").map_err(|e| self.failed(e))?;
            sqlx::query("SELECT setval($1::regclass, $2, $3)")
                .bind(&qualified)
                .bind(last)
                .bind(called)
                .execute(&mut **d)
                .await
                .map_err(|e| self.failed(e))?;
        }
        for item in shared {
            let serials: Vec<(String, String)> = sqlx::query_as(
                "SELECT a.attname::text, pg_get_serial_sequence($1, a.attname)
                   FROM pg_attribute a
                  WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
                    AND pg_get_serial_sequence($1, a.attname) IS NOT NULL",
            )
            .bind(&item.qualified)
            .fetch_all(&mut **d)
            .await
            .map_err(|e| self.failed(e))?;
            for (column, seq) in serials {
                exec(
                    d,
                    format!(
                        "SELECT setval('{seq}', greatest((SELECT coalesce(max({col}), 1) FROM {t}), (SELECT last_value FROM {seq})))",
                        seq = seq.replace('\'', "''"),
                        col = quote_ident(&column),
                        t = item.qualified,
                    ),
                )
                .await
                .map_err(|e| self.failed(e))?;
            }
        }
        Ok(())
    }
}

fn columns(alias: &str, names: &[String]) -> String {
    names
        .iter()
        .map(|c| format!("{alias}.{}", quote_ident(c)))
        .collect::<Vec<_>>()
        .join(", ")
}
