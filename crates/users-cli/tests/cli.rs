//! `users` end to end: the binary run as a user runs it, against the
//! reference server (in process, SQLite, a random port) and against the
//! SDK's typed mock.

use std::collections::BTreeSet;
use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;
use users_client::mock::{MockServerExt, fixtures};

mod common;

use common::Server;

/// `users` with the settings of `url` and `token` in the environment and
/// a configuration folder of its own.
fn users(url: &str, token: Option<&str>, config: &Path) -> Command {
    let mut command = Command::cargo_bin("users").unwrap();
    command
        .env_remove("USERS_URL")
        .env_remove("USERS_TOKEN")
        .env_remove("USERS_PROFILE")
        .env("USERS_CONFIG_DIR", config)
        .arg("--url")
        .arg(url);
    if let Some(token) = token {
        command.env("USERS_TOKEN", token);
    }
    command
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|err| panic!("stdout is not JSON ({err}): {}", self.stdout))
    }
}

fn run(command: &mut Command) -> Run {
    let output = command.output().unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn ok(command: &mut Command) -> Run {
    let run = run(command);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    run
}

fn spec_operation_ids() -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../openapi/users.yaml");
    let spec: Value = yaml_serde::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut ids = BTreeSet::new();
    for item in spec["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            if let Some(id) = op["operationId"].as_str() {
                ids.insert(id.to_owned());
            }
        }
    }
    ids
}

#[test]
fn every_operation_of_the_spec_is_a_command() {
    let listed: BTreeSet<String> = users_cli::generated::OPERATIONS
        .iter()
        .map(|op| op.id.to_owned())
        .collect();
    assert_eq!(listed, spec_operation_ids());
    let config = tempfile::tempdir().unwrap();
    for op in users_cli::generated::OPERATIONS {
        // By its command, and by its operation id.
        for name in [op.command, op.id] {
            let help =
                ok(users("http://127.0.0.1:9", None, config.path())
                    .args([op.group, name, "--help"]))
                .stdout;
            assert!(help.contains(op.path), "{} {name}: {help}", op.group);
        }
    }
}

#[test]
fn users_are_created_listed_updated_and_deleted_against_the_reference_server() {
    let server = Server::start();
    let token = server.token("users:read users:write users:admin");
    let config = tempfile::tempdir().unwrap();
    let cli = || users(&server.url, Some(&token), config.path());

    // Create: a body file, with flags set over it.
    let body = config.path().join("ada.yaml");
    std::fs::write(
        &body,
        "name: {firstName: Ada, lastName: Lovelace}\nemail: wrong@example.com\nphone: '+442071234567'\n",
    )
    .unwrap();
    let created = ok(cli().args(["users", "create", "--body"]).arg(&body).args([
        "--email",
        "ada@example.com",
        "--job-title",
        "Mathematician",
        "--tags",
        "vip",
        "--tags",
        "beta",
    ]))
    .json();
    // An array of strings is a flag given once per item.
    let tags: BTreeSet<&str> = created["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(tags, BTreeSet::from(["beta", "vip"]), "{created}");
    assert_eq!(created["email"], "ada@example.com");
    assert_eq!(created["phone"], "+442071234567");
    assert_eq!(created["jobTitle"], "Mathematician");
    let id = created["id"].as_str().unwrap().to_owned();

    // Get, as YAML.
    let got = ok(cli().args(["users", "get", &id, "--output", "yaml"])).stdout;
    let got: Value = yaml_serde::from_str(&got).unwrap();
    assert_eq!(got["id"], id.as_str());

    // Update: a merge patch sent with the ETag just read (no --if-match).
    let updated = ok(cli().args([
        "users",
        "update",
        &id,
        "--job-title",
        "Analyst",
        "--clear",
        "phone",
    ]))
    .json();
    assert_eq!(updated["jobTitle"], "Analyst");
    assert!(updated.get("phone").is_none(), "{updated}");
    assert_eq!(updated["resourceVersion"], 2);

    // A stale entity tag: the API refuses it, exit 3, and nothing changes.
    let stale = run(cli().args([
        "users",
        "update",
        &id,
        "--if-match",
        "\"1\"",
        "--job-title",
        "Nobody",
    ]));
    assert_eq!(stale.code, 3, "{}", stale.stderr);
    assert!(stale.stderr.contains("412"), "{}", stale.stderr);
    let after = ok(cli().args(["users", "get", &id])).json();
    assert_eq!(after["jobTitle"], "Analyst");

    // A conditional read of the current version is not modified.
    let current = format!("\"{}\"", after["resourceVersion"]);
    let same = ok(cli().args(["users", "get", &id, "--if-none-match", &current]));
    assert!(same.stdout.is_empty());
    assert!(same.stderr.contains("not modified"), "{}", same.stderr);

    // More users, then every page as one JSON array, two at a time.
    for n in 0..4 {
        ok(cli().args([
            "users",
            "create",
            "--name",
            &format!("{{firstName: User, lastName: N{n}}}"),
            "--email",
            &format!("user{n}@example.com"),
        ]));
    }
    let all = ok(cli().args(["users", "list", "--all", "--limit", "2"])).json();
    let emails: BTreeSet<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails.len(), 5, "{all}");
    let page = ok(cli().args(["users", "list", "--limit", "2"])).json();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert!(page["nextCursor"].is_string());
    let table = ok(cli().args(["users", "list", "--status", "active", "-o", "table"])).stdout;
    assert!(
        table.contains("ada@example.com") && table.contains("email"),
        "{table}"
    );

    // The server's field errors, one line each; exit 3.
    let invalid = run(cli().args([
        "users",
        "create",
        "--name",
        "{firstName: A, lastName: B}",
        "--email",
        "a@example.com",
        "--address",
        "{countryCode: US}",
    ]));
    assert_eq!(invalid.code, 3, "{}", invalid.stderr);
    assert!(
        invalid.stderr.contains("  address.state: "),
        "{}",
        invalid.stderr
    );

    // Delete; then the user is gone.
    ok(cli().args(["users", "delete", &id]));
    let gone = run(cli().args(["users", "get", &id]));
    assert_eq!(gone.code, 3);
    assert!(gone.stderr.contains("404"), "{}", gone.stderr);

    // A read-only lookup.
    let countries = ok(cli().args(["lookups", "list-countries"])).json();
    assert!(countries.to_string().contains("\"FR\""));
    // A listing is also its noun alone.
    assert_eq!(ok(cli().args(["lookups", "countries"])).json(), countries);
}

