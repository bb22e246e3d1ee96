//! From a request's identifier to a [`Tenant`]: the app's [`TenantResolver`] behind an
//! in-process [`TenantCache`].

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sea_tenancy::Tenant;
use tokio::sync::OnceCell;

use crate::error::ResolveError;

/// The future a [`TenantResolver`] returns.
pub type ResolveFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Option<Tenant>, ResolveError>> + Send + 'a>>;

/// Maps a request's tenant identifier to a [`Tenant`]: `Ok(Some(_))` for a tenant,
/// `Ok(None)` for "no such tenant" (404), `Err(_)` when the lookup itself failed (500).
///
/// The app supplies it because only the app knows what an identifier means: an organization
/// id, a slug column, a schema name. Any `Fn(String) -> impl Future<Output = Result<Option<Tenant>,
/// ResolveError>>` closure is a resolver:
///
/// ```
/// use sea_tenancy::Tenant;
/// use sea_tenancy_axum::ResolveError;
///
/// let resolver = |id: String| async move {
///     // Usually a database lookup; here every numeric id is a tenant.
///     let Ok(n) = id.parse::<i64>() else { return Ok(None) };
///     Ok::<_, ResolveError>(Some(Tenant::new(format!("org_{n}"), n)?))
/// };
/// # fn is_resolver(_: impl sea_tenancy_axum::TenantResolver) {}
/// # is_resolver(resolver);
/// ```
pub trait TenantResolver: Send + Sync + 'static {
    /// Looks `id` up.
    fn resolve<'a>(&'a self, id: &'a str) -> ResolveFuture<'a>;
}

impl<F, Fut> TenantResolver for F
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Option<Tenant>, ResolveError>> + Send + 'static,
{
    fn resolve<'a>(&'a self, id: &'a str) -> ResolveFuture<'a> {
        Box::pin(self(id.to_owned()))
    }
}

/// A lookup in flight or done: concurrent requests for one identifier share it, so a cold
/// cache costs one resolver call, not one per request.
#[derive(Default)]
struct Slot {
    value: OnceCell<(Option<Tenant>, Instant)>,
}

impl Slot {
    fn expired(&self, now: Instant) -> bool {
        self.value.get().is_some_and(|(_, until)| *until <= now)
    }
}

struct Inner {
    slots: Mutex<HashMap<String, Arc<Slot>>>,
    ttl: Duration,
    negative_ttl: Duration,
    max_entries: usize,
}

/// The in-process cache of resolved tenants, shared by every clone (and by the
/// [`crate::TenantLayer`] that owns it).
///
/// A hit costs a mutex lock and an `Arc` clone — no database round trip. Entries live `ttl`
/// (default 60 s); "no such tenant" answers live `negative_ttl` (default 5 s), so a flood of
/// unknown identifiers does not reach the database each time but a new tenant shows up soon.
/// Call [`invalidate`](Self::invalidate) when a tenant is created, renamed or deleted so
/// this process sees it at once (other processes see it within the TTL). Failed lookups are
/// never cached. At `max_entries` (default 10 000) expired entries are dropped, and if that is
/// not enough, everything — a bound on memory against clients inventing identifiers.
#[derive(Clone)]
pub struct TenantCache {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for TenantCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantCache")
            .field("entries", &self.len())
            .field("ttl", &self.inner.ttl)
            .field("negative_ttl", &self.inner.negative_ttl)
            .finish()
    }
}

impl Default for TenantCache {
    fn default() -> Self {
        Self::new(Duration::from_secs(60))
    }
}

impl TenantCache {
    /// A cache whose tenants live `ttl`; unknown identifiers live 5 s (or `ttl` if shorter).
    pub fn new(ttl: Duration) -> Self {
        Self::with_limits(ttl, ttl.min(Duration::from_secs(5)), 10_000)
    }

