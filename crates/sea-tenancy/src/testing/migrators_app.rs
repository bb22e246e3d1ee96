//! [`MigratorsApp`]: a [`TenancyApp`] made of two migration sets, a throwaway login secret and
//! a way to find its tenants, for tests and benchmarks.
//!
//! Tests of a migration, a runner or a command often need "the app, but with this tenant set"
//! (one more migration, one that fails) or "the app, but with tenants found by schema name".
//! Writing a `TenancyApp` impl for each costs fifteen lines that differ only in the migrators,
//! the secret and `all_tenants`; `MigratorsApp` is those lines once, with a builder for the
//! parts that vary. Apps that exist to test a behaviour of their own (an `all_tenants` that
//! fails, a second secret) are still better written out.

use std::fmt;
use std::marker::PhantomData;

use sea_orm::{DatabaseConnection, DbErr};
use sea_orm_migration::MigratorTrait;

use crate::app::TenancyApp;
use crate::error::TenancyError;
use crate::manage::ManageTenant;
use crate::registry::TenantsFuture;
use crate::roles::{LoginSecret, SecretError, TableAccess};
use crate::tenant::Tenant;

/// The secret of a [`MigratorsApp`] when `SEA_TENANCY_SECRET` is not set. Public knowledge:
/// only for throwaway test and benchmark databases.
pub const THROWAWAY_SECRET: &str = "sea-tenancy tests: throwaway databases only";

/// How a [`MigratorsApp`] finds its tenants: an async function of the owner's connection, such
/// as `|db| Box::pin(sea_tenancy::all_tenants::managed::<Entity, _>(db))` or
/// `|db| TenancyApp::all_tenants(&MyApp, db)` (`async_trait` methods return this type).
pub type FindTenants = for<'a> fn(&'a DatabaseConnection) -> TenantsFuture<'a>;

/// A [`TenancyApp`] whose public migrations are `P`'s and tenant migrations `T`'s, for tests and
/// benchmarks.
///
/// By default it has no tenants, reads its login secret from `SEA_TENANCY_SECRET` (the
/// [`THROWAWAY_SECRET`] when the variable is unset, in debug and release builds alike), lets
/// tenants read every global table ([`TableAccess::Read`]) and leaves every other method at
/// its default. The builder methods change one part each:
///
/// * tenants: [`with_tenants`](Self::with_tenants) (a fixed list),
///   [`with_schemas_like`](Self::with_schemas_like) (schemas found by name),
///   [`with_managed`](Self::with_managed) (rows of a `#[derive(ManageTenant)]` entity) or
///   [`with_tenants_from`](Self::with_tenants_from) (any function, e.g. another app's
///   `all_tenants`);
/// * [`with_login_secret`](Self::with_login_secret): another app's secret, when the test mixes
///   both apps in one database (the passwords of the roles must agree);
/// * [`with_tenant_access`](Self::with_tenant_access): another app's table access;
/// * [`with_tenants_are_rows`](Self::with_tenants_are_rows): `false` by default for listed
///   tenants and schemas found by name, `true` for tenants found by a function.
///
/// ```
/// use sea_orm_migration::{MigrationTrait, MigratorTrait};
/// use sea_tenancy::roles::TableAccess;
/// use sea_tenancy::testing::MigratorsApp;
/// use sea_tenancy::{TenancyApp, Tenant};
///
/// struct Public;
/// impl MigratorTrait for Public {
///     fn migrations() -> Vec<Box<dyn MigrationTrait>> {
///         Vec::new()
///     }
/// }
/// struct PerTenant;
/// impl MigratorTrait for PerTenant {
///     fn migrations() -> Vec<Box<dyn MigrationTrait>> {
///         Vec::new()
///     }
/// }
///
/// // Three tenants `t_1 ..= t_3`, keyed 1 to 3, that `migrate` would reach.
/// let app = MigratorsApp::<Public, PerTenant>::new()
///     .with_tenants((1..=3).map(|i| Tenant::new(format!("t_{i}"), i).unwrap()))
///     .with_tenant_access(|table| match table {
///         "billing" => TableAccess::None,
///         _ => TableAccess::Read,
///     });
/// assert_eq!(app.tenants().len(), 3);
/// assert!(!app.tenants_are_rows());
/// assert!(app.login_secret().is_ok());
/// assert_eq!(app.tenant_access("billing"), TableAccess::None);
/// ```
///
/// With [`TestApp`](super::TestApp), for an app whose tenants are schemas named `team_*` (the
/// example needs a database):
///
/// ```no_run
/// # use sea_orm_migration::{MigrationTrait, MigratorTrait};
/// # struct Public;
/// # impl MigratorTrait for Public {
/// #     fn migrations() -> Vec<Box<dyn MigrationTrait>> { Vec::new() }
/// # }
/// # struct PerTenant;
/// # impl MigratorTrait for PerTenant {
/// #     fn migrations() -> Vec<Box<dyn MigrationTrait>> { Vec::new() }
/// # }
/// use sea_tenancy::testing::{MigratorsApp, TestApp};
///
/// # async fn example() {
/// let app = MigratorsApp::<Public, PerTenant>::new().with_schemas_like("team\\_%");
/// let test = TestApp::create(app, ["team_a", "team_b"]).await;
/// assert_eq!(test.tenants().len(), 2);
/// # }
/// ```
pub struct MigratorsApp<P, T> {
    tenants: Tenants,
    tenants_are_rows: Option<bool>,
    secret: fn() -> Result<LoginSecret, TenancyError>,
    tenant_access: fn(&str) -> TableAccess,
    sets: PhantomData<fn() -> (P, T)>,
}

