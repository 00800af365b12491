//! How long a hub-and-spoke network of N branches takes to build (graph and routes) and to
//! turn into a simulated network. Prints one JSON line per run and the median last.
//!
//! `cargo run --release -p topologies --example build_scale -- 100000 5`

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use sim_core::link::LinkParams;
use sim_core::{Duration, RngStreams};
use topologies::{Site, StarSite, star};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let wan = LinkParams {
        delay: Duration::from_millis(20),
        ..LinkParams::default()
    };
    let mut walls = Vec::new();
    for _ in 0..runs {
        let t0 = Instant::now();
        let base = u32::from(Ipv4Addr::new(198, 18, 0, 1));
        let mut sites = Vec::with_capacity(n as usize + 1);
        let site = |name: String, addr: IpAddr| StarSite {
            site: Site {
                name,
                addr,
                isp_filter: Vec::new(),
                nat_public: None,
            },
            up: wan.clone(),
            down: wan.clone(),
        };
        sites.push(site("hub".into(), IpAddr::from([203, 0, 113, 1])));
        for k in 0..n {
            sites.push(site(
                format!("branch-{:06}", k + 1),
                IpAddr::from((base + k).to_be_bytes()),
            ));
        }
        let shaped = star(&sites);
        let graph_s = t0.elapsed().as_secs_f64();
        let built = shaped
            .topology
            .instantiate(&RngStreams::new(1))
            .expect("builds");
        let wall = t0.elapsed().as_secs_f64();
        println!(
            "{{\"branches\":{n},\"nodes\":{},\"links\":{},\"graph_s\":{graph_s:.3},\"wall_s\":{wall:.3}}}",
            built.nodes.len(),
            built.links.len()
        );
        walls.push(wall);
    }
    walls.sort_by(f64::total_cmp);
    println!(
        "{{\"branches\":{n},\"runs\":{runs},\"median_wall_s\":{:.3}}}",
        walls[runs / 2]
    );
}
