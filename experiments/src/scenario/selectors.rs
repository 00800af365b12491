//! Traffic selectors as scenario files write them: an address (`10.1.0.5`), a CIDR subnet
//! (`10.1.0.0/16`, `2001:db8::/32`) or a range (`10.1.0.1-10.1.0.9`), each covering all
//! protocols and ports.

use std::net::IpAddr;

use ike_model::ikev2::payload::TrafficSelector;

fn range(start: IpAddr, end: IpAddr) -> TrafficSelector {
    TrafficSelector {
        ip_protocol: 0,
        start_port: 0,
        end_port: 65535,
        start,
        end,
    }
}

/// Parses one selector; the error says what was expected.
pub fn parse_ts(s: &str) -> Result<TrafficSelector, String> {
    let bad = || {
        format!(
            "traffic selector \"{s}\" must be an address, a subnet like \"10.1.0.0/16\" or a \
             range like \"10.1.0.1-10.1.0.9\""
        )
    };
    if let Some((a, b)) = s.split_once('-') {
        let (a, b): (IpAddr, IpAddr) = (
            a.trim().parse().map_err(|_| bad())?,
            b.trim().parse().map_err(|_| bad())?,
        );
        if a.is_ipv4() != b.is_ipv4() || a > b {
            return Err(bad());
        }
        return Ok(range(a, b));
    }
    let (addr, bits) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p.parse::<u32>().map_err(|_| bad())?)),
        None => (s, None),
    };
    let addr: IpAddr = addr.trim().parse().map_err(|_| bad())?;
    let Some(bits) = bits else {
        return Ok(TrafficSelector::host(addr));
    };
    match addr {
        IpAddr::V4(a) if bits <= 32 => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            let lo = u32::from(a) & mask;
            Ok(range(
                IpAddr::V4(lo.into()),
                IpAddr::V4((lo | !mask).into()),
            ))
        }
        IpAddr::V6(a) if bits <= 128 => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            let lo = u128::from(a) & mask;
            Ok(range(
                IpAddr::V6(lo.into()),
                IpAddr::V6((lo | !mask).into()),
            ))
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_ranges_and_hosts_parse() {
        let t = parse_ts("10.1.2.3/16").unwrap();
        assert_eq!(
            (t.start, t.end),
            ("10.1.0.0".parse().unwrap(), "10.1.255.255".parse().unwrap())
        );
        let h = parse_ts("10.99.0.1").unwrap();
        assert_eq!(h, TrafficSelector::host("10.99.0.1".parse().unwrap()));
        let r = parse_ts("10.0.0.1-10.0.0.9").unwrap();
        assert_eq!(r.end, "10.0.0.9".parse::<IpAddr>().unwrap());
        let v6 = parse_ts("2001:db8::/32").unwrap();
        assert_eq!(
            v6.end,
            "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"
                .parse::<IpAddr>()
                .unwrap()
        );
        assert_eq!(
            parse_ts("0.0.0.0/0").unwrap().end,
            "255.255.255.255".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn nonsense_is_refused() {
        for s in [
            "10.1.0.0/33",
            "ten",
            "10.0.0.9-10.0.0.1",
            "10.0.0.1-::1",
            "10.0.0.0/x",
        ] {
            assert!(parse_ts(s).is_err(), "{s}");
        }
    }
}
