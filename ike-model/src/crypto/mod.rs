//! Cryptographic primitives used by IKE in `Real` mode (placeholder, filled by the crypto work).
