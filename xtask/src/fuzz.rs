//! `cargo xtask fuzz --seconds N`: builds the cargo-fuzz harnesses of `fuzz/libfuzzer`
//! (nightly, AddressSanitizer, debug assertions) and runs libFuzzer on every fuzz target for N
//! seconds each, one process per target, from the target's committed corpus and built-in
//! seeds; prints executions, corpus, coverage (`cov`: covered edges, `ft`: features) and
//! findings per target. Corpus, logs and findings stay under `target/fuzz/<name>`, so a later
//! run goes on where this one stopped.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::cargo::{cargo, root, target_dir};
use crate::process;

/// Options of `fuzz`.
#[derive(clap::Args)]
pub struct Args {
    /// Seconds per target.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Only these targets (repeatable); all when absent. `--list` shows them.
    #[arg(long = "target")]
    targets: Vec<String>,
    /// libFuzzer's seed (`-seed`); a time-based one when absent.
    #[arg(long)]
    seed: Option<u64>,
    /// List the targets and exit.
    #[arg(long)]
    list: bool,
}

fn peephole_fuzz_binary() -> PathBuf {
    target_dir().join("debug").join("peephole-fuzz")
}

/// Builds `peephole-fuzz` (stable: it lists the targets and writes their starting corpora)
/// and returns the targets' names and descriptions.
fn list_targets() -> anyhow::Result<Vec<(String, String)>> {
    process::run(cargo().args([
        "build",
        "--quiet",
        "--package",
        "peephole-fuzz",
        "--bin",
        "peephole-fuzz",
    ]))?;
    let listing = process::read(Command::new(peephole_fuzz_binary()).arg("list"))?;
    Ok(listing
        .stdout
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(name, about)| (name.to_string(), about.to_string()))
        .collect())
}

/// Entry point of `cargo xtask fuzz`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let listing = list_targets()?;
    if args.list {
        for (name, about) in &listing {
            println!("{name}\t{about}");
        }
        return Ok(());
    }
    let all: Vec<String> = listing.into_iter().map(|(name, _)| name).collect();
    for name in &args.targets {
        if !all.contains(name) {
            bail!("--target {name}: unknown (known: {})", all.join(", "));
        }
    }
    let targets = if args.targets.is_empty() {
        all
    } else {
        args.targets.clone()
    };
    if !(args.seconds.is_finite() && args.seconds > 0.0) {
        bail!("--seconds {}: must be a positive number", args.seconds);
    }
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_secs())
    });
    let bin_dir = build()?;
    let work = root().join("target").join("fuzz");
    eprintln!(
        "libFuzzer on {} target(s) for {}s each, seed {seed}; corpus, logs and findings in {}",
        targets.len(),
        args.seconds,
        work.display()
    );
    println!(
        "| target | seeds | executions | exec/s | corpus (new inputs) | cov (edges) | ft (features) | findings |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let mut problems = Vec::new();
    for name in &targets {
        eprintln!("  {name} ...");
        let dir = work.join(name);
        let limits = write_seeds(name, &dir.join("seeds"))?;
        let binary = bin_dir.join(name);
        let run = fuzz_once(
            &binary,
            &limits,
            args.seconds,
            seed,
            &RunDirs::under(&dir, &dir.join("seeds")),
        )?;
        println!(
            "| {name} | {} | {} | {:.0} | {} | {} | {} | {} |",
            limits.seeds,
            run.execs,
            run.execs as f64 / run.seconds.max(1e-9),
            run.corpus,
            run.coverage.edges,
            run.coverage.features,
            run.findings.len()
        );
        problems.extend(finding_lines(name, &binary, &run.findings));
    }
    if !problems.is_empty() {
        bail!(
            "fuzzing found problems (replay on stable with `cargo run -p peephole-fuzz -- replay TARGET FILE`):\n{}",
            problems.join("\n")
        );
    }
    Ok(())
}

/// The toolchain cargo-fuzz needs (sanitizers and `-Z` flags).
const NIGHTLY: &str = "nightly";

/// What `peephole-fuzz seeds` prints: the target's limits and how many seeds it wrote.
#[derive(serde::Deserialize)]
struct Limits {
    seeds: usize,
    max_len: usize,
    timeout_seconds: f64,
    allocation_limit: usize,
}

