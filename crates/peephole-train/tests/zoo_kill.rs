//! Crash safety of zoo generation: the generator is killed with SIGKILL at random moments,
//! again and again, and after every kill the zoo file must still hold every record that was
//! finished before it, unchanged, with at most a torn line per kill (reported and skipped by
//! the reader), and no id twice. A final uninterrupted run must then complete exactly the
//! missing ids.
//!
//! The networks train under `fmnist-smoke-v1` (about a second each), so kills land in every
//! phase: start-up, data loading, training and the write itself.
//!
//! The default is the short form CI runs (10 kills). The long form:
//! `PEEPHOLE_KILL_ROUNDS=60 PEEPHOLE_KILL_NETWORKS=80 cargo test -p peephole-train --test zoo_kill -- --nocapture`.
//!
//! Resuming across files is here too: `--done-in` continues a committed zoo in a new file
//! without training any of its networks again.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use peephole_zoo::{ZooContents, read_zoo};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn generator(out: &Path, networks: usize) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_peephole-train"));
    command
        .args([
            "zoo",
            "--protocol",
            "fmnist-smoke-v1",
            "--seed",
            "7",
            "--device",
            "cpu",
            "--threads",
            "1",
        ])
        .args(["--count", &networks.to_string(), "--out"])
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

/// The good records by id, as their JSON text, after checking the file's invariants.
fn check_file(path: &Path, kills: usize) -> HashMap<String, String> {
    if !path.exists() {
        return HashMap::new();
    }
    let ZooContents { records, bad_lines } = read_zoo(path).expect("the zoo file stays readable");
    assert!(
        bad_lines.len() <= kills,
        "{} bad lines after {kills} kills: {bad_lines:?}",
        bad_lines.len()
    );
    let mut by_id = HashMap::new();
    for record in records {
        let id = record.id.clone();
        let text = serde_json::to_string(&record).expect("records serialize");
        assert!(
            by_id.insert(id.clone(), text).is_none(),
            "id {id} appears twice"
        );
    }
    by_id
}

#[test]
fn killing_the_generator_never_loses_or_duplicates_a_record() {
    let rounds = env_count("PEEPHOLE_KILL_ROUNDS", 10);
    let networks = env_count("PEEPHOLE_KILL_NETWORKS", 16);
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("zoo.jsonl");
    let mut rng = ChaCha8Rng::seed_from_u64(20_261_128);
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut kills = 0;
    let mut finished_by_itself = 0;
    let started = Instant::now();
    for round in 0..rounds {
        let mut child = generator(&out, networks)
            .spawn()
            .expect("start peephole-train");
        // Between 0.1 s (still loading libtorch) and 3 s (a few networks in).
        let delay = Duration::from_millis(rng.random_range(100..3_000));
        std::thread::sleep(delay);
        match child.try_wait().expect("poll the generator") {
            Some(status) => {
                assert!(
                    status.success(),
                    "round {round}: generator failed on its own: {status}"
                );
                finished_by_itself += 1;
            }
            None => {
                child.kill().expect("SIGKILL the generator");
                child.wait().expect("reap the generator");
                kills += 1;
            }
        }
        let now = check_file(&out, kills);
        for (id, text) in &seen {
            assert_eq!(
                now.get(id),
                Some(text),
                "round {round}: record {id} changed or vanished"
            );
        }
        seen = now;
        if seen.len() == networks {
            break;
        }
    }
    let status = generator(&out, networks)
        .status()
        .expect("run the generator to completion");
    assert!(status.success(), "the resumed run failed: {status}");
    let last = check_file(&out, kills);
    for (id, text) in &seen {
        assert_eq!(
            last.get(id),
            Some(text),
            "record {id} changed after resuming"
        );
    }
    let expected: HashSet<String> = (0..networks).map(|i| format!("s7-{i:06}")).collect();
    let got: HashSet<String> = last.keys().cloned().collect();
    assert_eq!(
        got, expected,
        "resuming must complete exactly the missing ids"
    );
    let bad = read_zoo(&out).expect("readable").bad_lines.len();
    eprintln!(
        "{kills} kills, {finished_by_itself} runs that finished before their kill, {} records \
         before the final run, {bad} torn line(s) reported, {:.0} s",
        seen.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        kills >= rounds.min(networks) / 2,
        "too few kills landed ({kills}) to test anything"
    );
}

#[test]
fn a_zoo_continued_in_a_new_file_skips_the_networks_of_the_old_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (old, new) = (dir.path().join("old.jsonl"), dir.path().join("new.jsonl"));
    assert!(
        generator(&old, 2)
            .status()
            .expect("run the generator")
            .success()
    );
    let status = generator(&new, 3)
        .arg("--done-in")
        .arg(&old)
        .status()
        .expect("run the generator");
    assert!(status.success(), "continuing failed: {status}");
    let ids = |path: &Path| -> Vec<String> {
        read_zoo(path)
            .expect("readable")
            .records
            .into_iter()
            .map(|r| r.id)
            .collect()
    };
    assert_eq!(ids(&old), ["s7-000000", "s7-000001"]);
    assert_eq!(
        ids(&new),
        ["s7-000002"],
        "only the network the old file lacks is trained"
    );

    let missing = dir.path().join("missing.jsonl");
    let output = generator(&new, 4)
        .arg("--done-in")
        .arg(&missing)
        .stderr(Stdio::piped())
        .output()
        .expect("run the generator");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "a missing --done-in file is an error"
    );
    assert!(
        stderr.contains("missing.jsonl") && stderr.contains("no such zoo file"),
        "{stderr}"
    );
    assert_eq!(
        ids(&new),
        ["s7-000002"],
        "nothing was trained after the error"
    );
}
