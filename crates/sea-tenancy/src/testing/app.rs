//! [`TestApp`]: a fresh database holding an app's public set and a few tenants, with the
//! connections a test uses, in one call.
//!
//! Most tests of a multitenant app start the same way: a private database, the public
//! migrations and roles, some tenants made the way production makes them, a [`Tenancy`]. Doing
//! it by hand takes twenty lines per test file and invites shortcuts (a bare `CREATE SCHEMA`
//! that skips the tenant's role and migrations) that make tests pass where production fails.
//! `TestApp` runs the real paths: [`crate::migrate::migrate_public`], then
//! [`crate::manage::provision`] for apps whose tenants are rows of a `ManageTenant` entity, or
//! [`crate::migrate::create_tenant`] (what `tenants create` runs) for the others.

use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, DatabaseConnection, EntityTrait, IntoActiveModel,
};

use super::database::TestDatabase;
use crate::app::{Setup, TenancyApp};
use crate::connection::{Tenancy, TenantConnection};
use crate::manage::ManageTenant;
use crate::tenant::Tenant;

/// A [`TestDatabase`] migrated with `A`'s public set (roles installed), holding tenants made
/// through the app's own provisioning path, and the connections to use it.
///
/// `R` is what each tenant was made from: the managing entity's models for
/// [`provision`](TestApp::provision), `()` for [`create`](TestApp::create). Every constructor
/// panics with a sentence naming the step that failed, like [`TestDatabase::create`]; the
/// database is dropped with the value.
#[must_use = "the database is dropped again as soon as this value is dropped"]
pub struct TestApp<A, R = ()> {
    app: A,
    owner: DatabaseConnection,
    tenancy: Tenancy,
    tenants: Vec<Tenant>,
    rows: Vec<R>,
    // Last: the pools above are gone (or forced off) before the database is dropped.
    database: TestDatabase,
}

impl<A, R> std::fmt::Debug for TestApp<A, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestApp")
            .field("database", &self.database.name())
            .field("tenants", &self.tenants)
            .finish_non_exhaustive()
    }
}

impl<A: TenancyApp> TestApp<A> {
    /// `n` tenants of an app whose tenants are rows: each `row(i)` (`i` in `0..n`) is inserted
    /// with [`crate::manage::provision`] — row, schema, role and every tenant migration, as a
    /// sign-up does in production — in order, so generated keys follow `i`.
    ///
    /// # Panics
    ///
    /// When no database can be had, a public migration fails, or a row cannot be provisioned
    /// (the error names which `i`).
    pub async fn provision<M>(
        app: A,
        n: usize,
        mut row: impl FnMut(usize) -> M,
    ) -> TestApp<A, <M::Entity as EntityTrait>::Model>
    where
        M: ActiveModelTrait + ActiveModelBehavior + Send,
        M::Entity: ManageTenant,
        <M::Entity as EntityTrait>::Model: IntoActiveModel<M>,
    {
        let (database, owner) = migrated(&app).await;
        let mut rows = Vec::with_capacity(n);
        let mut tenants = Vec::with_capacity(n);
        for i in 0..n {
            let model = crate::manage::provision(&app, &owner, row(i))
                .await
                .unwrap_or_else(|e| panic!("TestApp: provisioning tenant row {i} failed: {e}"));
            let tenant = <M::Entity as ManageTenant>::tenant_of(&model).unwrap_or_else(|e| {
                panic!("TestApp: provisioned row {i} names no valid tenant: {e}")
            });
            tenants.push(tenant);
            rows.push(model);
        }
        TestApp::connect(app, database, owner, tenants, rows).await
    }

