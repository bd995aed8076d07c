//! The `users` command: global options, `auth`, `completions`, `man`, and
//! the generated groups of operations.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Arg, ArgMatches, Command};
use users_client::Client;

use crate::config::{self, Config, Profile};
use crate::generated;
use crate::render::{self, Format};
use crate::runtime::{Failure, Options};

/// Where the API is when nothing says otherwise: the reference server's
/// default address.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8080";

const EXIT_CODES: &str = "\
Exit codes: 0 success; 1 a local failure (a file, the configuration); \
2 usage (a flag or value the spec forbids, checked before sending); \
3 the API refused the request (4xx); 4 the API failed (5xx) or could not be reached.

Settings: --url, then USERS_URL, then the profile's URL; --token, then \
USERS_TOKEN, then the profile's token (`users auth login`).";

/// The whole command line.
pub fn command() -> Command {
    let global = |arg: Arg| arg.global(true).help_heading("Global options");
    Command::new("users")
        .version(env!("CARGO_PKG_VERSION"))
        .about("The Users API from the command line: a subcommand per operation of its spec.")
        .after_help(EXIT_CODES)
        .subcommand_required(true)
        .arg_required_else_help(true)
        .arg(global(
            Arg::new("url")
                .long("url")
                .value_name("URL")
                .help("The API's base URL [env: USERS_URL]"),
        ))
        .arg(global(
            Arg::new("token")
                .long("token")
                .value_name("TOKEN")
                .hide_env_values(true)
                .help("The bearer token [env: USERS_TOKEN]"),
        ))
        .arg(global(
            Arg::new("profile")
                .long("profile")
                .env("USERS_PROFILE")
                .default_value("default")
                .value_name("NAME")
                .help("The profile whose URL and token are used"),
        ))
        .arg(global(
            Arg::new("output")
                .long("output")
                .short('o')
                .value_name("FORMAT")
                .value_parser(clap::value_parser!(Format))
                .help("The output format [default: table on a terminal, json otherwise]"),
        ))
        .arg(global(
            Arg::new("tenant")
                .long("tenant")
                .value_name("KEY")
                .help("Acts on another account, for a caller allowed to switch"),
        ))
        .arg(global(
            Arg::new("attempts")
                .long("attempts")
                .value_name("N")
                .value_parser(clap::value_parser!(u32).range(1..=100))
                .default_value("3")
                .help("How many times an update is read, changed and written again on a conflict (412)"),
        ))
        .subcommand(
            Command::new("auth")
                .about("Stores a base URL and token per profile")
                .subcommand_required(true)
                .subcommand(
                    Command::new("login")
                        .about("Saves --url and --token (or a token read from standard input) as the profile")
                        .after_help("The file is written with mode 0600 under USERS_CONFIG_DIR or the platform's configuration directory."),
                )
                .subcommand(Command::new("logout").about("Forgets the profile's token"))
                .subcommand(
                    Command::new("status").about("Shows the URL and whether a token is set (never the token)"),
                ),
        )
        .subcommand(
            Command::new("completions")
                .about("Prints a shell completion script")
                .arg(
                    Arg::new("shell")
                        .required(true)
                        .value_parser(clap::value_parser!(clap_complete::Shell)),
                ),
        )
        .subcommand(Command::new("man").about("Prints the man page (roff)"))
        .subcommand(
            Command::new("mcp")
                .about("Serves the API to AI agents: a Model Context Protocol server on standard input and output, a tool per operation")
                .arg(
                    Arg::new("read-only")
                        .long("read-only")
                        .action(clap::ArgAction::SetTrue)
                        .help("Offers only the operations that change nothing (GET)"),
                )
                .arg(
                    Arg::new("list")
                        .long("list")
                        .action(clap::ArgAction::SetTrue)
                        .help("Prints the tools an agent would see, one JSON object per line, and exits"),
                ),
        )
        .subcommands(generated::groups())
}

/// Runs the command line `matches`; answers the exit code.
pub async fn run(matches: ArgMatches) -> ExitCode {
    match dispatch(&matches).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            report(&failure);
            ExitCode::from(failure.exit_code())
        }
    }
}

/// Prints a failure to standard error: a problem document as its title,
/// code and detail, then one line per invalid field.
pub fn report(failure: &Failure) {
    match failure {
        Failure::Usage(message) => eprintln!("error: {message}"),
        Failure::Local(message) => eprintln!("error: {message}"),
        Failure::OutputClosed => {}
        Failure::Api(err) => {
            eprintln!("error: {err}");
            if let Some(problem) = err.problem()
                && let Some(errors) = problem.extensions.get("errors").and_then(|e| e.as_array())
            {
                for error in errors {
                    let field = error["field"].as_str().unwrap_or("?");
                    let message = error["message"].as_str().unwrap_or_default();
                    match error["code"].as_str() {
                        Some(code) => eprintln!("  {field}: {message} ({code})"),
                        None => eprintln!("  {field}: {message}"),
                    }
                }
            }
        }
    }
}

/// Where the settings come from: the flag, the environment, the profile.
fn setting(
    matches: &ArgMatches,
    flag: &str,
    env: &str,
    profile: Option<&String>,
) -> Option<String> {
    matches
        .get_one::<String>(flag)
        .cloned()
        .or_else(|| std::env::var(env).ok().filter(|v| !v.is_empty()))
        .or_else(|| profile.cloned())
}

