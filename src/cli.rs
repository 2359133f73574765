//! The command line: global options and one subcommand, `run` when none is given.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::DEFAULT_PATH;

/// Warns when NetFlow/IPFIX flows touch addresses on threat-intel lists.
#[derive(Debug, Parser)]
#[command(name = "flowalert", version, about)]
pub struct Cli {
    /// Configuration file.
    #[arg(long, global = true, value_name = "PATH", default_value = DEFAULT_PATH)]
    pub config: PathBuf,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Receive flows and write alerts (the default); stays in the foreground.
    Run(RunArgs),
    /// Read pcap/pcapng captures of export traffic and print the alerts they give.
    Replay {
        /// Send the alerts to the configured outputs instead of standard output.
        #[arg(long)]
        to_outputs: bool,
        /// pcap or pcapng files of NetFlow/IPFIX export traffic, replayed in order.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Check the configuration; print every problem; exit 1 if there is any error.
    CheckConfig,
    /// Say which sources list each address, and which exclusion hides it.
    Lookup {
        /// IPv4 or IPv6 addresses to look up.
        #[arg(required = true, value_name = "ADDR")]
        addresses: Vec<IpAddr>,
    },
    /// Download lists and OTX pulses; exit 0 when something changed, 3 when nothing did.
    Update,
}

#[derive(Debug, Default, clap::Args)]
pub struct RunArgs {
    /// Detach from the terminal (for hosts without systemd); needs --pidfile.
    #[arg(long, requires = "pidfile")]
    pub daemon: bool,
    /// Write the process id here once the service is ready to receive.
    #[arg(long, value_name = "PATH")]
    pub pidfile: Option<PathBuf>,
}
