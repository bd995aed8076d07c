//! `users`: the Users API from the command line.

use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let matches = users_cli::app::command().get_matches();
    users_cli::app::run(matches).await
}
