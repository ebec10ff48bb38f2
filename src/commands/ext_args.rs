//! The flags for the SMTP extensions, shared by `run` and `probe`: PIPELINING, BDAT, DSN,
//! REQUIRETLS, forcing an extension the server does not advertise, and the address family.

use clap::Args;

use crate::cli::CliError;
use crate::engine::command::check_arg;
use crate::engine::ext::{self, Dsn, Ext, ExtSettings, Family, dsn};

#[derive(Debug, Clone, Default, Args)]
pub struct ExtArgs {
    /// Send MAIL, the RCPTs and DATA as one group when the server offers PIPELINING
    /// (RFC 2920), led by AUTH PLAIN (RFC 4954 §4), with QUIT right after the last message;
    /// each reply is still matched to its command
    #[arg(long, help_heading = "Extensions")]
    pub pipeline: bool,
    /// Send the message in BDAT chunks when the server offers CHUNKING (RFC 3030): bytes
    /// exactly as given, no dot-stuffing
    #[arg(long, help_heading = "Extensions")]
    pub bdat: bool,
    /// Bytes per BDAT chunk [default: 1048576]
    #[arg(
        long,
        value_name = "BYTES",
        help_heading = "Extensions",
        requires = "bdat"
    )]
    pub bdat_chunk: Option<usize>,
    /// Delivery status notifications to ask for (DSN, RFC 3461): never, or a comma list of
    /// success, failure, delay
    #[arg(long, value_name = "WHEN", help_heading = "Extensions")]
    pub dsn_notify: Option<String>,
    /// How much of the message a DSN returns: full or hdrs
    #[arg(long, value_name = "full|hdrs", help_heading = "Extensions")]
    pub dsn_ret: Option<String>,
    /// Envelope id for DSNs (printable ASCII, at most 100 characters; sent as xtext)
    #[arg(long, value_name = "ID", help_heading = "Extensions")]
    pub envid: Option<String>,
    /// Ask that the message travel over TLS only (REQUIRETLS, RFC 8689); only inside TLS, even
    /// with --force-ext requiretls
    #[arg(long, help_heading = "Extensions")]
    pub requiretls: bool,
    /// Use an extension even though the server does not advertise it (for debugging; every
    /// use is shown as a FORCED warning): pipelining, chunking, smtputf8, dsn, requiretls,
    /// size, 8bitmime
    #[arg(long, value_name = "NAME", help_heading = "Extensions")]
    pub force_ext: Vec<String>,
    /// Connect over IPv4 only
    #[arg(short = '4', help_heading = "Extensions", conflicts_with = "ipv6")]
    pub ipv4: bool,
    /// Connect over IPv6 only
    #[arg(short = '6', help_heading = "Extensions")]
    pub ipv6: bool,
}

impl ExtArgs {
    /// The first flag given that acts on MAIL, RCPT or DATA (all but -4/-6), for commands
    /// that may stop before them.
    pub fn message_flag(&self) -> Option<&'static str> {
        [
            (self.pipeline, "--pipeline"),
            (self.bdat, "--bdat"),
            (self.dsn_notify.is_some(), "--dsn-notify"),
            (self.dsn_ret.is_some(), "--dsn-ret"),
            (self.envid.is_some(), "--envid"),
            (self.requiretls, "--requiretls"),
            (!self.force_ext.is_empty(), "--force-ext"),
        ]
        .into_iter()
        .find_map(|(given, flag)| given.then_some(flag))
    }

    /// Checks the values and builds the engine's settings.
    pub fn settings(&self) -> Result<ExtSettings, CliError> {
        let usage = |e: ext::ExtError| CliError::Usage(e.to_string());
        let notify = self
            .dsn_notify
            .as_deref()
            .map(dsn::parse_notify)
            .transpose()
            .map_err(usage)?;
        let ret = self
            .dsn_ret
            .as_deref()
            .map(dsn::parse_ret)
            .transpose()
            .map_err(usage)?;
        if let Some(id) = &self.envid {
            dsn::check_envid(id).map_err(usage)?;
        }
        let mut forced = Vec::new();
        for name in &self.force_ext {
            check_arg("--force-ext", name).map_err(|e| CliError::Usage(e.to_string()))?;
            let e = Ext::parse(name).ok_or_else(|| {
                CliError::Usage(format!(
                    "--force-ext: {} is not one of pipelining, chunking, smtputf8, dsn, requiretls, size, 8bitmime",
                    crate::engine::escape::escape_str(name)
                ))
            })?;
            if !forced.contains(&e) {
                forced.push(e);
            }
        }
        let bdat_chunk = match self.bdat_chunk {
            Some(0) => return Err(CliError::Usage("--bdat-chunk must be at least 1".into())),
            Some(n) if n > ext::MAX_BDAT_CHUNK => {
                return Err(CliError::Usage(format!(
                    "--bdat-chunk is at most {} bytes",
                    ext::MAX_BDAT_CHUNK
                )));
            }
            Some(n) => n,
            None => ext::DEFAULT_BDAT_CHUNK,
        };
        Ok(ExtSettings {
            family: if self.ipv4 {
                Some(Family::V4)
            } else if self.ipv6 {
                Some(Family::V6)
            } else {
                None
            },
            pipeline: self.pipeline,
            bdat: self.bdat,
            bdat_chunk,
            dsn: Dsn {
                notify,
                ret,
                envid: self.envid.clone(),
            },
            requiretls: self.requiretls,
            forced,
        })
    }
}