#[test]
fn a_profile_image_goes_up_from_a_file_and_comes_down_byte_for_byte() {
    let server = Server::start();
    let token = server.token("users:read users:write users:admin");
    let config = tempfile::tempdir().unwrap();
    let cli = || users(&server.url, Some(&token), config.path());
    let created = ok(cli().args([
        "users",
        "create",
        "--name",
        "{firstName: Ada, lastName: Lovelace}",
        "--email",
        "ada@example.com",
    ]))
    .json();
    let id = created["id"].as_str().unwrap().to_owned();
    let image =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../users-conformance/assets/avatar.webp");
    // The file goes as the image type its bytes are, and comes back whole
    // on standard output.
    ok(cli()
        .args(["users", "set-avatar", &id, "--body"])
        .arg(&image));
    let read = cli().args(["users", "get-avatar", &id]).output().unwrap();
    assert!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    assert_eq!(read.stdout, std::fs::read(&image).unwrap());
    assert_eq!(
        ok(cli().args(["users", "get", &id])).json()["hasAvatar"],
        true
    );
    // Bytes that are no image: the server's 415, exit 3.
    let text = config.path().join("not-an-image.png");
    std::fs::write(&text, "hello").unwrap();
    let refused = run(cli()
        .args(["users", "set-avatar", &id, "--body"])
        .arg(&text));
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(refused.stderr.contains("415"), "{}", refused.stderr);
    // Removed; then there is none to read.
    ok(cli().args(["users", "delete-avatar", &id]));
    let gone = run(cli().args(["users", "get-avatar", &id]));
    assert_eq!(gone.code, 3, "{}", gone.stderr);
    assert!(gone.stderr.contains("avatar-not-found"), "{}", gone.stderr);
}

#[test]
fn values_the_spec_forbids_fail_before_anything_is_sent() {
    // Nothing listens here: a value that reached the network would fail
    // with exit 4, not 2.
    let config = tempfile::tempdir().unwrap();
    let cli = || users("http://127.0.0.1:9", Some("token"), config.path());
    let cases: [(&[&str], &str); 5] = [
        (&["users", "list", "--limit", "500"], "limit"),
        (&["users", "list", "--limit", "ten"], "limit"),
        (&["users", "get", "not-a-uuid"], "userId"),
        (&["users", "create", "--email", "a@example.com"], "name"),
        (
            &[
                "users",
                "create",
                "--name",
                "{firstName: A}",
                "--email",
                "a@example.com",
            ],
            "name",
        ),
    ];
    for (args, named) in cases {
        let failed = run(cli().args(args));
        assert_eq!(failed.code, 2, "{args:?}: {}", failed.stderr);
        assert!(failed.stderr.contains(named), "{args:?}: {}", failed.stderr);
    }
    // A closed list is offered, and checked, by the command line itself.
    let failed = run(cli().args([
        "users",
        "update",
        "3f2504e0-4f89-41d3-9a0c-0305e82c3301",
        "--clear",
        "nickname",
    ]));
    assert_eq!(failed.code, 2);
    assert!(failed.stderr.contains("jobTitle"), "{}", failed.stderr);
    // And an unreachable server is exit 4.
    let unreachable = run(cli().args(["users", "list"]));
    assert_eq!(unreachable.code, 4, "{}", unreachable.stderr);
}

