//! `users-conformance --url URL` against the reference server on a port of
//! its own: the checks pass (those it can run), the reports are written,
//! and a wrong secret fails the run.

mod support;

use std::net::SocketAddr;
use std::process::Command;

const SECRET: &str = "cli-test-secret-cli-test-secret!";

async fn serve() -> (String, tempfile::TempDir) {
    let (app, _clock, dir) = support::reference_app(SECRET.as_bytes()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    (format!("http://{address}"), dir)
}

fn kit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_users-conformance"))
}

#[test]
fn it_lists_every_check() {
    let output = kit().arg("--list").output().unwrap();
    assert!(output.status.success());
    let listed = String::from_utf8(output.stdout).unwrap();
    for check in users_conformance::checks() {
        assert!(listed.contains(check.id), "{} is not listed", check.id);
    }
}

#[test]
fn it_prints_the_coverage_matrix() {
    let output = kit().arg("--coverage").output().unwrap();
    let printed = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{printed}");
    // A block per operation of the spec, a line per documented status.
    for op in users_api::operation_specs::ALL {
        assert!(printed.contains(&format!(
            "\n{} ({} {})",
            op.operation_id, op.method, op.path
        )));
    }
    assert!(printed.contains("header If-Match"), "{printed}");
    assert!(
        printed.contains("conditional.stale-if-match-on-every-change"),
        "{printed}"
    );
    assert!(
        printed.contains("not checkable: an internal failure"),
        "{printed}"
    );
    assert!(printed.contains(" 0 with no check"), "{printed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn it_checks_a_running_server_and_writes_its_reports() {
    let (url, dir) = serve().await;
    let junit = dir.path().join("conformance.xml");
    let json = dir.path().join("conformance.json");
    // One group (the reference server keeps every promise: tests/reference.rs),
    // with no clock to move: the check that needs one is not run, and says so.
    let run = {
        let (url, junit, json) = (url.clone(), junit.clone(), json.clone());
        tokio::task::spawn_blocking(move || {
            kit()
                .args([
                    "--url",
                    &url,
                    "--jwt-secret",
                    SECRET,
                    "--only",
                    "idempotency.",
                ])
                .arg("--junit")
                .arg(&junit)
                .arg("--json")
                .arg(&json)
                .output()
                .unwrap()
        })
        .await
        .unwrap()
    };
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains("0 broken, 1 not run"), "{stdout}");
    assert!(
        stdout.contains("NOTRUN idempotency.keys-kept-24-hours"),
        "{stdout}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("idempotency.replay") && xml.contains("failures=\"0\""));
    assert!(
        xml.contains("disabled=\"1\"") && xml.contains("<skipped"),
        "{xml}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let outcomes = report["outcomes"].as_array().unwrap();
    assert_eq!(
        outcomes.len(),
        users_conformance::checks()
            .iter()
            .filter(|c| c.id.starts_with("idempotency."))
            .count()
    );
    assert!(
        outcomes
            .iter()
            .any(|o| o["id"] == "idempotency.keys-kept-24-hours" && !o["not_run"].is_null())
    );

    // Tokens the server does not accept: every check that calls it fails,
    // and so does the run.
    let refused = tokio::task::spawn_blocking(move || {
        kit()
            .args([
                "--url",
                &url,
                "--jwt-secret",
                "not-the-secret",
                "--only",
                "conditional.",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stdout).contains("FAILED conditional."));
}
