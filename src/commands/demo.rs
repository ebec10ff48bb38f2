//! `smtpscope demo`: the SES simulator on loopback and the debugger against it, with one of
//! its scenarios (assets/demo/scenarios.toml) picked from a list or by `--scenario`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde::Deserialize;
use zeroize::Zeroizing;

use super::error::{CommandError, CommandResult};
use crate::cli::AuthChoice;
use crate::engine::session::SessionConfig;
use crate::engine::sim::{self, SimConfig};
use crate::engine::transport::TlsMode;
use crate::tui::app::SimDecision;
use crate::tui::update::Msg;
use crate::tui::{self, Launch, picker};

const SCENARIOS: &str = include_str!("../../assets/demo/scenarios.toml");

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Scenario to open (see --list); without it a picker is shown
    #[arg(long, short = 's')]
    pub scenario: Option<String>,
    /// List the scenarios and exit
    #[arg(long)]
    pub list: bool,
    /// Simulator configuration [default: the built-in demo config]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Use AUTH LOGIN instead of AUTH PLAIN
    #[arg(long)]
    pub login: bool,
    /// Seconds the simulator waits for the next command before it closes an idle
    /// connection. Long by default, so there is time to read and type; `smtpscope sim`
    /// keeps SES's 10 s.
    #[arg(long, value_name = "SECS", default_value_t = DEMO_IDLE_SECS, value_parser = idle_secs)]
    pub idle_timeout: f64,
}

/// The demo's idle timeout: five minutes, time to read and type.
pub(crate) const DEMO_IDLE_SECS: f64 = 300.0;

fn idle_secs(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if (0.05..=3600.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("must be between 0.05 and 3600 seconds, not {v}"))
    }
}

/// One demo scenario, from assets/demo/scenarios.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Scenario {
    pub name: String,
    /// The provider the simulator imitates (`microsoft365`, `gmail`); SES without it.
    #[serde(default)]
    pub provider: Option<String>,
    /// A user of the SES config, or of the provider's profile.
    pub user: String,
    #[serde(default)]
    pub password: Option<String>,
    /// A test OAuth token of the provider's profile (`valid`, `expired`…): the debugger then
    /// logs in with AUTH XOAUTH2 and that token, as the profile's token user.
    #[serde(default)]
    pub token: Option<String>,
    pub title: String,
    pub summary: String,
    pub from: String,
    pub to: Vec<String>,
    pub notes: Vec<String>,
}

#[derive(Deserialize)]
struct ScenarioFile {
    scenario: Vec<Scenario>,
}

/// The built-in scenarios.
pub(crate) fn scenarios() -> Result<Vec<Scenario>, String> {
    toml::from_str::<ScenarioFile>(SCENARIOS)
        .map(|f| f.scenario)
        .map_err(|e| format!("assets/demo/scenarios.toml: {e}"))
}

/// Builds the debugger's launch for a scenario against a running simulator: SES's, or one
/// that speaks like another provider (its profile user and demo password, no SES lint).
pub(crate) fn launch_for(
    scenario: &Scenario,
    sim: &sim::RunningSim,
    login: bool,
) -> Result<Launch, String> {
    let config = sim.config();
    // Who logs in, with what, and what the simulator speaks as.
    let (user, password, ses_lint, speaks_as, takes_plain) = if let Some(profile) = &config.profile
    {
        if let Some(name) = &scenario.token {
            let token = profile
                .tokens
                .iter()
                .find(|t| &t.name == name)
                .ok_or_else(|| {
                    format!(
                        "scenario {}: the {} profile has no test token {name:?}",
                        scenario.name, profile.name
                    )
                })?;
            return Ok(oauth_launch(scenario, sim, profile, token));
        }
        let user = profile.user(&scenario.user).ok_or_else(|| {
            format!(
                "scenario {}: the {} profile has no user {:?}",
                scenario.name, profile.name, scenario.user
            )
        })?;
        (
            user.username.clone(),
            user.password(),
            None,
            format!("{} at the greeting, EHLO and AUTH,", profile.name),
            profile.takes("PLAIN"),
        )
    } else {
        let user = config.user(&scenario.user).ok_or_else(|| {
            format!(
                "scenario {}: the simulator has no user {:?}",
                scenario.name, scenario.user
            )
        })?;
        let lint = crate::engine::session::SesLint {
            region: Some(config.region.clone()),
            secret_access_key: None,
            access_key_id: None,
        };
        (
            user.access_key_id.clone(),
            user.smtp_password(&config.region),
            Some(lint),
            format!("SES region {}", config.region),
            true,
        )
    };
    // A scenario's wrong password replaces the right one.
    let password = scenario
        .password
        .as_ref()
        .map_or(password, |wrong| Zeroizing::new(wrong.clone()));
    let mut session = SessionConfig::new("localhost", sim.starttls_addr.port(), TlsMode::Starttls);
    session.tls.ca_pem = Some(sim.ca_pem.clone());
    session.tls.no_native_roots = true;
    session.ses_lint = ses_lint;
    let mut notes = scenario.notes.clone();
    notes.push(format!(
        "Simulator: {speaks_as} on {} (STARTTLS); its CA is trusted for this session only.",
        sim.starttls_addr
    ));
    Ok(Launch {
        config: session,
        ehlo: "client.example.com".into(),
        user: Some(user),
        password: Some(password),
        // Microsoft 365 takes LOGIN only: the demo uses what the service takes.
        auth: if login || !takes_plain {
            AuthChoice::Login
        } else {
            AuthChoice::Plain
        },
        from: Some(scenario.from.clone()),
        to: scenario.to.clone(),
        title: Some(scenario.title.clone()),
        notes,
        autoconnect: true,
    })
}