/// Where the tenants come from.
#[derive(Clone)]
enum Tenants {
    Listed(Vec<Tenant>),
    SchemasLike(String),
    Found(FindTenants),
}

impl<P, T> MigratorsApp<P, T> {
    /// No tenants, the secret of `SEA_TENANCY_SECRET` or [`THROWAWAY_SECRET`], read access to
    /// global tables.
    pub fn new() -> Self {
        Self {
            tenants: Tenants::Listed(Vec::new()),
            tenants_are_rows: None,
            secret: throwaway_secret,
            tenant_access: |_| TableAccess::Read,
            sets: PhantomData,
        }
    }

    /// `all_tenants` is `tenants`, in this order, whatever the database holds.
    #[must_use]
    pub fn with_tenants(mut self, tenants: impl IntoIterator<Item = Tenant>) -> Self {
        self.tenants = Tenants::Listed(tenants.into_iter().collect());
        self
    }

    /// `all_tenants` is every schema matching the SQL `LIKE` `pattern`
    /// ([`crate::all_tenants::schemas_like`]), e.g. `"shop\\_%"`.
    #[must_use]
    pub fn with_schemas_like(mut self, pattern: impl Into<String>) -> Self {
        self.tenants = Tenants::SchemasLike(pattern.into());
        self
    }

    /// `all_tenants` is the rows of entity `E` ([`crate::all_tenants::managed`]).
    #[must_use]
    pub fn with_managed<E: ManageTenant>(mut self) -> Self {
        self.tenants = Tenants::Found(|db| Box::pin(crate::all_tenants::managed::<E, _>(db)));
        self
    }

    /// `all_tenants` is what `find` returns, e.g. `|db| TenancyApp::all_tenants(&MyApp, db)`
    /// for "`MyApp`'s tenants".
    #[must_use]
    pub fn with_tenants_from(mut self, find: FindTenants) -> Self {
        self.tenants = Tenants::Found(find);
        self
    }

    /// The login secret is what `secret` returns, each time it is asked for, e.g.
    /// `|| MyApp.login_secret()`.
    #[must_use]
    pub fn with_login_secret(mut self, secret: fn() -> Result<LoginSecret, TenancyError>) -> Self {
        self.secret = secret;
        self
    }

    /// What tenant connections may do with each global table, e.g.
    /// `|table| MyApp.tenant_access(table)`.
    #[must_use]
    pub fn with_tenant_access(mut self, access: fn(&str) -> TableAccess) -> Self {
        self.tenant_access = access;
        self
    }

    /// What [`TenancyApp::tenants_are_rows`] answers (whether the CLI's `tenants create` and
    /// [`TestApp::create`](super::TestApp::create) refuse), instead of the default: `false` for
    /// listed tenants and schemas found by name, `true` for tenants found by a function.
    #[must_use]
    pub fn with_tenants_are_rows(mut self, rows: bool) -> Self {
        self.tenants_are_rows = Some(rows);
        self
    }

    /// The tenants given to [`with_tenants`](Self::with_tenants); empty when they are found in
    /// the database.
    pub fn tenants(&self) -> &[Tenant] {
        match &self.tenants {
            Tenants::Listed(tenants) => tenants,
            Tenants::SchemasLike(_) | Tenants::Found(_) => &[],
        }
    }
}

