//! `ikesim`: the command-line program of the IKE simulator.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};
use experiments::runner::Engine;

mod allocator;
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
    /// Run a scenario and write its results (summary.json, exchanges.csv, sa_events.csv,
    /// trace.log, and capture.pcap with ikev2_decryption_table when the scenario asks).
    Run {
        /// The scenario file (RON).
        scenario: PathBuf,
        /// Master seed; overrides the scenario's.
        #[arg(long)]
        seed: Option<u64>,
        /// Output folder.
        #[arg(long, default_value = "out/run")]
        out: PathBuf,
        /// How the events are taken: on one thread, or split between the concentrator and
        /// the other peers on two (the outputs are the same unless two things happen at
        /// the same nanosecond on both sides); `auto` splits runs of 20,000 tunnels or more
        /// that can be split.
        #[arg(long, value_enum, default_value_t = Engine::Auto)]
        engine: Engine,
    },
    /// Print every IKE packet of a capture (ours or a real one), decrypted with --keys.
    Inspect {
        /// The pcap file.
        capture: PathBuf,
        /// Folder holding `ikev2_decryption_table` (a run's output or a Wireshark profile).
        #[arg(long)]
        keys: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check a scenario file and print what it describes, or the first error in it.
    Validate {
        /// The scenario file (RON).
        file: PathBuf,
    },
    /// List the bundled scenarios.
    List,
    /// Run a parameter sweep: every combination of the sweep file's values times its seeds,
    /// in parallel; results.csv (one row per job) and aggregate.csv (mean and 95 % CI per
    /// point). Jobs already done are not run again, so an interrupted sweep resumes.
    Sweep {
        /// The sweep file (RON).
        sweep: PathBuf,
        /// Output folder.
        #[arg(long, default_value = "out/sweep")]
        out: PathBuf,
        /// Worker threads (default: the machine's cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// Run only shard K of N (`--shard 2/4`); join shards with `ikesim merge`.
        #[arg(long)]
        shard: Option<String>,
    },
    /// Draw the charts of a run or sweep folder into FOLDER/plots/ (SVG and PNG).
    Plot {
        /// A run's or a sweep's output folder.
        dir: PathBuf,
        /// svg, png or both.
        #[arg(long, default_value = "both")]
        format: String,
    },
    /// Print the ladder (sequence) diagram of a run's IKE messages.
    Ladder {
        /// A run's output folder.
        dir: PathBuf,
        /// From this time (seconds).
        #[arg(long)]
        from: Option<f64>,
        /// To this time (seconds).
        #[arg(long)]
        to: Option<f64>,
    },
    /// Run the bundled ISP-blocking and NAT scenarios and print the blocking matrix: tunnel
    /// up?, traffic delivered each way, when a peer gave up (also out/matrix/matrix.csv).
    Matrix {
        /// Output folder (one run folder per scenario, and matrix.csv).
        #[arg(long, default_value = "out/matrix")]
        out: PathBuf,
    },
    /// The scale benchmark: a hub and N branches, one IKEv2 tunnel each, strongSwan's default
    /// lifetimes, Modeled crypto, no traffic; prints one JSON line per run, the median last.
    Bench {
        /// Branches (tunnels).
        #[arg(long, default_value_t = 1000)]
        tunnels: u64,
        /// Simulated hours.
        #[arg(long, default_value_t = 24.0)]
        hours: f64,
        /// Runs (the median by wall time is printed last).
        #[arg(long, default_value_t = 1)]
        runs: usize,
        /// Output folder of the runs' files.
        #[arg(long, default_value = "out/bench")]
        out: PathBuf,
        /// IKEv1 tunnels (Main Mode + Quick Mode) instead of IKEv2.
        #[arg(long)]
        ikev1: bool,
        /// How the events are taken (as for `run`).
        #[arg(long, value_enum, default_value_t = Engine::Auto)]
        engine: Engine,
    },
    /// Measure the CPU cost table (DH per group, encryption per KiB, per message) on this
    /// machine in Real mode and print it as RON for a peer's `cpu: (costs: ...)`.
    Calibrate {
        /// Also write it to this file.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Join the folders of a sharded sweep into its tables.
    Merge {
        /// The shards' output folders.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Where the tables go.
        #[arg(long)]
        out: PathBuf,
    },
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

/// Where the bundled scenarios live: beside the binary's crate in a source checkout.
fn bundled_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

fn main() -> Result<()> {
    allocator::keep_freed_pages();
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            scenario,
            seed,
            out,
            engine,
        } => {
            let s = match experiments::scenario::load_scenario(&scenario) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("error: {e}");
                    std::process::exit(2);
                }
            };
            let seed = seed.unwrap_or(s.seed);
            let wall = std::time::Instant::now();
            let r = experiments::runner::run_with(&s, seed, &out, engine)?;
            let sum = &r.summary;
            println!(
                "{}: seed {seed}, {} simulated, {} events in {:.2} s wall{}",
                s.name,
                s.duration,
                r.events,
                wall.elapsed().as_secs_f64(),
                if r.parallel { " on two threads" } else { "" }
            );
            let e = &sum["establishment_time"];
            println!(
                "tunnels established: {}/{}; establishment time min {} s, median {} s, max {} s",
                sum["tunnels_established"], sum["tunnels"], e["min_s"], e["median_s"], e["max_s"]
            );
            println!("exchanges: {}", sum["exchanges"]);
            println!("retransmissions: {}", sum["retransmissions"]);
            println!("results in {}/", out.display());
        }
        Command::Inspect {
            capture,
            keys,
            json,
        } => {
            let keys = match keys {
                Some(dir) => experiments::inspect::load_keys(&dir)?,
                None => Default::default(),
            };
            let packets = experiments::inspect::inspect(&capture, &keys)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&packets)?);
            } else {
                print!("{}", experiments::inspect::render_text(&packets));
            }
        }
        Command::Validate { file } => match experiments::scenario::load_scenario(&file) {
            Ok(s) => {
                // Counted after expanding a shape's template peer.
                let e = experiments::scenario::expand::expand(&s)
                    .map_err(|(f, m)| anyhow::anyhow!("{f}: {m}"))?;
                let shape = match &s.network.shape {
                    experiments::scenario::model::Shape::TwoSite => "two sites",
                    experiments::scenario::model::Shape::HubAndSpoke { .. } => "hub-and-spoke",
                    experiments::scenario::model::Shape::FullMesh { .. } => "full mesh",
                    experiments::scenario::model::Shape::RemoteAccess { .. } => "remote access",
                    _ => "hand-written graph",
                };
                println!(
                    "{}: ok: {shape}, {} peers, {} tunnels, {} simulated, seed {}",
                    file.display(),
                    e.peers.len(),
                    e.tunnels.len(),
                    s.duration,
                    s.seed
                );
            }
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(2);
            }
        },
        Command::List => {
            let dir = bundled_dir();
            let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "ron"))
                .collect();
            files.sort();
            for f in files {
                let desc = experiments::scenario::load_scenario(&f)
                    .map(|s| s.description)
                    .unwrap_or_else(|e| format!("(invalid: {e})"));
                println!(
                    "{:<28} {desc}",
                    f.file_name().unwrap_or_default().to_string_lossy()
                );
            }
        }
        Command::Sweep {
            sweep,
            out,
            jobs,
            shard,
        } => {
            let shard = match shard {
                None => None,
                Some(s) => {
                    let parsed = s
                        .split_once('/')
                        .and_then(|(k, n)| Some((k.parse().ok()?, n.parse().ok()?)));
                    match parsed {
                        Some(kn) => Some(kn),
                        None => {
                            eprintln!("error: --shard {s}: expected K/N, e.g. 2/4");
                            std::process::exit(2);
                        }
                    }
                }
            };
            let threads = jobs.unwrap_or_else(|| {
                std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
            });
            let wall = std::time::Instant::now();
            let r = experiments::sweep::run_sweep(&sweep, &out, threads, shard)?;
            println!(
                "{} jobs in the sweep, {} in this shard: {} run, {} already done, {:.1} s wall on {threads} threads",
                r.total,
                r.selected,
                r.ran,
                r.reused,
                wall.elapsed().as_secs_f64()
            );
            if r.tables {
                println!("tables: {0}/results.csv, {0}/aggregate.csv", out.display());
            } else {
                println!("shard done; join the shards with `ikesim merge DIR... --out DIR`");
            }
        }
        Command::Plot { dir, format } => {
            let formats: Vec<&str> = match format.as_str() {
                "both" => vec!["svg", "png"],
                "svg" => vec!["svg"],
                "png" => vec!["png"],
                other => {
                    eprintln!("error: --format {other}: expected svg, png or both");
                    std::process::exit(2);
                }
            };
            for f in experiments::plot::plot_dir(&dir, &formats)? {
                println!("{}", f.display());
            }
        }
        Command::Ladder { dir, from, to } => {
            let (peers, msgs) = experiments::plot::messages(&dir)?;
            let msgs = experiments::plot::window(msgs, from, to);
            print!("{}", plots::ladder_text(&peers, &msgs));
        }
        Command::Matrix { out } => {
            let rows = experiments::matrix::run_matrix(&bundled_dir(), &out)?;
            print!("{}", experiments::matrix::render(&rows));
            println!("runs and matrix.csv in {}/", out.display());
        }
        Command::Bench {
            tunnels,
            hours,
            runs,
            out,
            ikev1,
            engine,
        } => {
            if runs <= 1 {
                let r = experiments::bench::run_bench(tunnels, hours, ikev1, engine, 1, &out)?;
                println!("{}", serde_json::to_string(&r)?);
                return Ok(());
            }
            // Each run in a fresh process, so its peak memory is its own.
            let mut results: Vec<(f64, String)> = Vec::new();
            for k in 0..runs {
                let o = std::process::Command::new(std::env::current_exe()?)
                    .args(["bench", "--runs", "1", "--tunnels"])
                    .arg(tunnels.to_string())
                    .arg("--hours")
                    .arg(hours.to_string())
                    .arg("--out")
                    .arg(&out)
                    .args(ikev1.then_some("--ikev1"))
                    .arg("--engine")
                    .arg(engine.to_possible_value().expect("named").get_name())
                    .output()?;
                anyhow::ensure!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
                let line = String::from_utf8(o.stdout)?.trim().to_string();
                let v: serde_json::Value = serde_json::from_str(&line)?;
                eprintln!("run {}: {line}", k + 1);
                results.push((v["wall_s"].as_f64().unwrap_or(0.0), line));
            }
            results.sort_by(|a, b| a.0.total_cmp(&b.0));
            println!("{}", results[results.len() / 2].1);
        }
        Command::Calibrate { out } => {
            let table = experiments::cpu::calibrate();
            let text = ron::ser::to_string_pretty(&table, ron::ser::PrettyConfig::default())?;
            println!("{text}");
            if let Some(path) = out {
                sim_core::output::write_atomic(&path, format!("{text}\n").as_bytes())?;
                eprintln!("written to {}", path.display());
            }
        }
        Command::Merge { dirs, out } => {
            let n = experiments::sweep::merge(&dirs, &out)?;
            println!(
                "{n} jobs merged from {} shards: {1}/results.csv, {1}/aggregate.csv",
                dirs.len(),
                out.display()
            );
        }
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
