//! The list of SA ids under one key of an SAD index (initiator SPI or cookie, tunnel), in
//! both endpoints (`sad_index` in ikev1 and ikev2).

/// SA ids in creation order: almost always one or two (a tunnel during a rekey), so they
/// live inside the hash map's slot instead of behind a pointer of their own (one
/// allocation and one cache miss fewer per SA and lookup at a 10^5-tunnel concentrator).
pub(crate) type SaIds = smallvec::SmallVec<[u64; 2]>;
