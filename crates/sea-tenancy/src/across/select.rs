//! [`AcrossSelect`]: what to fetch from a query across tenants, and running its chunks.
//!
//! Results come back in the order of the tenant list, each tenant's rows in the order its own
//! query gives them — exactly what a loop of per-tenant queries would return, concatenated —
//! whichever chunk or statement in flight answered first.

use std::cmp::Ordering;
use std::collections::HashMap;

use futures::{StreamExt, TryStreamExt};
use sea_orm::{ConnectionTrait, EntityTrait, FromQueryResult, IdenStatic, QueryResult, Select};

use super::Across;
use super::error::{self, AcrossError, diagnose};
use super::sql::{Plan, ROW, Shape, TENANT, VALUE};
use crate::tenant::Tenant;

/// A `Select` over many tenants, from [`Across::select`].
///
/// - `ORDER BY` and `LIMIT` written on the `Select` apply **per tenant** (schema strategy: each
///   tenant's query is the `Select` itself); [`AcrossSelect::limit`] caps the whole answer, and
///   [`AcrossSelect::top_by`] orders the whole answer.
/// - Attribute-strategy entities run as one statement per chunk on their shared table: there
///   `ORDER BY` and `LIMIT` on the `Select` apply to the chunk as a whole.
pub struct AcrossSelect<'a, E: EntityTrait> {
    across: &'a Across,
    tenants: &'a [Tenant],
    select: Select<E>,
    limit: Option<u64>,
}

impl<'a, E: EntityTrait> AcrossSelect<'a, E> {
    pub(super) fn new(across: &'a Across, tenants: &'a [Tenant], select: Select<E>) -> Self {
        Self {
            across,
            tenants,
            select,
            limit: None,
        }
    }

    /// At most `rows` rows overall: the first ones in tenant order (each tenant in its own
    /// order; attribute entities: the first the statement returns, grouped by tenant). Chunks
    /// after the one that fills it are not read.
    pub fn limit(mut self, rows: u64) -> Self {
        self.limit = Some(rows);
        self
    }

    /// Every row of every tenant as `(tenant, model)`.
    pub async fn all(self) -> Result<Vec<(Tenant, E::Model)>, AcrossError> {
        self.into_model::<E::Model>().await
    }

    /// Every row as `(tenant, M)`: any `FromQueryResult` matching the `Select`'s columns
    /// (`select_only().column(..).column_as(..)`, joins to global tables).
    pub async fn into_model<M: FromQueryResult>(self) -> Result<Vec<(Tenant, M)>, AcrossError> {
        let shape = Shape::Rows { limit: self.limit };
        let tenants = self.tenants;
        let mut rows = run(self.across, tenants, self.select, shape).await?;
        // Stable: within a tenant, the order of its own query.
        rows.sort_by_key(|(tenant, row, _)| (*tenant, *row));
        rows.into_iter()
            .map(|(i, _, row)| Ok((tenants[i].clone(), M::from_query_result(&row, "")?)))
            .collect()
    }

    /// Every row as a stream, in the order of [`all`](Self::all), holding at most
    /// `parallelism` chunks of rows in memory: for answers too large to collect (exports,
    /// backfills). A chunk's statement runs when the stream reaches it (`parallelism` ahead);
    /// an error ends the stream. An overall [`limit`](Self::limit) is honoured.
    ///
    /// ```no_run
    /// # use sea_orm::EntityTrait;
    /// # async fn demo<E: EntityTrait>(across: &sea_tenancy::across::Across, tenants: &[sea_tenancy::Tenant])
    /// # -> Result<(), sea_tenancy::across::AcrossError> {
    /// use futures::TryStreamExt;
    /// let mut rows = std::pin::pin!(across.select(tenants, E::find()).stream());
    /// while let Some((tenant, model)) = rows.try_next().await? {
    ///     // write `model` of `tenant` out
    /// #   let _ = (tenant, model);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn stream(
        self,
    ) -> impl futures::Stream<Item = Result<(Tenant, E::Model), AcrossError>> + 'a {
        self.stream_model::<E::Model>()
    }

    /// [`stream`](Self::stream) into any `FromQueryResult`, as [`into_model`](Self::into_model).
    pub fn stream_model<M: FromQueryResult + 'a>(
        self,
    ) -> impl futures::Stream<Item = Result<(Tenant, M), AcrossError>> + 'a
    where
        E: 'a,
    {
        let Self {
            across,
            tenants,
            select,
            limit,
        } = self;
        let size = across.chunk_size.max(1);
        futures::stream::once(async move { Plan::new(select, &across.registry) })
            .map_ok(move |plan| {
                let plan = std::sync::Arc::new(plan);
                let chunks = tenants.chunks(size).enumerate().map(move |(i, chunk)| {
                    let plan = plan.clone();
                    async move {
                        let shape = Shape::Rows { limit: None };
                        run_chunk(across, &plan, i * size, chunk, &shape).await
                    }
                });
                futures::stream::iter(chunks).buffered(across.parallelism.max(1))
            })
            .try_flatten()
            .map_ok(move |mut rows| {
                rows.sort_by_key(|(tenant, row, _)| (*tenant, *row));
                futures::stream::iter(rows.into_iter().map(move |(i, _, row)| {
                    Ok((tenants[i].clone(), M::from_query_result(&row, "")?))
                }))
            })
            .try_flatten()
            .take(limit.map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX)))
    }

    /// The `n` first rows of the whole answer by `compare`, e.g. the newest posts of all
    /// tenants. Put an `ORDER BY` and `LIMIT n` on the `Select` as well: each tenant then sends
    /// only its own first `n`.
    pub async fn top_by<F>(
        self,
        n: usize,
        mut compare: F,
    ) -> Result<Vec<(Tenant, E::Model)>, AcrossError>
    where
        F: FnMut(&(Tenant, E::Model), &(Tenant, E::Model)) -> Ordering,
    {
        let mut rows = self.all().await?;
        rows.sort_by(&mut compare);
        rows.truncate(n);
        Ok(rows)
    }

    /// How many rows each tenant's query returns, for every listed tenant (zero included),
    /// counted by the server: no row is fetched.
    pub async fn count(self) -> Result<Vec<(Tenant, u64)>, AcrossError> {
        let counts = self.aggregate(Shape::Count).await?;
        Ok(counts
            .into_iter()
            .map(|(t, n)| (t, u64::try_from(n).unwrap_or(0)))
            .collect())
    }

    /// The sum of integer `column` over each tenant's rows (0 when none), summed by the server
    /// as `bigint`. `column` must be among the `Select`'s columns (it is, for `Entity::find()`).
    pub async fn sum(self, column: E::Column) -> Result<Vec<(Tenant, i64)>, AcrossError> {
        self.aggregate(Shape::Sum(column.as_str().to_owned())).await
    }

    /// One `bigint` per listed tenant, in tenant order.
    async fn aggregate(self, shape: Shape) -> Result<Vec<(Tenant, i64)>, AcrossError> {
        let mut values = vec![0i64; self.tenants.len()];
        for (i, _, row) in run(self.across, self.tenants, self.select, shape).await? {
            values[i] = row.try_get("", VALUE)?;
        }
        Ok(self.tenants.iter().cloned().zip(values).collect())
    }
}

