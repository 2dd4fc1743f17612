//! `cargo xtask zoo-merge`: folds the shard files of a split zoo run (a Slurm job array, or
//! `--shard I/N` processes) into one zoo file, one record per id, through the core reader and
//! writer; rerunning it changes nothing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use peephole_zoo::{ZooRecord, ZooWriter, read_zoo};

/// Options of `zoo-merge`.
#[derive(clap::Args)]
pub struct Args {
    /// The merged zoo file (appended to; created when missing).
    out: PathBuf,
    /// Shard files to merge (default: every `shard-*.jsonl` in `OUT.shards/`, the folder
    /// `cargo xtask zoo --slurm` writes them to).
    shards: Vec<PathBuf>,
}

/// The folder beside a zoo file that holds its shard files, logs and pinned trainer.
pub fn shards_dir(out: &Path) -> PathBuf {
    let mut name = out
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".shards");
    out.with_file_name(name)
}

/// The shard file of task `index` of `count`: its own file, so tasks never share one.
pub fn shard_file(out: &Path, index: u64, count: u64) -> PathBuf {
    shards_dir(out).join(format!("shard-{index:03}-of-{count:03}.jsonl"))
}

/// Every `shard-*.jsonl` in `OUT.shards/`, sorted by name.
pub fn default_shards(out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let dir = shards_dir(out);
    let entries =
        std::fs::read_dir(&dir).with_context(|| format!("no shard folder {}", dir.display()))?;
    let mut shards: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("shard-") && n.ends_with(".jsonl"))
        })
        .collect();
    shards.sort();
    Ok(shards)
}

/// A line of an input that is not a record: reported, skipped, never merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedLine {
    /// The file.
    pub file: PathBuf,
    /// What the reader said about it (line number and reason).
    pub reason: String,
}

/// An id found with two different records (trained twice, e.g. after a requeue): the first
/// one is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainedTwice {
    /// The id.
    pub id: String,
    /// Where the kept record came from.
    pub kept_from: PathBuf,
    /// Where the dropped one came from.
    pub dropped_from: PathBuf,
}

/// What a merge did.
#[derive(Debug, Clone, Default)]
pub struct MergeReport {
    /// Records the merged file held before.
    pub already: usize,
    /// Records read from the shard files.
    pub read: usize,
    /// Records appended (ids new to the merged file), in id order.
    pub appended: Vec<String>,
    /// Shard records identical to one already kept (a rerun of the merge, a copied file).
    pub identical: usize,
    /// Ids with two different records.
    pub trained_twice: Vec<TrainedTwice>,
    /// Torn or invalid lines, in the merged file or a shard.
    pub skipped: Vec<SkippedLine>,
}

impl std::fmt::Display for MergeReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} records already merged, {} read from shards, {} appended, {} already there, {} trained twice (first kept), {} torn or invalid lines skipped",
            self.already,
            self.read,
            self.appended.len(),
            self.identical,
            self.trained_twice.len(),
            self.skipped.len()
        )?;
        for twice in &self.trained_twice {
            write!(
                f,
                "\n  trained twice: {} (kept the record of {}, dropped the one of {})",
                twice.id,
                twice.kept_from.display(),
                twice.dropped_from.display()
            )?;
        }
        for line in &self.skipped {
            write!(f, "\n  skipped {}: {}", line.file.display(), line.reason)?;
        }
        Ok(())
    }
}

/// Merges `shards` into `out`: every record the core reader accepts (it validates each one),
/// one per id, the first seen kept (`out`'s own, then the shards in order). Only ids new to
/// `out` are appended, with the core writer, so a second run appends nothing. All inputs must
/// share one protocol; nothing is written otherwise.
pub fn merge(out: &Path, shards: &[PathBuf]) -> anyhow::Result<MergeReport> {
    let mut report = MergeReport::default();
    // id -> (record, file it came from)
    let mut kept: HashMap<String, (ZooRecord, PathBuf)> = HashMap::new();
    let mut protocol: Option<(String, PathBuf)> = None;
    let mut check_protocol = |record: &ZooRecord, file: &Path| -> anyhow::Result<()> {
        match &protocol {
            None => protocol = Some((record.protocol.clone(), file.to_path_buf())),
            Some((name, first)) if *name != record.protocol => bail!(
                "{}: record {} is of protocol {}, but {} holds {name}; a zoo holds one protocol",
                file.display(),
                record.id,
                record.protocol,
                first.display()
            ),
            Some(_) => {}
        }
        Ok(())
    };
    if out.exists() {
        let contents = read_zoo(out)?;
        report
            .skipped
            .extend(contents.bad_lines.iter().map(|b| SkippedLine {
                file: out.to_path_buf(),
                reason: b.to_string(),
            }));
        for record in contents.records {
            check_protocol(&record, out)?;
            match kept.get(&record.id) {
                Some((first, _)) if *first == record => report.identical += 1,
                Some(_) => report.trained_twice.push(TrainedTwice {
                    id: record.id.clone(),
                    kept_from: out.to_path_buf(),
                    dropped_from: out.to_path_buf(),
                }),
                None => {
                    report.already += 1;
                    kept.insert(record.id.clone(), (record, out.to_path_buf()));
                }
            }
        }
    }
    let mut new: Vec<ZooRecord> = Vec::new();
    for shard in shards {
        let contents = read_zoo(shard)?;
        report
            .skipped
            .extend(contents.bad_lines.iter().map(|b| SkippedLine {
                file: shard.clone(),
                reason: b.to_string(),
            }));
        for record in contents.records {
            report.read += 1;
            check_protocol(&record, shard)?;
            match kept.get(&record.id) {
                Some((first, _)) if *first == record => report.identical += 1,
                Some((_, from)) => report.trained_twice.push(TrainedTwice {
                    id: record.id.clone(),
                    kept_from: from.clone(),
                    dropped_from: shard.clone(),
                }),
                None => {
                    new.push(record.clone());
                    kept.insert(record.id.clone(), (record, shard.clone()));
                }
            }
        }
    }
    if new.is_empty() {
        if !out.exists() {
            bail!(
                "no records to merge into {} (shards: {})",
                out.display(),
                shards.len()
            );
        }
        return Ok(report);
    }
    new.sort_by(|a, b| a.id.cmp(&b.id));
    let mut writer = ZooWriter::append(out)?;
    for record in &new {
        writer.write(record)?;
        report.appended.push(record.id.clone());
    }
    Ok(report)
}