/// libFuzzer's coverage counters for a set of inputs.
#[derive(Clone, Copy, Default)]
struct Coverage {
    /// Covered edges (`cov:`).
    edges: u64,
    /// Features (`ft:`): edges with hit-count buckets and comparison values.
    features: u64,
}

/// What one libFuzzer run of one target produced.
struct LibfuzzerRun {
    execs: u64,
    seconds: f64,
    corpus: usize,
    coverage: Coverage,
    /// Saved crash, out-of-memory, timeout and leak inputs.
    findings: Vec<PathBuf>,
}

/// A `cargo` of the nightly toolchain, outside the workspace's pinned one.
fn nightly_cargo() -> Command {
    let mut command = Command::new("rustup");
    command
        .args(["run", NIGHTLY, "cargo"])
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO")
        .env_remove("RUSTC")
        .current_dir(root());
    command
}

/// Builds every harness and returns the folder that holds the binaries.
fn build() -> anyhow::Result<PathBuf> {
    if !process::succeeds(nightly_cargo().args(["fuzz", "--version"])) {
        bail!(
            "--engine libfuzzer needs the {NIGHTLY} toolchain and cargo-fuzz: \
             `rustup toolchain install {NIGHTLY}` and `cargo install cargo-fuzz --locked`"
        );
    }
    let host = process::read(Command::new("rustup").args(["run", NIGHTLY, "rustc", "-vV"]))
        .context("running rustc -vV on the nightly toolchain")?
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .context("rustc -vV printed no host triple")?;
    let build_dir = target_dir().join("libfuzzer");
    process::run(
        nightly_cargo()
            .args([
                "fuzz",
                "build",
                "--fuzz-dir",
                "fuzz/libfuzzer",
                "--release",
                "--debug-assertions",
                "--target-dir",
            ])
            .arg(&build_dir),
    )?;
    Ok(build_dir.join(host).join("release"))
}

/// Writes the target's starting corpus (committed inputs and built-in seeds) into `dir`.
fn write_seeds(name: &str, dir: &Path) -> anyhow::Result<Limits> {
    let stdout = process::read(
        Command::new(peephole_fuzz_binary())
            .args(["seeds", name])
            .arg(dir),
    )?
    .stdout;
    serde_json::from_str(stdout.trim()).with_context(|| format!("reading seeds summary {stdout}"))
}

/// The options every libFuzzer invocation of a target shares: its input size, hang and
/// allocation limits, as the target declares them.
fn limit_flags(limits: &Limits) -> Vec<String> {
    let mib = limits.allocation_limit.div_ceil(1 << 20).max(1);
    vec![
        format!("-max_len={}", limits.max_len),
        format!("-timeout={}", limits.timeout_seconds.ceil().max(1.0)),
        format!("-malloc_limit_mb={mib}"),
        format!("-rss_limit_mb={}", (mib * 2).max(4096)),
    ]
}

/// The last `cov: N ft: M` libFuzzer printed.
fn parse_coverage(log: &str) -> Coverage {
    let mut coverage = Coverage::default();
    for line in log.lines() {
        let number_after = |key: &str| {
            line.split_whitespace()
                .skip_while(|w| *w != key)
                .nth(1)
                .and_then(|n| n.parse::<u64>().ok())
        };
        if let (Some(edges), Some(features)) = (number_after("cov:"), number_after("ft:")) {
            coverage = Coverage { edges, features };
        }
    }
    coverage
}