    /// Tenant schemas `schemas` of an app whose tenants are schemas alone, each made as
    /// `tenants create NAME` makes it: schema, role and every tenant migration in one
    /// transaction. The tenants carry their schema name as key ([`Tenant::from_schema`]).
    ///
    /// The names must be ones the app's [`TenancyApp::all_tenants`] lists (e.g. match its
    /// `schemas_like` pattern), or `migrate` would never reach them; that is checked.
    ///
    /// # Panics
    ///
    /// As [`provision`](Self::provision); also for an invalid schema name, a schema the app
    /// does not list, and for an app whose tenants are rows ([`TenancyApp::tenants_are_rows`]):
    /// a schema without its row is a state production never reaches, so tests must not build
    /// on it.
    pub async fn create(app: A, schemas: impl IntoIterator<Item: AsRef<str>>) -> TestApp<A> {
        assert!(
            !app.tenants_are_rows(),
            "TestApp::create makes bare schemas, but this app's tenants are rows of a ManageTenant entity: use TestApp::provision(app, n, |i| row) so each schema has its row"
        );
        let (database, owner) = migrated(&app).await;
        let setup = Setup::of(&app, &owner)
            .await
            .unwrap_or_else(|e| panic!("TestApp: reading the app's role setup failed: {e}"));
        let mut tenants = Vec::new();
        for schema in schemas {
            let schema = schema.as_ref();
            let tenant = Tenant::from_schema(schema)
                .unwrap_or_else(|e| panic!("TestApp: `{schema}` is no tenant schema name: {e}"));
            crate::migrate::create_tenant::<A>(&owner, &tenant, &setup)
                .await
                .unwrap_or_else(|e| panic!("TestApp: creating tenant `{schema}` failed: {e}"));
            tenants.push(tenant);
        }
        let listed = app
            .all_tenants(&owner)
            .await
            .unwrap_or_else(|e| panic!("TestApp: the app's all_tenants failed: {e}"));
        for tenant in &tenants {
            assert!(
                listed.iter().any(|t| t.schema() == tenant.schema()),
                "TestApp: the app's all_tenants does not list `{}`, so `migrate` would never reach it; name the schemas as the app finds them",
                tenant.schema()
            );
        }
        TestApp::connect(app, database, owner, tenants, Vec::new()).await
    }
}

impl<A: TenancyApp, R> TestApp<A, R> {
    async fn connect(
        app: A,
        database: TestDatabase,
        owner: DatabaseConnection,
        tenants: Vec<Tenant>,
        rows: Vec<R>,
    ) -> Self {
        let tenancy = Tenancy::connect(&app, database.connect_options())
            .await
            .unwrap_or_else(|e| panic!("TestApp: Tenancy::connect failed: {e}"));
        Self {
            app,
            owner,
            tenancy,
            tenants,
            rows,
            database,
        }
    }

    /// The app.
    pub fn app(&self) -> &A {
        &self.app
    }

    /// The app's connection: the global role, and tenant roles through
    /// [`Tenancy::with_tenant`] (or [`tenant`](Self::tenant)).
    pub fn tenancy(&self) -> &Tenancy {
        &self.tenancy
    }

    /// The owner's pool (migrations, provisioning, looking behind the app's back).
    pub fn owner(&self) -> &DatabaseConnection {
        &self.owner
    }

    /// The tenants, in the order they were made.
    pub fn tenants(&self) -> &[Tenant] {
        &self.tenants
    }

    /// What tenant `i` was made from: its row for [`provision`](TestApp::provision).
    pub fn rows(&self) -> &[R] {
        &self.rows
    }

    /// A connection scoped to tenant `i` (as the tenant's role).
    ///
    /// # Panics
    ///
    /// When there is no tenant `i`.
    pub fn tenant(&self, i: usize) -> TenantConnection {
        let tenant = self.tenants.get(i).unwrap_or_else(|| {
            panic!(
                "TestApp has {} tenant(s); there is no tenant {i}",
                self.tenants.len()
            )
        });
        self.tenancy.with_tenant(tenant.clone())
    }

    /// The database, e.g. for [`TestDatabase::connect_options`].
    pub fn database(&self) -> &TestDatabase {
        &self.database
    }
}

/// A fresh database with `app`'s public set applied and its roles installed, and the owner's
/// pool to it.
async fn migrated<A: TenancyApp>(app: &A) -> (TestDatabase, DatabaseConnection) {
    let database = TestDatabase::create().await;
    let owner = database.connect().await;
    crate::migrate::migrate_public(app, &owner)
        .await
        .unwrap_or_else(|e| panic!("TestApp: the public migrations failed: {e}"));
    (database, owner)
}
