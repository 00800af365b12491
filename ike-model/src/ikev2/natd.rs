//! NAT detection (RFC 7296 §2.23): NAT_DETECTION_SOURCE_IP / _DESTINATION_IP data is
//! SHA-1(SPIi | SPIr | IP | port); a receiver that computes a different hash knows a NAT
//! rewrote that address.

use std::net::IpAddr;

use sha1::{Digest, Sha1};

/// The 20-byte NAT-D hash for an address and port (SPIr is zero in the first request).
pub fn natd_hash(spi_i: u64, spi_r: u64, ip: IpAddr, port: u16) -> [u8; 20] {
    let mut h = Sha1::new();
    h.update(spi_i.to_be_bytes());
    h.update(spi_r.to_be_bytes());
    match ip {
        IpAddr::V4(a) => h.update(a.octets()),
        IpAddr::V6(a) => h.update(a.octets()),
    }
    h.update(port.to_be_bytes());
    h.finalize().into()
}