async fn dispatch(matches: &ArgMatches) -> Result<(), Failure> {
    let profile_name = matches
        .get_one::<String>("profile")
        .cloned()
        .unwrap_or_else(|| "default".to_owned());
    let (group, args) = matches
        .subcommand()
        .ok_or_else(|| Failure::Usage("a command is required".to_owned()))?;
    match group {
        "auth" => return auth(matches, &profile_name, args),
        "completions" => {
            let shell = *args
                .get_one::<clap_complete::Shell>("shell")
                .expect("required");
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command(), "users", &mut script);
            return std::io::Write::write_all(&mut std::io::stdout().lock(), &script)
                .map_err(render::write_err);
        }
        "man" => {
            return clap_mangen::Man::new(command())
                .render(&mut std::io::stdout().lock())
                .map_err(render::write_err);
        }
        _ => {}
    }
    if group == "mcp" && args.get_flag("list") {
        for op in generated::OPERATIONS {
            if args.get_flag("read-only") && !op.is_safe() {
                continue;
            }
            let tool = serde_json::to_string(&crate::mcp::tool(op))
                .map_err(|err| Failure::Local(err.to_string()))?;
            line(&tool)?;
        }
        return Ok(());
    }
    let config = Config::load(&config::path()?)?;
    let profile = config
        .profiles
        .get(&profile_name)
        .cloned()
        .unwrap_or_default();
    let url = setting(matches, "url", "USERS_URL", profile.url.as_ref())
        .unwrap_or_else(|| DEFAULT_URL.to_owned());
    let token = setting(matches, "token", "USERS_TOKEN", profile.token.as_ref());
    let mut builder =
        Client::builder(url).user_agent(concat!("users-cli/", env!("CARGO_PKG_VERSION")));
    if let Some(token) = token {
        builder = builder.bearer_token(token);
    }
    if let Some(tenant) = matches.get_one::<String>("tenant") {
        builder = builder.tenant(tenant.clone());
    }
    let client = builder.build()?;
    let options = Options {
        attempts: *matches.get_one::<u32>("attempts").unwrap_or(&3),
    };
    if group == "mcp" {
        let read_only = args.get_flag("read-only");
        return crate::mcp::Server::new(client, options, read_only)
            .serve_stdio()
            .await;
    }
    let (operation, op_args) = args
        .subcommand()
        .ok_or_else(|| Failure::Usage(format!("{group}: a command is required")))?;
    let stdout = std::io::stdout();
    let format = matches
        .get_one::<Format>("output")
        .copied()
        .unwrap_or(if stdout.is_terminal() {
            Format::Table
        } else {
            Format::Json
        });
    let outcome = generated::run(&client, group, operation, op_args, &options).await?;
    let progress = std::io::stderr().is_terminal();
    let mut out = std::io::BufWriter::new(stdout.lock());
    render::render(outcome, format, &mut out, progress).await?;
    std::io::Write::flush(&mut out).map_err(render::write_err)
}

/// Writes a line to standard output.
fn line(text: &str) -> Result<(), Failure> {
    use std::io::Write;
    writeln!(std::io::stdout().lock(), "{text}").map_err(render::write_err)
}

fn auth(matches: &ArgMatches, profile_name: &str, args: &ArgMatches) -> Result<(), Failure> {
    let path = config::path()?;
    let mut config = Config::load(&path)?;
    match args.subcommand_name() {
        Some("login") => {
            let token = match matches.get_one::<String>("token") {
                Some(token) if token != "-" => token.clone(),
                _ => {
                    let mut line = String::new();
                    std::io::stdin()
                        .read_line(&mut line)
                        .map_err(|err| Failure::Local(format!("reading the token: {err}")))?;
                    line.trim().to_owned()
                }
            };
            if token.is_empty() {
                return Err(Failure::Usage(
                    "no token: pass --token or write it to standard input".to_owned(),
                ));
            }
            let profile = config.profiles.entry(profile_name.to_owned()).or_default();
            if let Some(url) = matches.get_one::<String>("url") {
                profile.url = Some(url.clone());
            }
            profile.token = Some(token);
            config.save(&path)?;
            eprintln!("saved profile {profile_name} to {}", path.display());
        }
        Some("logout") => {
            if let Some(profile) = config.profiles.get_mut(profile_name) {
                profile.token = None;
            }
            config.save(&path)?;
            eprintln!("forgot the token of profile {profile_name}");
        }
        _ => {
            let profile: Profile = config
                .profiles
                .get(profile_name)
                .cloned()
                .unwrap_or_default();
            println!("profile: {profile_name}");
            println!("url: {}", profile.url.as_deref().unwrap_or(DEFAULT_URL));
            println!(
                "token: {}",
                if profile.token.is_some() {
                    "set"
                } else {
                    "not set"
                }
            );
            println!("file: {}", path.display());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        command().debug_assert();
    }

    #[test]
    fn every_operation_has_a_command() {
        let root = command();
        for op in generated::OPERATIONS {
            let group = root
                .find_subcommand(op.group)
                .unwrap_or_else(|| panic!("no group {}", op.group));
            assert!(
                group.find_subcommand(op.command).is_some(),
                "no command {} {} for {}",
                op.group,
                op.command,
                op.id
            );
        }
    }
}
