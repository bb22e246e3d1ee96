//! The books of the tenant slots: which are open, which idle, whose turn to evict.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::DatabaseConnection;
use tokio::sync::{Notify, Semaphore};

use super::LoginStats;
use crate::tenant::Tenant;

/// A tenant in one database: `None` is the default database. (`Tenant` clones are a pointer.)
pub(super) type Key = (Option<Arc<str>>, Tenant);

/// What a tenant's statements queue on: its share of connections, and the signal that one of
/// its slots came back.
#[derive(Debug)]
pub(super) struct Gate {
    pub permits: Arc<Semaphore>,
    pub returned: Notify,
}

#[derive(Debug)]
struct Entry {
    /// Idle slots, most recently used last.
    idle: Vec<(DatabaseConnection, Instant)>,
    /// Slots open (idle, in use or being opened).
    open: u32,
    gate: Arc<Gate>,
}

#[derive(Debug, Default)]
pub(super) struct State {
    open: u32,
    tenants: HashMap<Key, Entry>,
    last_sweep: Option<Instant>,
    stats: LoginStats,
}

/// What an acquisition does next.
pub(super) enum Next {
    /// Take this idle slot of the tenant's.
    Use(DatabaseConnection),
    /// Open a slot (the count is reserved); close the evicted one, if any.
    Open(Option<DatabaseConnection>),
    /// At the cap, with slots of its own in use: wait for one of them to come back.
    WaitForOwn,
}

impl State {
    /// The gate of `key`, kept on the books while anyone holds it.
    pub fn gate(&mut self, key: &Key, per_tenant: usize) -> Arc<Gate> {
        self.tenants
            .entry(key.clone())
            .or_insert_with(|| Entry {
                idle: Vec::new(),
                open: 0,
                gate: Arc::new(Gate {
                    permits: Arc::new(Semaphore::new(per_tenant)),
                    returned: Notify::new(),
                }),
            })
            .gate
            .clone()
    }

    /// Decides for a statement of `key` that holds its permits (`cap`: `max_connections`).
    pub fn next(&mut self, key: &Key, cap: u32) -> Next {
        let entry = self
            .tenants
            .get_mut(key)
            .expect("the caller holds its gate");
        if let Some((db, _)) = entry.idle.pop() {
            return Next::Use(db);
        }
        if self.open < cap {
            self.reserve(key);
            return Next::Open(None);
        }
        if entry.open > 0 {
            return Next::WaitForOwn;
        }
        // At the cap with nothing of its own: the least recently used idle slot of another
        // tenant makes room. One exists: every slot in use or being opened holds one of the
        // `cap` permits, and this statement holds one without a slot.
        let victim = self
            .tenants
            .iter()
            .filter(|(k, e)| *k != key && !e.idle.is_empty())
            .min_by_key(|(_, e)| e.idle[0].1)
            .map(|(k, _)| k.clone())
            .expect("an idle slot exists at the cap");
        let evicted = self.take_idle(&victim);
        self.stats.evicted += 1;
        self.reserve(key);
        Next::Open(Some(evicted))
    }

    fn reserve(&mut self, key: &Key) {
        self.tenants.get_mut(key).expect("present").open += 1;
        self.open += 1;
        self.stats.opened += 1;
    }

    /// Puts `db` back among `key`'s idle slots.
    pub fn give_back(&mut self, key: &Key, db: DatabaseConnection) {
        let entry = self
            .tenants
            .get_mut(key)
            .expect("a lent slot stays on the books");
        entry.idle.push((db, Instant::now()));
    }

    /// Removes the oldest idle slot of `key` from the books and returns it for closing.
    fn take_idle(&mut self, key: &Key) -> DatabaseConnection {
        let entry = self.tenants.get_mut(key).expect("present");
        let (db, _) = entry.idle.remove(0);
        self.release_count(key);
        db
    }

    /// One slot of `key` fewer (closed, or failed to open).
    pub fn release_count(&mut self, key: &Key) {
        self.open = self.open.saturating_sub(1);
        if let Some(entry) = self.tenants.get_mut(key) {
            entry.open = entry.open.saturating_sub(1);
        }
        self.forget_if_unused(key);
    }

    /// Drops `key`'s entry once nothing is open and nobody holds its gate.
    pub fn forget_if_unused(&mut self, key: &Key) {
        if self
            .tenants
            .get(key)
            .is_some_and(|e| e.open == 0 && e.idle.is_empty() && Arc::strong_count(&e.gate) == 1)
        {
            self.tenants.remove(key);
        }
    }

    /// Takes out the slots idle for longer than `timeout` (at most once a second).
    pub fn sweep(&mut self, timeout: Duration) -> Vec<DatabaseConnection> {
        let now = Instant::now();
        if self
            .last_sweep
            .is_some_and(|t| now.duration_since(t) < Duration::from_secs(1))
        {
            return Vec::new();
        }
        self.last_sweep = Some(now);
        let stale = |e: &Entry| {
            e.idle
                .first()
                .is_some_and(|(_, t)| now.duration_since(*t) > timeout)
        };
        let keys: Vec<Key> = self
            .tenants
            .iter()
            .filter(|(_, e)| stale(e))
            .map(|(k, _)| k.clone())
            .collect();
        let mut expired = Vec::new();
        for key in keys {
            while self.tenants.get(&key).is_some_and(stale) {
                expired.push(self.take_idle(&key));
                self.stats.expired += 1;
            }
        }
        // Entries of acquisitions that failed before opening anything.
        self.tenants
            .retain(|_, e| e.open > 0 || !e.idle.is_empty() || Arc::strong_count(&e.gate) > 1);
        expired
    }

    pub fn stats(&self) -> LoginStats {
        LoginStats {
            open: self.open,
            ..self.stats
        }
    }
}

/// Closes `slots` in the background (a polite `Terminate` instead of a dropped socket).
pub(super) fn close_all(slots: impl IntoIterator<Item = DatabaseConnection>) {
    for db in slots {
        tokio::spawn(async move {
            let _ = db.close().await;
        });
    }
}
