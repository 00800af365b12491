//! The Delete payload (RFC 7296 §3.11).

use super::PayloadBody;
use crate::ikev2::consts::ProtocolId;
use crate::ikev2::error::DecodeError;
use crate::wire::Reader;

/// Most SPIs a decoder accepts in one Delete payload.
pub const MAX_SPIS: usize = 1024;

/// The SPIs of a Delete payload: almost always one, kept inline with its bytes.
pub type DeleteSpis = smallvec::SmallVec<[super::SpiBytes; 1]>;

/// SAs to delete: the IKE SA itself (no SPIs) or CHILD_SAs by the sender's inbound SPI.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DeletePayload {
    /// IKE, AH or ESP.
    pub protocol: ProtocolId,
    /// Size of each SPI (0 for IKE, 4 for ESP).
    pub spi_size: u8,
    /// The SPIs.
    pub spis: DeleteSpis,
}

impl PayloadBody for DeletePayload {
    fn decode_body(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let protocol = ProtocolId(r.u8("Delete payload")?);
        let spi_size = r.u8("Delete payload")?;
        let n = usize::from(r.u16("Delete payload")?);
        // Zero-size SPIs would let four bytes ask for 65,535 entries.
        if n > MAX_SPIS {
            return Err(DecodeError::TooMany("Delete SPIs"));
        }
        if usize::from(spi_size) * n != r.remaining() {
            return Err(DecodeError::BadLength {
                what: "Delete SPIs",
                len: r.remaining(),
            });
        }
        let mut spis = DeleteSpis::with_capacity(n);
        for _ in 0..n {
            spis.push(super::SpiBytes::from_slice(
                r.take(usize::from(spi_size), "Delete SPI")?,
            ));
        }
        Ok(DeletePayload {
            protocol,
            spi_size,
            spis,
        })
    }
    fn encode_body(&self, out: &mut Vec<u8>) {
        out.push(self.protocol.0);
        out.push(self.spi_size);
        out.extend_from_slice(&(self.spis.len() as u16).to_be_bytes());
        for s in &self.spis {
            out.extend_from_slice(s);
        }
    }
}
