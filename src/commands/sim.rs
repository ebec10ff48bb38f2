//! `smtpscope sim`: run the SES simulator until Ctrl-C (or SIGTERM).
//!
//! It prints where it listens, where the CA certificate went, and every user with its SMTP
//! password. Printing passwords is deliberate and limited to demo keys: a password is shown
//! only when the user's secret is an AWS-style example key (it contains `EXAMPLE`), which
//! protects nothing. For any other key it prints how to derive the password instead.

use std::fmt::Write as _;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;

use super::error::{CommandError, CommandResult};
use crate::engine::sim::{self, SimConfig, SimEvent};

#[derive(clap::Args, Debug)]
pub struct SimArgs {
    /// Simulator configuration (TOML) [default: the built-in demo configuration]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Speak like this provider at the greeting, EHLO and AUTH, with its own login refusals
    /// (its users are listed at start)
    #[arg(long, value_enum, default_value_t = SimProvider::Ses)]
    pub provider: SimProvider,
    /// Address of the STARTTLS listener (overrides the config), e.g. 127.0.0.1:2587 or
    /// localhost:2587
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: Option<String>,
    /// Address of the implicit-TLS listener (overrides the config), or "off"
    #[arg(long, value_name = "HOST:PORT|off")]
    pub listen_implicit: Option<String>,
    /// Allow listening on an address other than loopback. The simulator knows its users'
    /// SMTP passwords (the demo ones are public), so anyone who reaches it can log in
    #[arg(long)]
    pub allow_remote: bool,
    /// Write the CA certificate (PEM) here, for clients' --ca-file
    /// [default: smtpscope-sim-ca.pem in the temporary folder]
    #[arg(long, value_name = "PATH")]
    pub write_ca: Option<PathBuf>,
    /// Also write each accepted message as <id>.eml into this folder
    #[arg(long, value_name = "DIR")]
    pub mailbox: Option<PathBuf>,
    /// Print the users and their SMTP passwords, then exit
    #[arg(long)]
    pub print_users: bool,
    /// Do not log connections and verdicts
    #[arg(long)]
    pub quiet: bool,
}

/// The providers the simulator can imitate.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SimProvider {
    /// Amazon SES (the default)
    #[default]
    Ses,
    /// Microsoft 365 (smtp.office365.com)
    #[value(name = "microsoft365")]
    Microsoft365,
    /// Gmail (smtp.gmail.com)
    Gmail,
}

impl SimProvider {
    /// The profile name (assets/sim/<name>.toml; `ses` has none).
    pub(crate) fn name(self) -> &'static str {
        match self {
            SimProvider::Ses => "ses",
            SimProvider::Microsoft365 => "microsoft365",
            SimProvider::Gmail => "gmail",
        }
    }
}

/// Loads the configuration and applies the command-line overrides.
pub(crate) fn load_config(args: &SimArgs) -> Result<SimConfig, String> {
    let mut config = match &args.config {
        Some(path) => SimConfig::from_file(path),
        None => SimConfig::default_demo(),
    }
    .map_err(|e| e.to_string())?;
    config
        .set_provider(args.provider.name())
        .map_err(|e| e.to_string())?;
    if let Some(text) = &args.listen {
        config.listen.starttls = resolve_listen("--listen", text)?;
    }
    if let Some(text) = &args.listen_implicit {
        config.listen.implicit = match text.trim() {
            "off" | "" => None,
            addr => Some(
                resolve_listen("--listen-implicit", addr)
                    .map_err(|e| format!("{e} (or \"off\")"))?,
            ),
        };
    }
    if let Some(dir) = &args.mailbox {
        config.mailbox.dir = Some(dir.clone());
    }
    Ok(config)
}

