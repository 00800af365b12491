//! The program's allocator: mimalloc, told never to hand freed memory back to the OS.
//!
//! The simulator allocates a few dozen small buffers per IKE message; at 10^5 tunnels the
//! system allocator's share of the run was about 30 % (see `ikesim bench`), hence mimalloc.
//! mimalloc v3 then returns ("purges") pages that stayed free for a second of wall time,
//! and the next burst of rekeys faults them back in, zeroed by the kernel: at 10^5 tunnels
//! that refaulting was a third of the run (158 s with purging, 97 s without, measured with
//! `MIMALLOC_PURGE_DELAY=-1`). A simulation's heap stays near its peak until it ends, so
//! keeping the pages costs a few per cent of peak RSS and nothing else.
//! Allocation addresses never reach an output, so none of this can change results.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc v3's `mi_option_purge_delay` (its place in `mi_option_e`, `mimalloc.h`); the
/// sys crate names only the options older versions had.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Turns purging off for the rest of the process (`-1`: never purge). An explicit
/// `MIMALLOC_PURGE_DELAY` in the environment still wins, for experiments.
pub fn keep_freed_pages() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: called once at the start of `main`, before any other thread exists
        // (mimalloc's option setters are not thread-safe); the option id is in range.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The id we set must be the purge delay: mimalloc v3 documents its default as 1000 ms,
    /// and no other option of v3 defaults to 1000. A mimalloc upgrade that renumbers the
    /// options fails here instead of silently setting something else.
    #[test]
    fn the_option_set_is_mimallocs_purge_delay() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        // SAFETY: reading an option is thread-safe.
        let v = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(v, 1000, "option {MI_OPTION_PURGE_DELAY}");
    }
}