/// `SEA_TENANCY_SECRET` when set, else [`THROWAWAY_SECRET`].
fn throwaway_secret() -> Result<LoginSecret, TenancyError> {
    match LoginSecret::from_env() {
        Err(SecretError::Missing) => Ok(LoginSecret::new(THROWAWAY_SECRET)?),
        other => Ok(other?),
    }
}

impl<P, T> Default for MigratorsApp<P, T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P, T> Clone for MigratorsApp<P, T> {
    fn clone(&self) -> Self {
        Self {
            tenants: self.tenants.clone(),
            tenants_are_rows: self.tenants_are_rows,
            secret: self.secret,
            tenant_access: self.tenant_access,
            sets: PhantomData,
        }
    }
}

impl<P, T> fmt::Debug for MigratorsApp<P, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("MigratorsApp");
        s.field("public", &std::any::type_name::<P>())
            .field("tenant", &std::any::type_name::<T>());
        match &self.tenants {
            Tenants::Listed(tenants) => s.field("tenants", tenants),
            Tenants::SchemasLike(pattern) => s.field("schemas_like", pattern),
            Tenants::Found(_) => s.field("tenants", &"found by a function"),
        };
        s.finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl<P: MigratorTrait + 'static, T: MigratorTrait + 'static> TenancyApp for MigratorsApp<P, T> {
    type PublicMigrator = P;
    type TenantMigrator = T;

    fn login_secret(&self) -> Result<LoginSecret, TenancyError> {
        (self.secret)()
    }

    fn tenants_are_rows(&self) -> bool {
        self.tenants_are_rows
            .unwrap_or(matches!(self.tenants, Tenants::Found(_)))
    }

    fn tenant_access(&self, table: &str) -> TableAccess {
        (self.tenant_access)(table)
    }

    async fn all_tenants(&self, db: &DatabaseConnection) -> Result<Vec<Tenant>, DbErr> {
        match &self.tenants {
            Tenants::Listed(tenants) => Ok(tenants.clone()),
            Tenants::SchemasLike(pattern) => crate::all_tenants::schemas_like(db, pattern).await,
            Tenants::Found(find) => find(db).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use sea_orm_migration::MigrationTrait;

    use super::*;

    struct Empty;
    impl MigratorTrait for Empty {
        fn migrations() -> Vec<Box<dyn MigrationTrait>> {
            Vec::new()
        }
    }

    type App = MigratorsApp<Empty, Empty>;

    fn shop(name: &str) -> Tenant {
        Tenant::from_schema(name).unwrap()
    }

    #[test]
    fn tenants_are_rows_follows_the_source_unless_told() {
        assert!(!App::new().tenants_are_rows());
        assert!(!App::new().with_schemas_like("shop\\_%").tenants_are_rows());
        assert!(
            App::new()
                .with_tenants_from(|_| Box::pin(async { Ok(Vec::new()) }))
                .tenants_are_rows()
        );
        assert!(
            !App::new()
                .with_tenants_from(|_| Box::pin(async { Ok(Vec::new()) }))
                .with_tenants_are_rows(false)
                .tenants_are_rows()
        );
        assert!(App::new().with_tenants_are_rows(true).tenants_are_rows());
    }

    #[test]
    fn the_listed_tenants_are_kept_in_order() {
        let app = App::new().with_tenants([shop("shop_b"), shop("shop_a")]);
        assert_eq!(app.tenants(), [shop("shop_b"), shop("shop_a")]);
        assert_eq!(app.clone().tenants(), app.tenants());
        assert!(
            App::new()
                .with_schemas_like("shop\\_%")
                .tenants()
                .is_empty()
        );
    }

    #[test]
    fn the_secret_and_access_can_be_replaced() {
        let default = App::new().login_secret().unwrap();
        let expected = throwaway_secret().unwrap();
        assert_eq!(default.password("r"), expected.password("r"));
        let other = App::new()
            .with_login_secret(|| Ok(LoginSecret::new("another secret, long enough")?))
            .login_secret()
            .unwrap();
        assert_ne!(other.password("r"), default.password("r"));
        assert_eq!(App::new().tenant_access("users"), TableAccess::Read);
        let none = App::new().with_tenant_access(|_| TableAccess::None);
        assert_eq!(none.tenant_access("users"), TableAccess::None);
    }

    #[test]
    fn debug_names_the_sets_and_the_tenants() {
        let shown = format!("{:?}", App::new().with_schemas_like("shop\\_%"));
        assert!(shown.contains("Empty"), "{shown}");
        assert!(shown.contains("shop"), "{shown}");
    }
}