/// A row: its tenant's index in the list, its position in the tenant's answer, the row.
type Tagged = (usize, i64, QueryResult);

/// Runs `select` over `tenants` in chunks; with an overall limit chunk after chunk until it is
/// filled, otherwise `parallelism` chunks at once.
async fn run<E: EntityTrait>(
    across: &Across,
    tenants: &[Tenant],
    select: Select<E>,
    shape: Shape,
) -> Result<Vec<Tagged>, AcrossError> {
    let plan = Plan::new(select, &across.registry)?;
    let chunks: Vec<(usize, &[Tenant])> = tenants
        .chunks(across.chunk_size)
        .enumerate()
        .map(|(i, c)| (i * across.chunk_size, c))
        .collect();
    if let Shape::Rows { limit: Some(limit) } = shape {
        let mut out = Vec::new();
        for (offset, chunk) in chunks {
            let left = limit.saturating_sub(out.len() as u64);
            if left == 0 {
                break;
            }
            let shape = Shape::Rows { limit: Some(left) };
            out.extend(run_chunk(across, &plan, offset, chunk, &shape).await?);
        }
        return Ok(out);
    }
    let parts: Vec<Vec<Tagged>> = futures::stream::iter(chunks)
        .map(|(offset, chunk)| run_chunk(across, &plan, offset, chunk, &shape))
        .buffered(across.parallelism)
        .try_collect()
        .await?;
    Ok(parts.into_iter().flatten().collect())
}

/// One statement over `chunk`, whose first tenant is `offset` in the whole list.
async fn run_chunk<E: EntityTrait>(
    across: &Across,
    plan: &Plan<E>,
    offset: usize,
    chunk: &[Tenant],
    shape: &Shape,
) -> Result<Vec<Tagged>, AcrossError> {
    let members: Vec<&Tenant> = chunk.iter().collect();
    let statement = plan.chunk(&members, &across.registry, shape)?;
    let rows = match across.db.query_all_raw(statement).await {
        Ok(rows) => rows,
        // Only tenant schemas can be missing or ungranted; an attribute table is one table.
        Err(err) if plan.tags_by_index() => {
            return Err(diagnose(&across.db, &members, &plan.tables(), err).await);
        }
        Err(err) => return Err(error::query_failed(&members, err)),
    };
    let by_key: HashMap<&str, usize> = if plan.tags_by_index() {
        HashMap::new()
    } else {
        members
            .iter()
            .enumerate()
            .map(|(i, t)| (t.key(), i))
            .collect()
    };
    let mut out = Vec::with_capacity(rows.len());
    for (n, row) in rows.into_iter().enumerate() {
        let (index, position) = if plan.tags_by_index() {
            let index: i32 = row.try_get("", TENANT)?;
            let position: i64 = match shape {
                Shape::Rows { .. } => row.try_get("", ROW)?,
                _ => 0,
            };
            (usize::try_from(index).unwrap_or(usize::MAX), position)
        } else {
            let key: String = row.try_get("", TENANT)?;
            let index = by_key.get(key.as_str()).copied().unwrap_or(usize::MAX);
            (index, n as i64)
        };
        if index >= chunk.len() {
            return Err(AcrossError::Db(sea_orm::DbErr::Custom(format!(
                "sea-tenancy: a row across tenants carries an unknown tenant tag (row {n})"
            ))));
        }
        out.push((offset + index, position, row));
    }
    Ok(out)
}
