//! Running inputs through a target on stable Rust: one input at a time with panics caught and
//! located ([`run_one`]), the committed corpus and built-in seeds in a stable order
//! ([`load_corpus`]), and content names for saved inputs ([`input_name`]). The corpus test
//! replays every committed input with these under `cargo test`, the libFuzzer harnesses call
//! [`run_one`] for every input they run, and `peephole-fuzz replay` reproduces a finding.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::Mutex;

use crate::targets::Target;

/// One input that broke an invariant or made the code under test panic.
#[derive(Debug, Clone)]
pub struct Finding {
    /// `file:line` of the panic.
    pub location: String,
    /// The panic message.
    pub message: String,
    /// The input.
    pub input: Vec<u8>,
}

/// The last panic's location and message, set by the hook [`quiet_panics`] installs.
static LAST_PANIC: Mutex<Option<(String, String)>> = Mutex::new(None);

/// Replaces the panic hook with one that records instead of printing: the code under test
/// catches some panics itself (tract), and only the ones that reach [`run_one`] are findings.
pub fn quiet_panics() {
    panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let message = payload_text(info.payload());
        if let Ok(mut last) = LAST_PANIC.lock() {
            *last = Some((location, message));
        }
    }));
}

fn payload_text(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(non-string panic payload)".into())
}

/// Runs one input; `Err` holds the finding when it panicked. Needs [`quiet_panics`] for a
/// precise location (without it the location is empty).
pub fn run_one(target: &Target, input: &[u8]) -> Result<String, Finding> {
    if let Ok(mut last) = LAST_PANIC.lock() {
        *last = None;
    }
    let result = panic::catch_unwind(AssertUnwindSafe(|| (target.run)(input)));
    result.map_err(|payload| {
        let (location, message) = LAST_PANIC
            .lock()
            .ok()
            .and_then(|mut last| last.take())
            .unwrap_or_else(|| (String::new(), payload_text(payload.as_ref())));
        Finding {
            location,
            message,
            input: input.to_vec(),
        }
    })
}

/// A target's built-in seeds, then the files of `dirs` (each sorted by name); missing
/// folders are skipped.
pub fn load_corpus(target: &Target, dirs: &[PathBuf]) -> Vec<Vec<u8>> {
    let mut inputs = (target.seeds)();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        paths.sort();
        inputs.extend(paths.iter().filter_map(|p| std::fs::read(p).ok()));
    }
    inputs
}

/// A short stable name for an input (FNV-1a), for file names.
pub fn input_name(input: &[u8]) -> String {
    let hash = input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    format!("{hash:016x}")
}
