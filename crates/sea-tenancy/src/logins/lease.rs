//! [`Lease`]: one slot lent to one statement or transaction.

use std::sync::Arc;

use sea_orm::DatabaseConnection;
use tokio::sync::OwnedSemaphorePermit;

use super::Inner;
use super::slots::{Gate, Key};

/// One slot lent to one statement or transaction; it goes back to its tenant when dropped, and
/// the tenant's next waiting statement is woken.
#[derive(Debug)]
pub(crate) struct Lease {
    db: Option<DatabaseConnection>,
    key: Key,
    inner: Arc<Inner>,
    gate: Arc<Gate>,
    /// The tenant's share and the global cap, released after the slot is back.
    _permits: (OwnedSemaphorePermit, OwnedSemaphorePermit),
}

impl Lease {
    pub(super) fn new(
        db: DatabaseConnection,
        key: Key,
        inner: Arc<Inner>,
        gate: Arc<Gate>,
        permits: (OwnedSemaphorePermit, OwnedSemaphorePermit),
    ) -> Self {
        Self {
            db: Some(db),
            key,
            inner,
            gate,
            _permits: permits,
        }
    }

    pub(crate) fn db(&self) -> &DatabaseConnection {
        self.db.as_ref().expect("present until dropped")
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let Some(db) = self.db.take() else { return };
        self.inner.lock().give_back(&self.key, db);
        self.gate.returned.notify_one();
    }
}
