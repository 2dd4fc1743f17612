//! libFuzzer harnesses over `peephole-fuzz`'s targets.
//!
//! Each binary in `fuzz_targets/` is one line, [`harness!`], so libFuzzer runs exactly the
//! functions the stable corpus replay runs: the same invariants, the targets' structure-aware
//! mutations (half of libFuzzer's mutations are the target's own, half libFuzzer's, which add
//! comparison tracing), the same rule for a finding (a panic that reaches the harness; panics
//! that the code under test catches itself are not findings). `cargo xtask fuzz` builds and
//! runs them.

use std::sync::Once;

use peephole_fuzz::{Target, by_name, mutate::mutate, quiet_panics, run_one};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub use libfuzzer_sys;

/// Defines the libFuzzer entry points of the `peephole-fuzz` target named `$name`.
#[macro_export]
macro_rules! harness {
    ($name:literal) => {
        $crate::libfuzzer_sys::fuzz_target!(|data: &[u8]| {
            $crate::run($name, data);
        });
        $crate::libfuzzer_sys::fuzz_mutator!(|data: &mut [u8],
                                              size: usize,
                                              max_size: usize,
                                              seed: u32| {
            $crate::mutate_in_place($name, data, size, max_size, seed)
        });
    };
}

static RECORD_PANICS: Once = Once::new();

fn target(name: &str) -> &'static Target {
    by_name(name).unwrap_or_else(|| panic!("no fuzz target named {name} in peephole-fuzz"))
}

/// Runs one input through the target. A panic that reaches here is a finding: it is printed
/// and the process aborts, which libFuzzer records as a crash with its input. The panic
/// hook libfuzzer-sys installs (abort on every panic, even one the code under test catches)
/// is replaced by the replay's recording hook on the first call.
pub fn run(name: &str, data: &[u8]) {
    RECORD_PANICS.call_once(quiet_panics);
    if let Err(finding) = run_one(target(name), data) {
        eprintln!(
            "peephole-fuzz finding in {name}: panic at {}: {}",
            finding.location, finding.message
        );
        std::process::abort();
    }
}

/// libFuzzer's custom mutator: from libFuzzer's seed, either libFuzzer's own mutation or the
/// target's (structure-aware when it has one, the generic mutator of `peephole_fuzz::mutate`
/// otherwise, with the target's dictionary), written back into libFuzzer's buffer. Returns the
/// new size.
pub fn mutate_in_place(
    name: &str,
    data: &mut [u8],
    size: usize,
    max_size: usize,
    seed: u32,
) -> usize {
    let mut rng = ChaCha8Rng::seed_from_u64(u64::from(seed));
    if rng.random_range(0..2) == 0 {
        return libfuzzer_sys::fuzzer_mutate(data, size, max_size);
    }
    let target = target(name);
    let input = &data[..size.min(data.len())];
    let edited = match target.mutate {
        Some(structured) if rng.random_range(0..3) != 0 => structured(&mut rng, input),
        _ => mutate(
            &mut rng,
            input,
            &[],
            target.dictionary,
            target.max_len.min(max_size),
        ),
    };
    let written = edited.len().min(max_size).min(data.len());
    data[..written].copy_from_slice(&edited[..written]);
    written
}
