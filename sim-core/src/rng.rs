//! Named random streams.
//!
//! Every consumer of randomness (a link's loss, a link's delay, an endpoint's nonces, a
//! traffic source) draws from its own ChaCha stream whose seed is a hash of (master seed,
//! stream name). Streams are found by name, not handed out in order of first use, so adding
//! an entity never changes the numbers any other entity sees (the lesson of ns-3's manual).

use rand_chacha::ChaCha12Rng;
use rand_chacha::rand_core::SeedableRng;
use sha2::{Digest, Sha256};

/// The generator every stream uses: ChaCha with 12 rounds (fast, and good enough that no
/// simulation result depends on its quirks).
pub type SimRng = ChaCha12Rng;

/// Hands out independent, reproducible random streams for one run.
#[derive(Clone, Debug)]
pub struct RngStreams {
    master_seed: u64,
}

impl RngStreams {
    /// Streams for the run seeded with `master_seed`.
    pub fn new(master_seed: u64) -> Self {
        RngStreams { master_seed }
    }

    /// The run's master seed.
    pub fn master_seed(&self) -> u64 {
        self.master_seed
    }

    /// The stream called `name` (for example `"link/A->B/loss"`). Asking twice for the same
    /// name gives two generators producing the same sequence.
    pub fn stream(&self, name: &str) -> SimRng {
        SimRng::from_seed(self.seed_of(name))
    }

    /// The 32-byte ChaCha seed of stream `name`: SHA-256 over a domain tag, the master seed
    /// and the name, so distinct names give unrelated seeds.
    pub fn seed_of(&self, name: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"ikesim/rng-stream/v1\0");
        h.update(self.master_seed.to_le_bytes());
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    fn draws(mut r: SimRng) -> Vec<u64> {
        (0..8).map(|_| r.next_u64()).collect()
    }

    #[test]
    fn same_name_same_numbers_other_name_other_numbers() {
        let s = RngStreams::new(42);
        assert_eq!(draws(s.stream("a")), draws(s.stream("a")));
        assert_ne!(draws(s.stream("a")), draws(s.stream("b")));
        assert_ne!(draws(s.stream("a")), draws(RngStreams::new(43).stream("a")));
    }
}
