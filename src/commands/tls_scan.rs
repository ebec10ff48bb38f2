//! `smtpscope tls-scan`: which of TLS 1.2 and 1.3 the server accepts, with the cipher suite and
//! key exchange it chose for each, over STARTTLS or implicit TLS as the target flags say.

use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use super::error::{CommandError, CommandResult};
use super::tls_args::SaveChainArgs;
use crate::cli::TargetArgs;
use crate::engine::escape::escape_str;
use crate::engine::tls::scan::{VersionResult, scan};
use crate::engine::transport::TlsMode;

/// The exit code when no version was accepted: the same as `run`'s for a failed handshake.
const EXIT_NO_TLS: u8 = 4;

#[derive(Debug, Args)]
pub struct TlsScanArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub save: SaveChainArgs,
    /// Print one JSON object instead of text
    #[arg(long, help_heading = "Output")]
    pub json: bool,
}

#[derive(Serialize)]
struct Report<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    host: &'a str,
    port: u16,
    mode: &'static str,
    versions: &'a [VersionResult],
}

pub async fn run(args: &TlsScanArgs) -> CommandResult {
    let cfg = args.target.session_config()?;
    if cfg.tls_mode == TlsMode::None {
        return Err(CommandError::usage(
            "tls-scan needs TLS: use --tls starttls or --tls implicit (not none)",
        ));
    }
    let ehlo = args.target.ehlo_name()?;
    let results = scan(&cfg, &ehlo).await;
    let accepted = results.iter().any(|r| r.accepted);
    if args.json {
        let report = Report {
            kind: "tls-scan",
            host: &cfg.host,
            port: cfg.port,
            mode: cfg.tls_mode.name(),
            versions: &results,
        };
        crate::outln!(
            "{}",
            crate::engine::json::to_string(&report).unwrap_or_default()
        );
    } else {
        crate::outln!(
            "TLS scan of {}:{} ({})",
            escape_str(&cfg.host),
            cfg.port,
            match cfg.tls_mode {
                TlsMode::Implicit => "TLS from the first byte",
                _ => "STARTTLS",
            }
        );
        for r in &results {
            if r.accepted {
                crate::outln!(
                    "  TLS {}  accepted  cipher {}  key exchange {}",
                    r.version.number(),
                    escape_str(r.cipher.as_deref().unwrap_or("unknown")),
                    escape_str(r.key_exchange.as_deref().unwrap_or("unknown"))
                );
            } else {
                crate::outln!(
                    "  TLS {}  refused   {}",
                    r.version.number(),
                    escape_str(r.reason.as_deref().unwrap_or(""))
                );
            }
        }
        crate::outln!(
            "  (TLS 1.0 and 1.1 are not tried: smtpscope's TLS library speaks only 1.2 and 1.3)"
        );
        if let Some(info) = results.iter().rev().find_map(|r| r.info.as_ref()) {
            for line in crate::engine::tls::certinfo::summary_lines(info) {
                crate::outln!("  {}", escape_str(&line));
            }
        }
    }
    if let Some(path) = &args.save.save_chain {
        let Some(info) = results.iter().rev().find_map(|r| r.info.as_ref()) else {
            return Err(CommandError::environment(
                "--save-chain: no TLS session was established, so there is no chain to save",
            ));
        };
        let n = crate::engine::tls::certinfo::export_chain(&info.chain, path)
            .map_err(CommandError::environment)?;
        eprintln!(
            "smtpscope tls-scan: wrote {n} certificate{} to {}",
            if n == 1 { "" } else { "s" },
            escape_str(&path.display().to_string())
        );
    }
    Ok(ExitCode::from(if accepted { 0 } else { EXIT_NO_TLS }))
}
