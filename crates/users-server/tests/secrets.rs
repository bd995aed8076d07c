//! The server binary as an operator runs it: what it prints when it cannot
//! start, and its help, never show the database password or the JWT
//! secret, whichever of its outputs they would land in.

use std::process::Command;

const JWT_SECRET: &str = "jwt-secret-never-printed-0123456789";
const PASSWORD: &str = "db-password-never-printed";

fn server() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_users-server"));
    command
        .env_clear()
        .env("USERS_JWT_SECRET", JWT_SECRET)
        .env("USERS_METRICS_LISTEN", "off")
        .env("USERS_LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "trace");
    command
}

/// Everything the process wrote, stdout and stderr.
fn printed(command: &mut Command) -> (bool, String) {
    let output = command.output().expect("the server binary runs");
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

#[test]
fn a_failed_start_prints_no_password() {
    for url in [
        // Nothing listens on port 1: the connection fails.
        format!("postgres://postgres:{PASSWORD}@127.0.0.1:1/users"),
        format!("postgres://127.0.0.1:1/users?user=postgres&password={PASSWORD}"),
        // A scheme the server does not take.
        format!("mysql://root:{PASSWORD}@127.0.0.1/users"),
    ] {
        let (started, text) = printed(server().env("DATABASE_URL", &url));
        assert!(!started, "{text}");
        assert!(text.contains("opening "), "{text}");
        assert!(!text.contains(PASSWORD), "the password was printed: {text}");
        assert!(
            !text.contains(JWT_SECRET),
            "the JWT secret was printed: {text}"
        );
        assert!(text.contains("***"), "{text}");
    }
}

#[test]
fn help_shows_no_value_from_the_environment() {
    let url = format!("postgres://postgres:{PASSWORD}@127.0.0.1:1/users");
    let (_, text) = printed(server().env("DATABASE_URL", &url).arg("--help"));
    assert!(text.contains("--database-url"), "{text}");
    assert!(!text.contains(PASSWORD), "{text}");
    assert!(!text.contains(JWT_SECRET), "{text}");
}