/// Entry point of `cargo xtask zoo-merge`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let shards = if args.shards.is_empty() {
        default_shards(&args.out)?
    } else {
        args.shards.clone()
    };
    if shards.is_empty() {
        bail!("no shard files to merge into {}", args.out.display());
    }
    let report = merge(&args.out, &shards)?;
    println!(
        "zoo-merge {} from {} shard file(s): {report}",
        args.out.display(),
        shards.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The workspace's synthetic record (`peephole_zoo::testing`), under `id` and timed
    /// `wall_seconds`: what merging looks at.
    fn record(id: &str, wall_seconds: f64) -> ZooRecord {
        let mut record = peephole_zoo::testing::record(id, "generator-v1/fmnist-v1", 0);
        record.wall_seconds = wall_seconds;
        record
    }

    fn write_lines(path: &Path, records: &[ZooRecord], tail: &str) {
        let mut text = String::new();
        for r in records {
            text.push_str(&serde_json::to_string(r).expect("serialisable"));
            text.push('\n');
        }
        text.push_str(tail);
        std::fs::write(path, text).expect("writable temp file");
    }

    #[test]
    fn merge_keeps_one_record_per_id_reports_torn_lines_and_a_rerun_changes_nothing() {
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = temp.path();
        let out = dir.join("zoo.jsonl");
        let a = dir.join("shard-000-of-002.jsonl");
        let b = dir.join("shard-001-of-002.jsonl");
        write_lines(
            &a,
            &[record("s1-000000", 1.0), record("s1-000002", 1.0)],
            "{\"id\":\"s1-0000",
        );
        write_lines(&b, &[record("s1-000001", 1.0)], "");
        let first = merge(&out, &[a.clone(), b.clone()]).expect("merges");
        assert_eq!(first.appended, ["s1-000000", "s1-000001", "s1-000002"]);
        assert_eq!(first.skipped.len(), 1);
        assert!(
            first.skipped[0].reason.contains("torn"),
            "{}",
            first.skipped[0].reason
        );
        let bytes = std::fs::read(&out).expect("merged file");
        let second = merge(&out, &[a, b]).expect("merges again");
        assert!(second.appended.is_empty());
        assert_eq!(second.identical, 3);
        assert_eq!(
            std::fs::read(&out).expect("merged file"),
            bytes,
            "a rerun changed the merged file"
        );
        let merged = read_zoo(&out).expect("readable");
        assert!(merged.bad_lines.is_empty());
        assert_eq!(merged.records.len(), 3);
    }

    #[test]
    fn merge_reports_a_record_trained_twice_and_keeps_the_first() {
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = temp.path();
        let out = dir.join("zoo.jsonl");
        let a = dir.join("a.jsonl");
        let b = dir.join("b.jsonl");
        write_lines(&a, &[record("s1-000000", 1.0)], "");
        write_lines(
            &b,
            &[record("s1-000000", 2.0), record("s1-000001", 1.0)],
            "",
        );
        let report = merge(&out, &[a.clone(), b.clone()]).expect("merges");
        assert_eq!(report.appended, ["s1-000000", "s1-000001"]);
        assert_eq!(
            report.trained_twice,
            [TrainedTwice {
                id: "s1-000000".into(),
                kept_from: a,
                dropped_from: b
            }]
        );
        let merged = read_zoo(&out).expect("readable").records;
        assert_eq!(merged[0].wall_seconds, 1.0);
    }

    #[test]
    fn merge_refuses_shards_of_two_protocols_and_writes_nothing() {
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = temp.path();
        let out = dir.join("zoo.jsonl");
        let a = dir.join("a.jsonl");
        let mut other = record("s1-000001", 1.0);
        other.protocol = "fmnist-smoke-v1".into();
        write_lines(&a, &[record("s1-000000", 1.0), other], "");
        let error = merge(&out, &[a]).expect_err("two protocols");
        assert!(error.to_string().contains("one protocol"), "{error}");
        assert!(!out.exists());
    }

    #[test]
    fn shard_files_live_beside_the_merged_file() {
        let out = Path::new("/data/zoo/smoke.jsonl");
        assert_eq!(
            shard_file(out, 3, 16),
            Path::new("/data/zoo/smoke.jsonl.shards/shard-003-of-016.jsonl")
        );
    }
}