/// The launch of an OAuth scenario: AUTH XOAUTH2 with the profile's test token.
fn oauth_launch(
    scenario: &Scenario,
    sim: &sim::RunningSim,
    profile: &crate::engine::sim::ProviderProfile,
    token: &crate::engine::sim::ProfileToken,
) -> Launch {
    let mut session = SessionConfig::new("localhost", sim.starttls_addr.port(), TlsMode::Starttls);
    session.tls.ca_pem = Some(sim.ca_pem.clone());
    session.tls.no_native_roots = true;
    let mut notes = scenario.notes.clone();
    notes.push(format!(
        "Simulator: {} at the greeting, EHLO and AUTH, on {} (STARTTLS), with its test OAuth token {:?}; its CA is trusted for this session only.",
        profile.name, sim.starttls_addr, token.name
    ));
    Launch {
        config: session,
        ehlo: "client.example.com".into(),
        user: Some(token.username.clone()),
        password: Some(token.token()),
        auth: AuthChoice::Xoauth2,
        from: Some(scenario.from.clone()),
        to: scenario.to.clone(),
        title: Some(scenario.title.clone()),
        notes,
        autoconnect: true,
    }
}

/// The simulator's IAM decisions, as messages for the debugger: the policy, statement and
/// condition behind each 554 and the address aws:SourceIp was evaluated with.
fn forward_decisions(sim: &mut sim::RunningSim) -> tokio::sync::mpsc::Receiver<Msg> {
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    if let Some(mut events) = sim.take_events() {
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                let Some(authorization) = event.authorization else {
                    continue;
                };
                let decision = SimDecision {
                    time: event.time,
                    authorization: *authorization,
                };
                if tx.send(Msg::SimDecision(Box::new(decision))).await.is_err() {
                    break;
                }
            }
        });
    }
    rx
}

/// Runs `smtpscope demo`.
pub async fn run(args: &DemoArgs) -> CommandResult {
    // The scenarios and the default config are built in: a failure to load them is ours.
    let list = scenarios().map_err(CommandError::environment)?;
    if args.list {
        // Names padded to the longest, so the summaries line up however long a name gets.
        let name_width = list.iter().map(|s| s.name.len()).max().unwrap_or(0);
        for s in &list {
            crate::outln!("{:<width$}  {}", s.name, s.summary, width = name_width);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let chosen = if let Some(name) = &args.scenario {
        list.iter()
            .find(|s| &s.name == name)
            .cloned()
            .ok_or_else(|| {
                let names: Vec<&str> = list.iter().map(|s| s.name.as_str()).collect();
                CommandError::usage(format!(
                    "no scenario {name:?}; choose one of: {}",
                    names.join(", ")
                ))
            })?
    } else {
        let p = picker::Picker {
            title: "smtpscope demo: an SES simulator runs on this machine. Which session do you want to debug?".into(),
            choices: list.iter().map(|s| picker::Choice { name: s.name.clone(), summary: s.summary.clone() }).collect(),
            selected: 0,
        };
        let picked = picker::pick(p)
            .await
            .map_err(|e| CommandError::environment(e).context("terminal"))?;
        match picked {
            Some(i) => list[i].clone(),
            None => return Ok(ExitCode::SUCCESS),
        }
    };
    let mut config = match &args.config {
        Some(path) => SimConfig::from_file(path).map_err(CommandError::usage)?,
        None => SimConfig::default_demo().map_err(CommandError::environment)?,
    };
    if let Some(provider) = &chosen.provider {
        config
            .set_provider(provider)
            .map_err(CommandError::environment)?;
    }
    // Free ports on loopback only: the demo never listens beyond this machine.
    config.listen.starttls = ([127, 0, 0, 1], 0).into();
    config.listen.implicit = None;
    config.limits.idle_timeout = std::time::Duration::from_secs_f64(args.idle_timeout);
    let mut sim = sim::start(config)
        .await
        .map_err(|e| CommandError::environment(e).context("cannot start the simulator"))?;
    let decisions = forward_decisions(&mut sim);
    let result = match launch_for(&chosen, &sim, args.login) {
        Ok(launch) => tui::run_with(launch, Some(decisions))
            .await
            .map(|()| ExitCode::SUCCESS)
            .map_err(|e| CommandError::environment(e).context("terminal")),
        Err(e) => Err(CommandError::environment(e)),
    };
    // Stopped on every path, so the simulator's tasks end before the runtime does.
    sim.shutdown().await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_names_a_simulator_user() {
        let config = SimConfig::default_demo().unwrap();
        let list = scenarios().unwrap();
        assert!(list.len() >= 3);
        for name in ["good", "wrong-password", "ip-restricted"] {
            assert!(list.iter().any(|s| s.name == name), "{name}");
        }
        for s in &list {
            if let Some(provider) = &s.provider {
                let mut config = config.clone();
                config.set_provider(provider).unwrap();
                let profile = config.profile.as_ref().unwrap();
                assert!(
                    profile.user(&s.user).is_some(),
                    "scenario {} names unknown {provider} user {}",
                    s.name,
                    s.user
                );
                continue;
            }
            assert!(
                config.user(&s.user).is_some(),
                "scenario {} names unknown user {}",
                s.name,
                s.user
            );
            assert!(!s.notes.is_empty());
        }
    }
}
