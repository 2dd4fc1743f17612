//! The mutation loop: replay the corpus, then mutate corpus entries for a fixed time or
//! number of runs, keep inputs that reach a new outcome class, and record every panic as a
//! finding with the input that caused it.
//!
//! Seeded (ChaCha8), so a run with the same seed, corpus and execution count is repeatable.

use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::guard;
use crate::mutate::mutate;
use crate::targets::Target;

/// How long and from what a run starts.
#[derive(Debug, Clone)]
pub struct Options {
    /// Stop after this long (the corpus replay counts).
    pub duration: Duration,
    /// Stop after this many runs, if set (for deterministic smoke passes).
    pub max_execs: Option<u64>,
    /// RNG seed.
    pub seed: u64,
    /// Folders of seed inputs (the committed corpus); missing folders are skipped.
    pub corpus: Vec<PathBuf>,
    /// Where new corpus entries and findings are written, if anywhere.
    pub work: Option<PathBuf>,
}

/// One input that broke an invariant or made the code under test panic.
#[derive(Debug, Clone)]
pub struct Finding {
    /// `file:line` of the panic, the key findings are deduplicated by.
    pub location: String,
    /// The panic message.
    pub message: String,
    /// The input.
    pub input: Vec<u8>,
    /// Where the input was saved, if it was.
    pub saved: Option<PathBuf>,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct Report {
    /// Target name.
    pub target: &'static str,
    /// Inputs run (corpus replay included).
    pub execs: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Corpus size at the end.
    pub corpus: usize,
    /// Distinct outcome classes reached.
    pub outcomes: usize,
    /// Distinct findings (by panic location).
    pub findings: Vec<Finding>,
    /// Largest single allocation seen (0 unless [`guard::CappedAlloc`] is installed).
    pub largest_allocation: usize,
}

impl Report {
    /// One line of JSON, what `cargo xtask fuzz` reads.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "target": self.target,
            "execs": self.execs,
            "seconds": self.elapsed.as_secs_f64(),
            "corpus": self.corpus,
            "outcomes": self.outcomes,
            "findings": self.findings.len(),
            "largest_allocation": self.largest_allocation,
            "details": self.findings.iter().map(|f| serde_json::json!({
                "location": f.location,
                "message": f.message.chars().take(400).collect::<String>(),
                "saved": f.saved.as_ref().map(|p| p.display().to_string()),
            })).collect::<Vec<_>>(),
        })
        .to_string()
    }
}

/// The last panic's location and message, set by the hook [`quiet_panics`] installs.
static LAST_PANIC: Mutex<Option<(String, String)>> = Mutex::new(None);

/// Replaces the panic hook with one that records instead of printing: the code under test
/// catches some panics itself (tract), and the driver reports the ones that reach it.
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
    guard::set_input(input);
    let result = panic::catch_unwind(AssertUnwindSafe(|| (target.run)(input)));
    guard::clear_input();
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
            saved: None,
        }
    })
}

/// The committed corpus of a target and its built-in seeds, in a stable order.
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

fn save(dir: &Path, name: &str, bytes: &[u8]) -> Option<PathBuf> {
    std::fs::create_dir_all(dir).ok()?;
    let path = dir.join(name);
    std::fs::write(&path, bytes).ok()?;
    Some(path)
}

/// Most inputs the in-memory corpus holds; past it new entries replace random old ones.
const MAX_CORPUS: usize = 512;

/// Fuzzes one target; see the module documentation.
pub fn fuzz(target: &'static Target, options: &Options) -> Report {
    let started = Instant::now();
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let mut corpus = load_corpus(target, &options.corpus);
    let mut outcomes: HashSet<String> = HashSet::new();
    let mut findings: HashMap<String, Finding> = HashMap::new();
    let mut execs = 0u64;
    guard::reset_largest_allocation();
    let out_of_budget = |execs: u64| {
        started.elapsed() >= options.duration || options.max_execs.is_some_and(|m| execs >= m)
    };
    let mut record = |result: Result<String, Finding>,
                      input: &[u8],
                      corpus: &mut Vec<Vec<u8>>,
                      rng: &mut ChaCha8Rng,
                      replay: bool| {
        match result {
            Ok(outcome) => {
                if outcomes.insert(outcome) && !replay {
                    if let Some(work) = &options.work {
                        save(&work.join("corpus"), &input_name(input), input);
                    }
                    if corpus.len() < MAX_CORPUS {
                        corpus.push(input.to_vec());
                    } else {
                        let at = rng.random_range(0..corpus.len());
                        corpus[at] = input.to_vec();
                    }
                }
            }
            Err(mut finding) => {
                if !findings.contains_key(&finding.location) {
                    if let Some(work) = &options.work {
                        let name = format!("{}-{}", target.name, input_name(input));
                        finding.saved = save(&work.join("findings"), &name, input);
                        if let Some(path) = &finding.saved {
                            let note = format!("{}\n{}\n", finding.location, finding.message);
                            let _ = std::fs::write(path.with_extension("txt"), note);
                        }
                    }
                    findings.insert(finding.location.clone(), finding);
                }
            }
        }
    };
    for input in corpus.clone() {
        if out_of_budget(execs) {
            break;
        }
        let result = run_one(target, &input);
        execs += 1;
        record(result, &input, &mut corpus, &mut rng, true);
    }
    while !out_of_budget(execs) && !corpus.is_empty() {
        let base = corpus[rng.random_range(0..corpus.len())].clone();
        let input = match target.mutate {
            Some(structured) if rng.random_range(0..3) != 0 => {
                let edited = structured(&mut rng, &base);
                if rng.random_range(0..4) == 0 {
                    mutate(
                        &mut rng,
                        &edited,
                        &corpus,
                        target.dictionary,
                        target.max_len,
                    )
                } else {
                    edited
                }
            }
            _ => mutate(&mut rng, &base, &corpus, target.dictionary, target.max_len),
        };
        let result = run_one(target, &input);
        execs += 1;
        record(result, &input, &mut corpus, &mut rng, false);
    }
    let mut findings: Vec<Finding> = findings.into_values().collect();
    findings.sort_by(|a, b| a.location.cmp(&b.location));
    Report {
        target: target.name,
        execs,
        elapsed: started.elapsed(),
        corpus: corpus.len(),
        outcomes: outcomes.len(),
        findings,
        largest_allocation: guard::largest_allocation(),
    }
}
