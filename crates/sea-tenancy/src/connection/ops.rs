//! The plumbing shared by the four connection types: one [`Op`] per SeaORM call, so each type
//! routes every call through one `run`, and macros implementing SeaORM's `ConnectionTrait`,
//! `TransactionTrait` and `TransactionSession` on top of `run` and `open`.

use std::future::Future;
use std::pin::Pin;

use sea_orm::{
    ConnectionTrait, DbErr, ExecResult, QueryResult, Statement, TransactionError,
    TransactionSession,
};

/// One SeaORM connection call, so each is routed by one piece of code.
pub(crate) trait Op: Send + Clone {
    type Out: Send;
    fn sql(&self) -> &str;
    fn set_sql(&mut self, sql: String);
    fn run<C: ConnectionTrait>(
        self,
        conn: &C,
    ) -> impl Future<Output = Result<Self::Out, DbErr>> + Send;
}

#[derive(Clone)]
pub(crate) struct Execute(pub Statement);
#[derive(Clone)]
pub(crate) struct QueryOne(pub Statement);
#[derive(Clone)]
pub(crate) struct QueryAll(pub Statement);
#[derive(Clone)]
pub(crate) struct Unprepared(pub String);

macro_rules! statement_op {
    ($op:ident, $out:ty, $method:ident) => {
        impl Op for $op {
            type Out = $out;
            fn sql(&self) -> &str {
                &self.0.sql
            }
            fn set_sql(&mut self, sql: String) {
                self.0.sql = sql;
            }
            fn run<C: ConnectionTrait>(
                self,
                conn: &C,
            ) -> impl Future<Output = Result<Self::Out, DbErr>> + Send {
                conn.$method(self.0)
            }
        }
    };
}
statement_op!(Execute, ExecResult, execute_raw);
statement_op!(QueryOne, Option<QueryResult>, query_one_raw);
statement_op!(QueryAll, Vec<QueryResult>, query_all_raw);

impl Op for Unprepared {
    type Out = ExecResult;
    fn sql(&self) -> &str {
        &self.0
    }
    fn set_sql(&mut self, sql: String) {
        self.0 = sql;
    }
    #[allow(clippy::manual_async_fn)] // `async fn` would not promise `Send`
    fn run<C: ConnectionTrait>(
        self,
        conn: &C,
    ) -> impl Future<Output = Result<ExecResult, DbErr>> + Send {
        async move { conn.execute_unprepared(&self.0).await }
    }
}

/// `ConnectionTrait` by routing every call through `self.run`.
macro_rules! routed_connection {
    ($ty:ty) => {
        #[async_trait::async_trait]
        impl sea_orm::ConnectionTrait for $ty {
            fn get_database_backend(&self) -> sea_orm::DbBackend {
                sea_orm::DbBackend::Postgres
            }
            async fn execute_raw(
                &self,
                stmt: sea_orm::Statement,
            ) -> Result<sea_orm::ExecResult, sea_orm::DbErr> {
                self.run($crate::connection::ops::Execute(stmt)).await
            }
            async fn execute_unprepared(
                &self,
                sql: &str,
            ) -> Result<sea_orm::ExecResult, sea_orm::DbErr> {
                self.run($crate::connection::ops::Unprepared(sql.to_owned()))
                    .await
            }
            async fn query_one_raw(
                &self,
                stmt: sea_orm::Statement,
            ) -> Result<Option<sea_orm::QueryResult>, sea_orm::DbErr> {
                self.run($crate::connection::ops::QueryOne(stmt)).await
            }
            async fn query_all_raw(
                &self,
                stmt: sea_orm::Statement,
            ) -> Result<Vec<sea_orm::QueryResult>, sea_orm::DbErr> {
                self.run($crate::connection::ops::QueryAll(stmt)).await
            }
        }
    };
}

/// `TransactionTrait` for a wrapper whose transactions are `$txn`, begun by its
/// `open(sea_orm::TransactionOptions)`.
macro_rules! wrapped_transactions {
    ($ty:ty, $txn:ty) => {
        #[async_trait::async_trait]
        impl sea_orm::TransactionTrait for $ty {
            type Transaction = $txn;

            async fn begin(&self) -> Result<$txn, sea_orm::DbErr> {
                self.open(sea_orm::TransactionOptions::default()).await
            }

            async fn begin_with_config(
                &self,
                isolation_level: Option<sea_orm::IsolationLevel>,
                access_mode: Option<sea_orm::AccessMode>,
            ) -> Result<$txn, sea_orm::DbErr> {
                self.open(sea_orm::TransactionOptions {
                    isolation_level,
                    access_mode,
                    ..Default::default()
                })
                .await
            }

            async fn begin_with_options(
                &self,
                options: sea_orm::TransactionOptions,
            ) -> Result<$txn, sea_orm::DbErr> {
                self.open(options).await
            }

            async fn transaction<F, T, E>(
                &self,
                callback: F,
            ) -> Result<T, sea_orm::TransactionError<E>>
            where
                F: for<'c> FnOnce(
                        &'c $txn,
                    ) -> std::pin::Pin<
                        Box<dyn std::future::Future<Output = Result<T, E>> + Send + 'c>,
                    > + Send,
                T: Send,
                E: std::fmt::Display + std::fmt::Debug + Send,
            {
                let txn = self
                    .begin()
                    .await
                    .map_err(sea_orm::TransactionError::Connection)?;
                $crate::connection::ops::run_transaction(txn, callback).await
            }

            async fn transaction_with_config<F, T, E>(
                &self,
                callback: F,
                isolation_level: Option<sea_orm::IsolationLevel>,
                access_mode: Option<sea_orm::AccessMode>,
            ) -> Result<T, sea_orm::TransactionError<E>>
            where
                F: for<'c> FnOnce(
                        &'c $txn,
                    ) -> std::pin::Pin<
                        Box<dyn std::future::Future<Output = Result<T, E>> + Send + 'c>,
                    > + Send,
                T: Send,
                E: std::fmt::Display + std::fmt::Debug + Send,
            {
                let txn = self
                    .begin_with_config(isolation_level, access_mode)
                    .await
                    .map_err(sea_orm::TransactionError::Connection)?;
                $crate::connection::ops::run_transaction(txn, callback).await
            }
        }
    };
}

macro_rules! session {
    ($ty:ty) => {
        #[async_trait::async_trait]
        impl sea_orm::TransactionSession for $ty {
            async fn commit(self) -> Result<(), sea_orm::DbErr> {
                self.txn.commit().await
            }
            async fn rollback(self) -> Result<(), sea_orm::DbErr> {
                self.txn.rollback().await
            }
        }
    };
}

/// Commits when `callback` succeeds, rolls back when it fails.
pub(crate) async fn run_transaction<Txn, F, T, E>(
    txn: Txn,
    callback: F,
) -> Result<T, TransactionError<E>>
where
    Txn: TransactionSession + Send + Sync,
    F: for<'c> FnOnce(&'c Txn) -> Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>> + Send,
    T: Send,
    E: std::fmt::Display + std::fmt::Debug + Send,
{
    let res = callback(&txn).await.map_err(TransactionError::Transaction);
    if res.is_ok() {
        txn.commit().await.map_err(TransactionError::Connection)?;
    } else {
        txn.rollback().await.map_err(TransactionError::Connection)?;
    }
    res
}

pub(crate) use {routed_connection, session, wrapped_transactions};