    /// A cache with every limit explicit. A zero TTL disables caching of that kind of answer
    /// (concurrent lookups of one identifier are still shared).
    pub fn with_limits(ttl: Duration, negative_ttl: Duration, max_entries: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                slots: Mutex::new(HashMap::new()),
                ttl,
                negative_ttl,
                max_entries: max_entries.max(1),
            }),
        }
    }

    /// Forgets `id`: the next request for it asks the resolver. Call on tenant create, rename
    /// (with the old and the new identifier) and delete.
    pub fn invalidate(&self, id: &str) {
        self.slots().remove(id);
    }

    /// Forgets every tenant.
    pub fn clear(&self) {
        self.slots().clear();
    }

    /// How many identifiers are cached (including expired ones not yet evicted).
    pub fn len(&self) -> usize {
        self.slots().len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Slot>>> {
        // A panic while holding the lock cannot leave the map inconsistent (every operation
        // is a single insert/remove), so a poisoned lock is still usable.
        self.inner
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The cached answer for `id`, or the resolver's (then cached).
    pub async fn get_or_resolve(
        &self,
        id: &str,
        resolver: &dyn TenantResolver,
    ) -> Result<Option<Tenant>, ResolveError> {
        let slot = {
            let now = Instant::now();
            let mut slots = self.slots();
            match slots.get(id) {
                Some(slot) if !slot.expired(now) => slot.clone(),
                _ => {
                    if slots.len() >= self.inner.max_entries {
                        slots.retain(|_, slot| !slot.expired(now));
                        if slots.len() >= self.inner.max_entries {
                            slots.clear();
                        }
                    }
                    let slot = Arc::new(Slot::default());
                    slots.insert(id.to_owned(), slot.clone());
                    slot
                }
            }
        };
        let (tenant, _) = slot
            .value
            .get_or_try_init(|| async {
                let tenant = resolver.resolve(id).await?;
                let ttl = if tenant.is_some() {
                    self.inner.ttl
                } else {
                    self.inner.negative_ttl
                };
                Ok::<_, ResolveError>((tenant, Instant::now() + ttl))
            })
            .await?;
        Ok(tenant.clone())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn counting() -> (Arc<AtomicUsize>, impl TenantResolver) {
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = calls.clone();
        let resolver = move |id: String| {
            let seen = seen.clone();
            async move {
                seen.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                if id == "missing" {
                    return Ok(None);
                }
                Ok(Some(Tenant::from_schema(id)?))
            }
        };
        (calls, resolver)
    }

    #[tokio::test]
    async fn hits_skip_the_resolver_and_invalidation_forces_a_lookup() {
        let (calls, resolver) = counting();
        let cache = TenantCache::default();
        for _ in 0..3 {
            let t = cache.get_or_resolve("acme", &resolver).await.unwrap();
            assert_eq!(t.unwrap().schema(), "acme");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        cache.invalidate("acme");
        cache.get_or_resolve("acme", &resolver).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        cache.clear();
        assert!(cache.is_empty());
    }

    #[tokio::test]
    async fn concurrent_misses_share_one_lookup() {
        let (calls, resolver) = counting();
        let cache = TenantCache::default();
        let lookups = (0..20).map(|_| cache.get_or_resolve("acme", &resolver));
        for t in futures::future::join_all(lookups).await {
            assert_eq!(t.unwrap().unwrap().schema(), "acme");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn expiry_and_negative_answers() {
        let (calls, resolver) = counting();
        let cache = TenantCache::with_limits(Duration::ZERO, Duration::from_secs(60), 2);
        assert!(
            cache
                .get_or_resolve("missing", &resolver)
                .await
                .unwrap()
                .is_none()
        );
        cache.get_or_resolve("missing", &resolver).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1, "negative answer cached");
        cache.get_or_resolve("acme", &resolver).await.unwrap();
        cache.get_or_resolve("acme", &resolver).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 3, "zero TTL: asked each time");
        cache.get_or_resolve("other", &resolver).await.unwrap();
        assert!(cache.len() <= 2, "bounded");
    }
}
