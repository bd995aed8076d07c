//! The reference server end to end: in-process on a random port, driven
//! through `users-client` (invalid input through raw reqwest), on SQLite and,
//! when `USERS_TEST_POSTGRES_URL` is set, on PostgreSQL, each test with a
//! database of its own.

mod attacks;
mod behaviour;
mod broken;
mod conformance;
mod hostile;
mod operations;
mod scim;
mod seeds;
mod user_sync;

use users_server::app::AppOptions;
use users_server::auth::{Claims, JwtVerifier, mint_hs256};
use users_server::serve::ServeOptions;
use users_server::store::{SqlStore, Store, StoredUser};

pub(crate) const SECRET: &[u8] = b"test-secret-test-secret-test-sec";
pub(crate) const ISSUER: &str = "users-tests";
pub(crate) const AUDIENCE: &str = "users-api";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Db {
    Sqlite,
    Postgres,
}

/// A running server with a database of its own.
pub(crate) struct TestServer {
    pub(crate) url: String,
    /// The admin listener: `/metrics` and the probes.
    pub(crate) admin_url: String,
    pub(crate) readiness: users_server::observe::Readiness,
    pub(crate) store: SqlStore,
    /// The database's URL.
    pub(crate) database_url: String,
    _dir: Option<tempfile::TempDir>,
    postgres_db: Option<PostgresDatabase>,
    task: tokio::task::JoinHandle<()>,
    admin_task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    pub(crate) async fn start(db: Db) -> Self {
        Self::start_with(db, AppOptions::default()).await
    }

    pub(crate) async fn start_with(db: Db, options: AppOptions) -> Self {
        Self::start_custom(db, options, JwtVerifier::hs256(SECRET, ISSUER, AUDIENCE)).await
    }

    pub(crate) async fn start_custom(db: Db, options: AppOptions, verifier: JwtVerifier) -> Self {
        Self::start_serving(db, options, verifier, ServeOptions::default()).await
    }

    pub(crate) async fn start_serving(
        db: Db,
        options: AppOptions,
        verifier: JwtVerifier,
        serve_options: ServeOptions,
    ) -> Self {
        let (database_url, dir, postgres_db) = match db {
            Db::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("users.db").display());
                (url, Some(dir), None)
            }
            Db::Postgres => {
                let admin = std::env::var("USERS_TEST_POSTGRES_URL")
                    .expect("USERS_TEST_POSTGRES_URL names a PostgreSQL server");
                let name = format!("users_test_{}", uuid::Uuid::new_v4().simple());
                run_admin(&admin, &format!("CREATE DATABASE {name}")).await;
                let base = admin
                    .rsplit_once('/')
                    .map_or(admin.as_str(), |(base, _)| base);
                let url = format!("{base}/{name}");
                (url, None, Some(PostgresDatabase { admin, name }))
            }
        };
        let store = SqlStore::connect(&database_url).await.unwrap();
        let app = users_server::app::build(store.clone(), verifier, options);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let router = app.router;
        let task = tokio::spawn(async move {
            users_server::serve::serve(listener, router, serve_options, std::future::pending())
                .await
                .unwrap();
        });
        let admin_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let admin_address = admin_listener.local_addr().unwrap();
        let admin = app.admin;
        let admin_task = tokio::spawn(async move {
            axum::serve(admin_listener, admin).await.unwrap();
        });
        Self {
            url: format!("http://{address}"),
            admin_url: format!("http://{admin_address}"),
            readiness: app.readiness,
            store,
            database_url,
            _dir: dir,
            postgres_db,
            task,
            admin_task,
        }
    }

    /// A token for `sub` in `account` with `scope`.
    pub(crate) fn token(
        &self,
        sub: &str,
        account: &str,
        scope: &str,
        switchable: &[&str],
    ) -> String {
        self.token_in(sub, account, scope, switchable, &[])
    }

    /// A token as [`TestServer::token`], whose caller belongs to
    /// `organizations`.
    pub(crate) fn token_in(
        &self,
        sub: &str,
        account: &str,
        scope: &str,
        switchable: &[&str],
        organizations: &[&str],
    ) -> String {
        mint_hs256(
            SECRET,
            &Claims {
                sub: sub.into(),
                account: account.into(),
                scope: scope.into(),
                switchable_accounts: switchable.iter().map(|s| (*s).to_owned()).collect(),
                organizations: organizations.iter().map(|s| (*s).to_owned()).collect(),
                iss: ISSUER.into(),
                aud: AUDIENCE.into(),
                exp: chrono::Utc::now().timestamp() + 600,
                nbf: None,
            },
        )
    }

    pub(crate) fn admin(&self) -> users_client::Client {
        self.client(&self.token("admin-1", "acme", "users:admin", &["acme-eu"]))
    }

    pub(crate) fn client(&self, token: &str) -> users_client::Client {
        users_client::Client::builder(&self.url)
            .bearer_token(token)
            .retry_policy(users_client::RetryPolicy::none())
            .build()
            .unwrap()
    }

    /// What the database holds for a user.
    pub(crate) async fn stored(&self, account: &str, id: uuid::Uuid) -> Option<StoredUser> {
        self.store.get(account, &id.to_string()).await.unwrap()
    }

    pub(crate) async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
        self.admin_task.abort();
        let _ = self.admin_task.await;
        self.store.close().await;
        // The database goes with `postgres_db`'s guard.
    }

    /// The PostgreSQL database the server runs on, if any.
    pub(crate) fn postgres_database(&self) -> Option<&str> {
        self.postgres_db.as_ref().map(|db| db.name.as_str())
    }
}

/// A PostgreSQL database made for one test, dropped when the guard is,
/// whether the test ends or panics (`WITH (FORCE)` ends the connections a
/// panicking test left open).
pub(crate) struct PostgresDatabase {
    admin: String,
    name: String,
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // Drop may run on a runtime's thread, where blocking on another
        // future is not allowed: drop the database from a thread of its own.
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the drop")
                .block_on(run_admin(&admin, &sql));
        })
        .join();
        if dropped.is_err() && !std::thread::panicking() {
            panic!("dropping the test database {} failed", self.name);
        }
    }
}

/// Whether the PostgreSQL server at `admin` has a database called `name`.
pub(crate) async fn postgres_database_exists(admin: &str, name: &str) -> bool {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(admin).await.unwrap();
    let found: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM pg_database WHERE datname = '{name}'"
    )))
    .fetch_one(&mut conn)
    .await
    .unwrap();
    found == 1
}

async fn run_admin(url: &str, sql: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut conn)
        .await
        .unwrap();
}

/// One test body run on SQLite and on PostgreSQL (ignored unless
/// `USERS_TEST_POSTGRES_URL` is set at build time).
#[macro_export]
macro_rules! on_both {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$body($crate::server::Db::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(
                not(postgres_tests),
                ignore = "set USERS_TEST_POSTGRES_URL to run on PostgreSQL"
            )]
            async fn postgres() {
                super::$body($crate::server::Db::Postgres).await;
            }
        }
    };
}
