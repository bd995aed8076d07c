//! What the end-to-end tests share: the reference server, in process.

#![allow(dead_code)]

use users_server::auth::{Claims, JwtVerifier, mint_hs256};

const SECRET: &[u8] = b"cli-tests-secret-cli-tests-secret";
const ISSUER: &str = "users-cli-tests";
const AUDIENCE: &str = "users-api";

/// The reference server, on a runtime of its own, with a database of its
/// own.
pub(crate) struct Server {
    pub(crate) url: String,
    _dir: tempfile::TempDir,
    _runtime: tokio::runtime::Runtime,
}

impl Server {
    pub(crate) fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let database = format!("sqlite://{}", dir.path().join("users.db").display());
        let url = runtime.block_on(async {
            let store = users_server::store::SqlStore::connect(&database)
                .await
                .unwrap();
            let app = users_server::app::build(
                store,
                JwtVerifier::hs256(SECRET, ISSUER, AUDIENCE),
                users_server::app::AppOptions::default(),
            );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            tokio::spawn(users_server::serve::serve(
                listener,
                app.router,
                users_server::serve::ServeOptions::default(),
                std::future::pending(),
            ));
            format!("http://{address}")
        });
        Self {
            url,
            _dir: dir,
            _runtime: runtime,
        }
    }

    pub(crate) fn token(&self, scope: &str) -> String {
        mint_hs256(
            SECRET,
            &Claims {
                sub: "cli-admin".into(),
                account: "acme".into(),
                scope: scope.into(),
                switchable_accounts: Vec::new(),
                organizations: Vec::new(),
                iss: ISSUER.into(),
                aud: AUDIENCE.into(),
                exp: chrono_now() + 600,
                nbf: None,
            },
        )
    }
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
