//! Compiles the PostgreSQL variants of the server tests in as runnable only
//! when `USERS_TEST_POSTGRES_URL` names a server; without it they are
//! reported as ignored.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(postgres_tests)");
    println!("cargo::rerun-if-env-changed=USERS_TEST_POSTGRES_URL");
    if std::env::var_os("USERS_TEST_POSTGRES_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=postgres_tests");
    }
}
