//! The debugger in a real pseudo-terminal (tmux) with an AWS profile and with a configured
//! target, against the simulator as SES in Tokyo: no password is copied anywhere, and the
//! session walks to the accepted message. tmux is installed by `.ci/test`.

mod common;
mod sim_support;

use common::tmux::Tmux;
use sim_support::*;

const ID: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// `env` that clears the AWS and smtpscope variables and points HOME (and the config file) at
/// `dir`, then runs the binary with `args`.
fn command(dir: &std::path::Path, config: &str, args: &str) -> String {
    let bin = env!("CARGO_BIN_EXE_smtpscope");
    let unset = [
        "AWS_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "SMTPSCOPE_USER",
        "SMTPSCOPE_PASSWORD",
    ]
    .map(|v| format!("-u {v}"))
    .join(" ");
    format!(
        "env {unset} HOME={home} SMTPSCOPE_CONFIG={config} {bin} {args}; echo EXITED $?; sleep 30",
        home = dir.display()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_debugger_with_a_profile_or_a_target_shows_the_session_without_a_password() {
    let sim = start(config_from(&format!(
        "region = \"ap-northeast-1\"\nverified_identities = [\"example.com\"]\n{GOOD_USER_TOML}"
    )))
    .await;
    let (_, password) = sim.credentials("good");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".aws")).unwrap();
    std::fs::write(
        dir.path().join(".aws/credentials"),
        format!("[p]\naws_access_key_id = {ID}\naws_secret_access_key = {SECRET}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        format!(
            "[targets.ses-tokyo]\nhost = \"localhost\"\nport = {}\nca_file = \"{}\"\nregion = \"ap-northeast-1\"\nprofile = \"p\"\nfrom = \"sender@example.com\"\nto = [\"rcpt@example.com\"]\n",
            sim.port(),
            sim.ca.display()
        ),
    )
    .unwrap();
    let none = dir.path().join("no-config.toml").display().to_string();
    let with_profile = format!(
        "--profile p --region ap-northeast-1 --host localhost --port {} --ca-file {} \
         --from sender@example.com --to rcpt@example.com --connect",
        sim.port(),
        sim.ca.display()
    );
    let config = dir.path().join("config.toml").display().to_string();
    for (tag, cmd) in [
        ("profile", command(dir.path(), &none, &with_profile)),
        (
            "target",
            command(dir.path(), &config, "--target ses-tokyo --connect"),
        ),
    ] {
        tokio::task::block_in_place(|| {
            let tmux = Tmux::new(&format!("aws-{tag}"));
            tmux.start(dir.path(), 120, 36, &cmd);
            let screen = tmux.wait_for("220 email-smtp");
            let screen = tmux.showing(screen, "derived from profile p for region ap-northeast-1");
            assert!(!screen.contains(password.as_str()), "{tag}: {screen}");
            let screen = tmux.enter_until("Verdict: Authenticated and authorized", 14);
            println!("--- debugger with {tag} ---\n{screen}");
            assert!(
                screen.contains("235 Authentication successful"),
                "{tag}: {screen}"
            );
            assert!(!screen.contains(password.as_str()), "{tag}: {screen}");
            if tag == "target" {
                assert!(screen.contains("target ses-tokyo"), "{screen}");
            }
            tmux.keys(&["q"]);
            tmux.wait_for("EXITED 0");
        });
    }
}

/// Keys from the configuration file: the help overlay lists them, and they work.
#[tokio::test(flavor = "multi_thread")]
async fn configured_keys_show_in_the_help_and_work() {
    let sim = start(config_from(&format!(
        "region = \"ap-northeast-1\"\nverified_identities = [\"example.com\"]\n{GOOD_USER_TOML}"
    )))
    .await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        format!(
            "default_target = \"sim\"\n[targets.sim]\nhost = \"localhost\"\nport = {}\nca_file = \"{}\"\nauth = \"none\"\n\n[theme]\nname = \"light\"\n\n[keys]\nconnect = \"F5\"\nhelp = \"h\"\n",
            sim.port(),
            sim.ca.display()
        ),
    )
    .unwrap();
    let config = dir.path().join("config.toml").display().to_string();
    tokio::task::block_in_place(|| {
        let tmux = Tmux::new("keys");
        tmux.start(dir.path(), 120, 40, &command(dir.path(), &config, ""));
        tmux.wait_for("F5 Connect");
        tmux.keys(&["h"]);
        let screen = tmux.wait_for("Connect, or reconnect");
        assert!(
            screen.contains("F5          Connect, or reconnect")
                && screen.contains("h           This help"),
            "{screen}"
        );
        assert!(!screen.contains("?, F1"), "{screen}");
        tmux.keys(&["Escape"]);
        tmux.keys(&["c"]);
        std::thread::sleep(std::time::Duration::from_millis(500));
        assert!(
            !tmux.screen().contains("220 email-smtp"),
            "c no longer connects"
        );
        tmux.keys(&["F5"]);
        tmux.wait_for("220 email-smtp");
        tmux.keys(&["q"]);
        tmux.wait_for("EXITED 0");
    });
}

/// `T` leaves the session (QUIT first) for the picker of configured targets; the one chosen
/// opens next.
#[tokio::test(flavor = "multi_thread")]
async fn t_switches_to_another_configured_target() {
    let sim = start(config_from(&format!(
        "region = \"ap-northeast-1\"\nverified_identities = [\"example.com\"]\n{GOOD_USER_TOML}"
    )))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let target = |name: &str| {
        format!(
            "[targets.{name}]\nhost = \"localhost\"\nport = {}\nca_file = \"{}\"\nauth = \"none\"\n",
            sim.port(),
            sim.ca.display()
        )
    };
    std::fs::write(
        dir.path().join("config.toml"),
        format!("{}\n{}", target("first-sim"), target("second-sim")),
    )
    .unwrap();
    let config = dir.path().join("config.toml").display().to_string();
    tokio::task::block_in_place(|| {
        let tmux = Tmux::new("switch");
        tmux.start(
            dir.path(),
            120,
            40,
            &command(dir.path(), &config, "--target first-sim --connect"),
        );
        tmux.wait_for("target first-sim");
        tmux.wait_for("220 email-smtp");
        tmux.keys(&["T"]);
        tmux.wait_for("Which target?");
        tmux.keys(&["2"]);
        let screen = tmux.wait_for("target second-sim");
        assert!(
            !screen.contains("220 email-smtp"),
            "a new session: {screen}"
        );
        tmux.keys(&["c"]);
        tmux.wait_for("220 email-smtp");
        tmux.keys(&["q"]);
        tmux.wait_for("EXITED 0");
    });
}