#[test]
fn a_profile_keeps_the_url_and_token_and_never_shows_the_token() {
    let server = Server::start();
    let token = server.token("users:read");
    let config = tempfile::tempdir().unwrap();
    let mut login = Command::cargo_bin("users").unwrap();
    login
        .env_remove("USERS_URL")
        .env_remove("USERS_TOKEN")
        .env("USERS_CONFIG_DIR", config.path())
        .args(["auth", "login", "--profile", "work", "--url", &server.url])
        .write_stdin(format!("{token}\n"));
    ok(&mut login);
    let file = config.path().join("config.toml");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let mut status = Command::cargo_bin("users").unwrap();
    status
        .env_remove("USERS_TOKEN")
        .env("USERS_CONFIG_DIR", config.path())
        .args(["auth", "status", "--profile", "work"]);
    let status = ok(&mut status);
    assert!(status.stdout.contains("token: set"));
    assert!(status.stdout.contains(&server.url));
    assert!(!status.stdout.contains(&token));

    // The profile alone reaches the server.
    let mut list = Command::cargo_bin("users").unwrap();
    list.env_remove("USERS_URL")
        .env_remove("USERS_TOKEN")
        .env("USERS_CONFIG_DIR", config.path())
        .args(["--profile", "work", "users", "list"]);
    let page = ok(&mut list).json();
    assert!(page["items"].is_array());

    // Without the token the server refuses: exit 3.
    let mut logout = Command::cargo_bin("users").unwrap();
    logout
        .env("USERS_CONFIG_DIR", config.path())
        .args(["auth", "logout", "--profile", "work"]);
    ok(&mut logout);
    let mut list = Command::cargo_bin("users").unwrap();
    list.env_remove("USERS_URL")
        .env_remove("USERS_TOKEN")
        .env("USERS_CONFIG_DIR", config.path())
        .args(["--profile", "work", "users", "list"]);
    let refused = run(&mut list);
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(refused.stderr.contains("401"), "{}", refused.stderr);
}

#[test]
fn answers_of_the_sdk_mock_are_rendered_and_its_errors_have_exit_codes() {
    let mock = users_client::httpmock::MockServer::start();
    let page = fixtures::user_page();
    let listed = mock.list_users(|when, then| {
        when.limit(5);
        then.ok(&page);
    });
    let config = tempfile::tempdir().unwrap();
    let out =
        ok(users(&mock.base_url(), Some("t"), config.path())
            .args(["users", "list", "--limit", "5"]))
        .json();
    listed.assert();
    assert_eq!(out, serde_json::to_value(&page).unwrap());

    let problem = fixtures::problem();
    mock.get_user(|_, then| {
        then.internal_server_error(&problem);
    });
    let failed = run(users(&mock.base_url(), Some("t"), config.path()).args([
        "users",
        "get",
        "3f2504e0-4f89-41d3-9a0c-0305e82c3301",
    ]));
    assert_eq!(failed.code, 4, "{}", failed.stderr);
    assert!(failed.stderr.contains("500"), "{}", failed.stderr);
}

#[test]
fn completions_and_the_man_page_are_generated() {
    let config = tempfile::tempdir().unwrap();
    let bash =
        ok(users("http://127.0.0.1:9", None, config.path()).args(["completions", "bash"])).stdout;
    assert!(bash.contains("set-password") && bash.contains("list-countries"));
    let man = ok(users("http://127.0.0.1:9", None, config.path()).arg("man")).stdout;
    assert!(man.starts_with(".ie") || man.contains(".TH"), "{man}");
}

#[test]
fn an_update_without_if_match_sends_the_merge_patch_with_the_etag_it_read() {
    let mock = users_client::httpmock::MockServer::start();
    let user = fixtures::user();
    let id = user.id.to_string();
    let etag: users_client::ETag = "\"7\"".parse().unwrap();
    let read = mock.get_user(|when, then| {
        when.user_id(&id);
        then.ok(&user, &etag);
    });
    let patch = users_client::patch::UserPatch::builder()
        .job_title("Analyst")
        .clear_phone();
    let written = mock.update_user(|when, then| {
        when.user_id(&id).if_match(&etag).body(patch);
        then.ok(&user, &"\"8\"".parse().unwrap());
    });
    let config = tempfile::tempdir().unwrap();
    ok(users(&mock.base_url(), Some("t"), config.path()).args([
        "users",
        "update",
        &id,
        "--job-title",
        "Analyst",
        "--clear",
        "phone",
    ]));
    read.assert();
    written.assert();
}