/// `HOST:PORT` to one address: an IP literal as it is, a name (`localhost`) resolved, IPv4
/// first (clients try 127.0.0.1 before `::1`).
pub(crate) fn resolve_listen(flag: &str, text: &str) -> Result<SocketAddr, String> {
    let example = format!(
        "{flag} takes HOST:PORT, e.g. {flag} 127.0.0.1:2587, {flag} localhost:2587 or {flag} [::1]:2587"
    );
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let addrs: Vec<SocketAddr> = text
        .to_socket_addrs()
        .map_err(|e| format!("{flag} {text:?} is not an address ({e}); {example}"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| format!("{flag} {text:?} resolved to no address; {example}"))
}

/// The listeners that are not on loopback. Without `--allow-remote` they are refused; with it
/// each gets a loud warning, since the simulator knows its users' passwords.
pub(crate) fn check_remote(config: &SimConfig, allow_remote: bool) -> Result<Vec<String>, String> {
    let listeners = [Some(config.listen.starttls), config.listen.implicit];
    let remote: Vec<SocketAddr> = listeners
        .into_iter()
        .flatten()
        .filter(|a| !a.ip().to_canonical().is_loopback())
        .collect();
    if remote.is_empty() {
        return Ok(Vec::new());
    }
    let shown: Vec<String> = remote.iter().map(SocketAddr::to_string).collect();
    if !allow_remote {
        return Err(format!(
            "{} is not a loopback address: other machines could connect, and the simulator \
             knows the SMTP passwords of its users (the demo ones are public). Listen on \
             127.0.0.1 or [::1], or add --allow-remote if you really mean it",
            shown.join(" and ")
        ));
    }
    Ok(shown
        .iter()
        .map(|a| {
            format!(
                "WARNING: listening on {a}, reachable from other machines (--allow-remote): \
                 anyone who can connect can log in as the simulator's users"
            )
        })
        .collect())
}

/// One line per user: name, SMTP user name, SMTP password (demo keys only), policies.
pub(crate) fn describe_users(config: &SimConfig) -> String {
    let mut out = String::new();
    if let Some(profile) = &config.profile {
        let _ = writeln!(out, "users of the {} profile:", profile.name);
        let width = profile
            .users
            .iter()
            .map(|u| u.name.len())
            .max()
            .unwrap_or(4);
        let user_width = profile
            .users
            .iter()
            .map(|u| u.username.len())
            .max()
            .unwrap_or(4);
        for user in &profile.users {
            let last_line = user.reply.lines().last().unwrap_or_default();
            let outcome = if user.logs_in() {
                format!(
                    "logs in, sends as SES user {}",
                    user.deliver_as.as_deref().unwrap_or("?")
                )
            } else {
                format!("refused: {last_line}")
            };
            let _ = writeln!(
                out,
                "  {:width$}  {:user_width$}  {}  {outcome}",
                user.name,
                user.username,
                user.password().as_str()
            );
        }
        let _ = writeln!(
            out,
            "  (made-up demo passwords; any other password gets: {})",
            profile.wrong_password.lines().next().unwrap_or_default()
        );
        if !profile.tokens.is_empty() {
            let _ = writeln!(
                out,
                "OAuth test tokens (--auth xoauth2, the token in SMTPSCOPE_OAUTH_TOKEN):"
            );
            for t in &profile.tokens {
                let last_line = t.reply.lines().last().unwrap_or_default();
                let outcome = if t.logs_in() {
                    "logs in".to_string()
                } else {
                    format!("refused: {last_line}")
                };
                let _ = writeln!(
                    out,
                    "  {}  {}  {outcome}\n    {}",
                    t.name,
                    t.username,
                    t.token().as_str()
                );
            }
        }
        return out;
    }
    let _ = writeln!(
        out,
        "users (region {}; SMTP user name = access key ID):",
        config.region
    );
    let width = config.users.iter().map(|u| u.name.len()).max().unwrap_or(4);
    for user in &config.users {
        let password = if user.is_example_key() {
            user.smtp_password(&config.region).to_string()
        } else {
            format!(
                "(not shown: derive it with `smtpscope password --region {}` from the secret in the config)",
                config.region
            )
        };
        let mut extras = Vec::new();
        if let Some(ip) = user.apparent_source_ip {
            extras.push(format!("seen from {ip}"));
        }
        if let Some(sandbox) = user.sandbox {
            extras.push(format!("sandbox {}", if sandbox { "on" } else { "off" }));
        }
        if let Some(rate) = user.max_send_rate {
            extras.push(format!("{rate}/s"));
        }
        if let Some(daily) = user.daily_quota {
            extras.push(format!("{daily}/day"));
        }
        let policies = if user.policy_sources.is_empty() {
            "no policy (every send is denied)".to_string()
        } else {
            user.policy_sources.join(" + ")
        };
        let extras = if extras.is_empty() {
            String::new()
        } else {
            format!(" [{}]", extras.join(", "))
        };
        let _ = writeln!(
            out,
            "  {:width$}  {}  {password}  {policies}{extras}",
            user.name, user.access_key_id
        );
    }
    if config
        .users
        .iter()
        .any(super::super::engine::sim::config::SimUser::is_example_key)
    {
        let _ = writeln!(
            out,
            "  (these are fake demo keys: their secrets sit in the config, so the passwords protect nothing)"
        );
    }
    out
}

/// Prints text line by line, escaped: config values (user names, file names, identities)
/// are the user's input and may hold escape sequences.
fn say(text: &str) {
    for line in text.lines() {
        crate::outln!("{}", crate::engine::escape::escape_str(line));
    }
}

/// What the simulator tells its user at start: listeners, CA, account, users, a try-me line.
fn banner(running: &sim::RunningSim, origin: &str, ca_path: &std::path::Path) -> String {
    let cfg = running.config();
    let mut out = String::new();
    match &cfg.profile {
        Some(p) => writeln!(
            out,
            "smtpscope sim: greeting, EHLO and AUTH like {}, the rest like Amazon SES. Nothing is relayed; accepted mail stays in its mailbox.",
            p.name
        ),
        None => writeln!(
            out,
            "smtpscope sim: an Amazon SES SMTP simulator. Nothing is relayed; accepted mail stays in its mailbox."
        ),
    }
    .unwrap_or_default();
    let _ = writeln!(out, "config: {origin}");
    let _ = writeln!(
        out,
        "STARTTLS listener: {}  (like SES ports 25/587/2587)",
        running.starttls_addr
    );
    let _ = match running.implicit_addr {
        Some(a) => writeln!(out, "implicit-TLS listener: {a}  (like SES ports 465/2465)"),
        None => writeln!(out, "implicit-TLS listener: off"),
    };
    let _ = writeln!(
        out,
        "CA certificate: {}  (new at every start; clients: --ca-file {})",
        ca_path.display(),
        ca_path.display()
    );
    let _ = writeln!(out, "certificate names: {}", cfg.tls_names.join(", "));
    let _ = writeln!(
        out,
        "account {} in {}, sandbox {}, verified identities: {}",
        cfg.account,
        cfg.region,
        if cfg.sandbox { "on" } else { "off" },
        if cfg.verified_identities.is_empty() {
            "(none)".to_string()
        } else {
            cfg.verified_identities.join(", ")
        }
    );
    if let Some(dir) = &cfg.mailbox.dir {
        let _ = writeln!(out, "mailbox folder: {}", dir.display());
    }
    let _ = writeln!(out, "{}", describe_users(cfg).trim_end());
    if let Some((profile, user)) = cfg
        .profile
        .as_ref()
        .and_then(|p| p.user("good").map(|u| (p, u)))
    {
        let _ = writeln!(
            out,
            "try: SMTPSCOPE_PASSWORD='{}' smtpscope run --host {} --port {} --ca-file {} --user {} --from sender@example.com --to rcpt@example.com{}",
            user.password().as_str(),
            running.starttls_addr.ip(),
            running.starttls_addr.port(),
            ca_path.display(),
            user.username,
            if profile.takes("PLAIN") {
                ""
            } else {
                " --auth login"
            }
        );
    } else if let Some(user) = cfg.users.iter().find(|u| u.is_example_key()) {
        let _ = writeln!(
            out,
            "try: SMTPSCOPE_PASSWORD='{}' smtpscope run --host {} --port {} --ca-file {} --user {} --from sender@example.com --to rcpt@example.com",
            user.smtp_password(&cfg.region).as_str(),
            running.starttls_addr.ip(),
            running.starttls_addr.port(),
            ca_path.display(),
            user.access_key_id
        );
    }
    let _ = writeln!(out, "Ctrl-C stops it.");
    out
}

fn print_event(event: &SimEvent) {
    crate::outln!(
        "{} {} {}",
        event.time.format("%H:%M:%S%.3f"),
        event.peer,
        event.text
    );
}

/// Registers for SIGINT and SIGTERM at once (a signal that arrives before the returned future
/// is first polled still stops the simulator cleanly) and resolves when one arrives.
fn stop_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = int.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Runs the simulator until interrupted. Errors: a bad configuration is the user's (exit 2);
/// a simulator that cannot start (address in use, CA file not writable) is not (exit 1).
pub async fn run(args: &SimArgs) -> CommandResult {
    let config = load_config(args).map_err(CommandError::usage)?;
    if args.print_users {
        say(describe_users(&config).trim_end());
        return Ok(ExitCode::SUCCESS);
    }
    let warnings = check_remote(&config, args.allow_remote).map_err(CommandError::usage)?;
    for w in &warnings {
        super::report("smtpscope sim", w);
    }
    let origin = config.origin.clone();
    let stop = stop_signal();
    let mut running = sim::start(config)
        .await
        .map_err(CommandError::environment)?;
    let ca_path = args
        .write_ca
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("smtpscope-sim-ca.pem"));
    if let Err(e) = running.write_ca(&ca_path) {
        running.shutdown().await;
        return Err(CommandError::environment(e));
    }
    say(&banner(&running, &origin, &ca_path));
    for w in &warnings {
        say(&format!("!!! {w}"));
    }

    let mut events = running.take_events();
    let quiet = args.quiet;
    let log = async {
        match events.as_mut() {
            Some(rx) if !quiet => {
                while let Some(event) = rx.recv().await {
                    print_event(&event);
                }
            }
            _ => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = stop => {}
        () = log => {}
    }
    let stats = running.stats();
    let accepted = running.mailbox().total_accepted();
    running.shutdown().await;
    crate::outln!(
        "stopped: {} connection(s) served, {} refused over the limit, {} idle timeout(s), {} message(s) accepted",
        stats.served,
        stats.refused_busy,
        stats.timeouts,
        accepted
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: SimArgs,
    }

    fn args(argv: &[&str]) -> SimArgs {
        Cli::try_parse_from(std::iter::once("sim").chain(argv.iter().copied()))
            .unwrap()
            .args
    }

    #[test]
    fn overrides_apply() {
        let a = args(&[
            "--listen",
            "127.0.0.1:0",
            "--listen-implicit",
            "off",
            "--mailbox",
            "/tmp/mb",
        ]);
        let cfg = load_config(&a).unwrap();
        assert_eq!(cfg.listen.starttls.port(), 0);
        assert_eq!(cfg.listen.implicit, None);
        assert_eq!(cfg.mailbox.dir, Some(PathBuf::from("/tmp/mb")));
        let bad = load_config(&args(&["--listen-implicit", "nowhere"])).unwrap_err();
        assert!(bad.contains("--listen-implicit"), "{bad}");
    }

    #[test]
    fn listen_takes_names_and_remote_needs_allow_remote() {
        let cfg = load_config(&args(&[
            "--listen",
            "localhost:0",
            "--listen-implicit",
            "off",
        ]));
        let cfg = cfg.unwrap();
        assert_eq!(cfg.listen.starttls, "127.0.0.1:0".parse().unwrap());
        assert!(check_remote(&cfg, false).unwrap().is_empty());
        let cfg = load_config(&args(&["--listen", "[::1]:0", "--listen-implicit", "off"]));
        assert!(check_remote(&cfg.unwrap(), false).unwrap().is_empty());
        for bad in ["nowhere", "127.0.0.1", "localhost:port"] {
            let err = load_config(&args(&["--listen", bad])).unwrap_err();
            assert!(
                err.contains("e.g. --listen 127.0.0.1:2587, --listen localhost:2587"),
                "{err}"
            );
        }
        let remote = load_config(&args(&[
            "--listen",
            "0.0.0.0:2587",
            "--listen-implicit",
            "off",
        ]))
        .unwrap();
        let err = check_remote(&remote, false).unwrap_err();
        assert!(
            err.starts_with("0.0.0.0:2587 is not a loopback address"),
            "{err}"
        );
        let warnings = check_remote(&remote, true).unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].starts_with("WARNING: listening on 0.0.0.0:2587"));
    }

    #[test]
    fn bad_config_file_is_named_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sim.toml");
        std::fs::write(&path, "region = \"us-east-1\"\nsandbox = maybe\n").unwrap();
        let err = load_config(&args(&["--config", path.to_str().unwrap()])).unwrap_err();
        assert!(err.contains("sim.toml, line 2"), "{err}");
    }

    #[test]
    fn users_list_shows_demo_passwords_only() {
        let cfg = SimConfig::default_demo().unwrap();
        let text = describe_users(&cfg);
        assert!(
            text.contains("AKIAIOSFODNN7EXAMPLE  BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9"),
            "{text}"
        );
        assert!(text.contains("seen from 203.0.113.5"));
        assert!(text.contains("fake demo keys"));
        // A key that is not an example key: its password stays hidden.
        let dir = tempfile::tempdir().unwrap();
        let real = SimConfig::from_toml_str(
            "[[user]]\nname = \"ops\"\naccess_key_id = \"AKIAEXAMPLEOPSKEY001\"\nsecret_access_key = \"abcdefghijABCDEFGHIJ0123456789/+abcdefgh\"\npolicy = \"allow-all.json\"\n",
            dir.path(),
        )
        .unwrap();
        let text = describe_users(&real);
        let hidden = real.users[0].smtp_password("us-east-1");
        assert!(!text.contains(hidden.as_str()), "{text}");
        assert!(text.contains("not shown"));
        assert!(!text.contains("abcdefghijABCDEFGHIJ"));
    }
}