/// The value of a `stat::NAME: value` line of `-print_final_stats=1`.
fn final_stat(log: &str, name: &str) -> Option<u64> {
    log.lines().find_map(|l| {
        l.strip_prefix(&format!("stat::{name}:"))
            .and_then(|v| v.trim().parse().ok())
    })
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Where one libFuzzer run reads and writes: its corpus (new inputs go there), the starting
/// seeds, saved findings and its log.
struct RunDirs {
    corpus: PathBuf,
    seeds: PathBuf,
    artifacts: PathBuf,
    log: PathBuf,
}

impl RunDirs {
    /// The layout under `dir`, with the seeds in `seeds`.
    fn under(dir: &Path, seeds: &Path) -> Self {
        RunDirs {
            corpus: dir.join("corpus"),
            seeds: seeds.to_path_buf(),
            artifacts: dir.join("artifacts"),
            log: dir.join("libfuzzer.log"),
        }
    }
}

/// Fuzzes one target with libFuzzer for `seconds`, starting from the run's corpus and seeds.
fn fuzz_once(
    binary: &Path,
    limits: &Limits,
    seconds: f64,
    seed: u64,
    dirs: &RunDirs,
) -> anyhow::Result<LibfuzzerRun> {
    let RunDirs {
        corpus,
        seeds,
        artifacts,
        log: log_path,
    } = dirs;
    std::fs::create_dir_all(corpus)?;
    std::fs::create_dir_all(artifacts)?;
    let started = std::time::Instant::now();
    let output = process::output(
        Command::new(binary)
            .arg(corpus)
            .arg(seeds)
            .arg(format!("-max_total_time={}", seconds.ceil().max(1.0)))
            // libFuzzer's seed is an unsigned int, and 0 asks for a random one.
            .arg(format!("-seed={}", (seed % u64::from(u32::MAX)).max(1)))
            .arg(format!("-artifact_prefix={}/", artifacts.display()))
            .arg("-print_final_stats=1")
            .args(limit_flags(limits))
            .current_dir(root()),
    )?;
    let log = output.stderr;
    std::fs::write(log_path, &log).with_context(|| format!("writing {}", log_path.display()))?;
    let findings: Vec<PathBuf> = files_in(artifacts)
        .into_iter()
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                ["crash-", "oom-", "timeout-", "leak-"]
                    .iter()
                    .any(|k| n.starts_with(k))
            })
        })
        .collect();
    if !output.status.success() && findings.is_empty() {
        bail!(
            "{} exited with {} and saved no input; its log is {}",
            binary.display(),
            output.status,
            log_path.display()
        );
    }
    Ok(LibfuzzerRun {
        execs: final_stat(&log, "number_of_executed_units").unwrap_or(0),
        seconds: started.elapsed().as_secs_f64(),
        corpus: files_in(corpus).len(),
        coverage: parse_coverage(&log),
        findings,
    })
}

fn finding_lines(name: &str, binary: &Path, findings: &[PathBuf]) -> Vec<String> {
    findings
        .iter()
        .map(|f| {
            format!(
                "{name} (libFuzzer): {}\n    replay: {} {}",
                f.file_name().and_then(|n| n.to_str()).unwrap_or("?"),
                binary.display(),
                f.display()
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The end of a real libFuzzer log (the `text` harness, 6 s).
    const LOG: &str = "INFO: Seed: 1\n\
        #54\tINITED cov: 1412 ft: 3028 corp: 53/2455b exec/s: 0 rss: 97Mb\n\
        #25441\tREDUCE cov: 1567 ft: 4262 corp: 299/18Kb lim: 512 exec/s: 4240 rss: 285Mb L: 138/313 MS: 4 ChangeBinInt-Custom-\n\
        #25441\tDONE   cov: 1567 ft: 4262 corp: 299/18Kb lim: 512 exec/s: 4240 rss: 285Mb\n\
        \"maxpool\" # Uses: 52\n\
        Done 25441 runs in 6 second(s)\n\
        stat::number_of_executed_units: 25441\n\
        stat::average_exec_per_sec:     4240\n";

    #[test]
    fn coverage_is_the_last_cov_and_ft_libfuzzer_printed() {
        let coverage = parse_coverage(LOG);
        assert_eq!((coverage.edges, coverage.features), (1567, 4262));
        let inited = parse_coverage(LOG.lines().take(2).collect::<Vec<_>>().join("\n").as_str());
        assert_eq!((inited.edges, inited.features), (1412, 3028));
        let none = parse_coverage("INFO: Seed: 1\n");
        assert_eq!((none.edges, none.features), (0, 0));
    }

    #[test]
    fn final_stats_read_by_name() {
        assert_eq!(final_stat(LOG, "number_of_executed_units"), Some(25441));
        assert_eq!(final_stat(LOG, "average_exec_per_sec"), Some(4240));
        assert_eq!(final_stat(LOG, "peak_rss_mb"), None);
    }

    #[test]
    fn limits_become_libfuzzer_flags_with_at_least_one_unit_each() {
        let flags = limit_flags(&Limits {
            seeds: 3,
            max_len: 4096,
            timeout_seconds: 0.2,
            allocation_limit: 512 << 20,
        });
        assert_eq!(
            flags,
            [
                "-max_len=4096",
                "-timeout=1",
                "-malloc_limit_mb=512",
                "-rss_limit_mb=4096"
            ]
        );
    }
}
