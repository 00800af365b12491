//! `ikesim`: the command-line program of the IKE simulator.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

mod demo;

#[derive(Parser)]
#[command(
    name = "ikesim",
    version,
    about = "Deterministic discrete-event simulator of IKEv1/IKEv2 peers on lossy, filtered networks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a small engine demo (two hosts, a lossy path) and print what happened.
    Demo {
        /// Master seed of the run.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output folder for trace.log, capture.pcap and summary.json.
        #[arg(long, default_value = "out/demo")]
        out: PathBuf,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Demo { seed, out } => {
            let s = demo::run_demo(seed, &out)?;
            print!("{}", std::fs::read_to_string(out.join("trace.log"))?);
            println!();
            println!(
                "A sent {} requests to B:500, got {} answers.",
                s.sent, s.answered
            );
            for (reason, n) in &s.drops {
                println!("  dropped {n:>2} x {reason}");
            }
            println!("fingerprint {}", s.fingerprint);
            println!(
                "wrote {}/{{trace.log,capture.pcap,summary.json}}",
                out.display()
            );
        }
    }
    Ok(())
}
