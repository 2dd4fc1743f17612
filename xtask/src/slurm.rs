//! `cargo xtask zoo ... --slurm`: writes, and with `--submit` submits, an sbatch script for a
//! Slurm job array whose task `i` runs the trainer's zoo command with `--shard i/N` into a shard
//! file of its own; `cargo xtask zoo-merge OUT` then folds the shards into the zoo file.
//!
//! The Slurm options are a clap struct ([`SlurmOptions`]); every zoo argument it does not
//! name goes to the trainer verbatim, wherever it stands on the command line, so options the
//! trainer gains need no change here. Only `--out` is taken: it names the merged zoo file, and
//! the shards, logs and pinned trainer go beside it in `OUT.shards/`.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use clap::{CommandFactory, Parser};
use peephole_ir::protocol::{FMNIST_BUDGET_V1, PROTOCOLS, Protocol};

use crate::cargo::cargo;
use crate::process;
use crate::setup;
use crate::zoo_merge::{shard_file, shards_dir};

/// The flag that turns `cargo xtask zoo` into a job-array writer.
pub const SLURM_FLAG: &str = "--slurm";

/// Default array size: at most this many tasks, and never more than networks.
pub const DEFAULT_MAX_ARRAY_SIZE: u64 = 100;

/// What `cargo xtask zoo --slurm --help` says before the options.
const ABOUT: &str = "\
Writes OUT.shards/zoo-array.sbatch: a Slurm job array whose task i runs
`peephole-train zoo [ZOO OPTIONS] --shard i/N --out OUT.shards/shard-III-of-NNN.jsonl`
(plus `--done-in OUT` once OUT exists). Rerunning the same command after a failure trains
only the ids still missing. Merge with `cargo xtask zoo-merge OUT`.";

/// What `--slurm` adds to a zoo run (`cargo xtask zoo --slurm --help` lists them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Parser)]
#[command(
    name = "cargo xtask zoo",
    override_usage = "cargo xtask zoo [ZOO OPTIONS] --out OUT --slurm [SLURM OPTIONS]",
    about = ABOUT
)]
pub struct SlurmOptions {
    /// The zoo file the shards are merged into (required); shards, logs and the pinned
    /// trainer go beside it in OUT.shards/.
    #[arg(long, value_name = "OUT")]
    pub out: Option<PathBuf>,
    /// Tasks in the array [default: --count, at most 100].
    #[arg(long, value_name = "N")]
    pub array_size: Option<u64>,
    /// Partition to run in.
    #[arg(long, value_name = "P")]
    pub partition: Option<String>,
    /// Generic resources per task, e.g. gpu:1 (then --device auto).
    #[arg(long, value_name = "G")]
    pub gres: Option<String>,
    /// Time limit per task.
    #[arg(long, value_name = "HH:MM:SS")]
    pub time: Option<String>,
    /// CPUs per task, also the trainer's --threads [default: 1].
    #[arg(long, value_name = "N")]
    pub cpus_per_task: Option<u32>,
    /// One more #SBATCH line, e.g. --sbatch --account=myproject (repeatable).
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    pub sbatch: Vec<String>,
    /// A peephole-train built for the cluster's nodes [default: build it here].
    #[arg(long, value_name = "PATH")]
    pub trainer: Option<PathBuf>,
    /// Fashion-MNIST on the nodes [default: where it is found here].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// libtorch's lib folder on the nodes [default: .venv/libtorch/lib].
    #[arg(long, value_name = "DIR")]
    pub libtorch: Option<PathBuf>,
    /// Where to write the script [default: OUT.shards/zoo-array.sbatch].
    #[arg(long, value_name = "PATH")]
    pub script: Option<PathBuf>,
    /// Submit it with sbatch and print the job id.
    #[arg(long)]
    pub submit: bool,
}

/// A zoo command line split into the Slurm part and the trainer's part.
#[derive(Debug, Clone)]
pub struct ArrayRequest {
    /// The Slurm options, their paths absolute.
    pub slurm: SlurmOptions,
    /// The merged zoo file (`--out`), absolute.
    pub out: PathBuf,
    /// `--count`.
    pub count: u64,
    /// The protocol the script pins.
    pub protocol: Protocol,
    /// Tasks in the array.
    pub tasks: u64,
    /// Trainer zoo arguments, verbatim, with `--protocol` and `--device` made explicit.
    pub trainer_args: Vec<String>,
    /// Whether the user gave `--threads` (else each task uses its CPUs).
    pub has_threads: bool,
}

/// Whether a zoo command line asks for Slurm.
pub fn requested(args: &[String]) -> bool {
    args.iter().any(|a| a == SLURM_FLAG)
}

fn value_of<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == name {
            return iter.next().map(String::as_str);
        }
        if let Some(value) = arg
            .strip_prefix(name)
            .and_then(|rest| rest.strip_prefix('='))
        {
            return Some(value);
        }
    }
    None
}

fn is_gpu(gres: Option<&str>) -> bool {
    gres.is_some_and(|g| g.split(',').any(|part| part.starts_with("gpu")))
}

/// Splits a zoo command line into the words of [`SlurmOptions`] (by the names clap knows:
/// `--name VALUE`, `--name=VALUE`, flags, help) and the trainer's words, each in order;
/// [`SLURM_FLAG`] itself goes to neither.
fn partition(args: &[String]) -> (Vec<String>, Vec<String>) {
    let options = SlurmOptions::command();
    // `Some(takes a value)` for a Slurm option's name, `None` for any other word.
    let slurm_option = |name: &str| -> Option<bool> {
        if name == "--help" || name == "-h" {
            return Some(false);
        }
        let long = name.strip_prefix("--")?;
        options
            .get_arguments()
            .find(|arg| arg.get_long() == Some(long))
            .map(|arg| arg.get_action().takes_values())
    };
    let (mut slurm, mut trainer) = (Vec::new(), Vec::new());
    let mut words = args.iter();
    while let Some(word) = words.next() {
        if word == SLURM_FLAG {
            continue;
        }
        let (name, inline) = match word.split_once('=') {
            Some((name, _)) if name.starts_with("--") => (name, true),
            _ => (word.as_str(), false),
        };
        match slurm_option(name) {
            Some(takes_value) => {
                slurm.push(word.clone());
                if takes_value && !inline {
                    slurm.extend(words.next().cloned());
                }
            }
            None => trainer.push(word.clone()),
        }
    }
    (slurm, trainer)
}

/// Splits a zoo command line (the arguments after `zoo`) into Slurm options and trainer
/// arguments; `cwd` makes the Slurm options' paths absolute.
pub fn parse(args: &[String], cwd: &Path) -> anyhow::Result<ArrayRequest> {
    let (slurm_words, mut trainer_args) = partition(args);
    if trainer_args
        .iter()
        .any(|a| a == "--shard" || a.starts_with("--shard="))
    {
        bail!(
            "--shard and --slurm: the job array shards the range itself (task i runs --shard i/N)"
        );
    }
    let mut slurm =
        SlurmOptions::try_parse_from(std::iter::once("cargo xtask zoo".into()).chain(slurm_words))
            .map_err(|error| {
                // clap's first line, without its "error: " and its usage tip, which would
                // point at the trainer's help rather than this one.
                let rendered = error.to_string();
                let first = rendered.lines().next().unwrap_or_default();
                anyhow::anyhow!(
                    "{} (`cargo xtask zoo --slurm --help` lists the Slurm options)",
                    first.trim_start_matches("error: ")
                )
            })?;
    for path in [
        &mut slurm.out,
        &mut slurm.trainer,
        &mut slurm.data_dir,
        &mut slurm.libtorch,
        &mut slurm.script,
    ] {
        if let Some(relative) = path.take() {
            *path = Some(cwd.join(relative));
        }
    }
    let out = slurm
        .out
        .clone()
        .context("--slurm needs --out: the zoo file the shards are merged into")?;
    let count: u64 = value_of(&trainer_args, "--count")
        .context("--slurm needs --count")?
        .parse()
        .context("--count: not a number")?;
    if count == 0 {
        bail!("--count 0: nothing to train");
    }
    let protocol = pinned_protocol(&mut trainer_args)?;
    let gpu = is_gpu(slurm.gres.as_deref());
    match value_of(&trainer_args, "--device") {
        None => trainer_args.extend(["--device".into(), if gpu { "auto" } else { "cpu" }.into()]),
        Some("cuda") if !gpu => bail!("--device cuda needs a GPU in every task: add --gres gpu:1"),
        Some(_) => {}
    }
    let tasks = slurm
        .array_size
        .unwrap_or(count.min(DEFAULT_MAX_ARRAY_SIZE));
    if tasks == 0 || tasks > count {
        bail!("--array-size {tasks}: need 1..={count} tasks for {count} networks");
    }
    let has_threads = value_of(&trainer_args, "--threads").is_some();
    Ok(ArrayRequest {
        slurm,
        out,
        count,
        protocol,
        tasks,
        trainer_args,
        has_threads,
    })
}

/// The trainer's `--protocol`, made explicit (the trainer's default) when absent, so the
/// script pins it.
fn pinned_protocol(trainer_args: &mut Vec<String>) -> anyhow::Result<Protocol> {
    let name = match value_of(trainer_args, "--protocol") {
        Some(name) => name.to_string(),
        None => {
            trainer_args.extend(["--protocol".into(), FMNIST_BUDGET_V1.name.into()]);
            FMNIST_BUDGET_V1.name.into()
        }
    };
    Protocol::by_name(&name).with_context(|| {
        let known: Vec<_> = PROTOCOLS.iter().map(|p| p.name).collect();
        format!(
            "--protocol {name}: unknown protocol (known: {})",
            known.join(", ")
        )
    })
}

/// Quotes a word for bash (only when it needs it), by `shlex`'s rules.
///
/// # Errors
///
/// A word with a NUL byte, which no shell word can hold.
pub fn shell_quote(word: &str) -> anyhow::Result<String> {
    shlex::try_quote(word)
        .map(|quoted| quoted.into_owned())
        .with_context(|| format!("cannot quote {word:?} for the sbatch script"))
}

fn quote_path(path: &Path) -> anyhow::Result<String> {
    shell_quote(&path.to_string_lossy())
}

/// Where the binary the script pins lives, and its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedTrainer {
    /// The copy under `OUT.shards/bin/`, named by its hash.
    pub path: PathBuf,
    /// Its SHA-256, hex.
    pub sha256: String,
}

/// Everything the script needs besides the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptEnv {
    /// The pinned trainer.
    pub trainer: PinnedTrainer,
    /// libtorch's lib folder on the nodes.
    pub libtorch: PathBuf,
    /// Fashion-MNIST on the nodes.
    pub data_dir: PathBuf,
    /// Working directory of every task (where relative trainer paths start).
    pub chdir: PathBuf,
    /// The command line that wrote the script, for its header.
    pub command_line: String,
}

/// The sbatch script of a request.
///
/// # Errors
///
/// A path or argument that no shell word can hold (a NUL byte).
pub fn script_text(request: &ArrayRequest, env: &ScriptEnv) -> anyhow::Result<String> {
    let shards = shards_dir(&request.out);
    let mut s = String::new();
    s.push_str("#!/bin/bash\n");
    s.push_str(&format!(
        "#SBATCH --job-name=peephole-zoo-{}\n",
        request.protocol.name
    ));
    s.push_str(&format!("#SBATCH --array=0-{}\n", request.tasks - 1));
    s.push_str(&format!(
        "#SBATCH --output={}/logs/task-%3a-job-%A.log\n",
        shards.display()
    ));
    s.push_str(&format!("#SBATCH --chdir={}\n", env.chdir.display()));
    s.push_str("#SBATCH --ntasks=1\n");
    s.push_str(&format!(
        "#SBATCH --cpus-per-task={}\n",
        request.slurm.cpus_per_task.unwrap_or(1)
    ));
    if let Some(partition) = &request.slurm.partition {
        s.push_str(&format!("#SBATCH --partition={partition}\n"));
    }
    if let Some(gres) = &request.slurm.gres {
        s.push_str(&format!("#SBATCH --gres={gres}\n"));
    }
    if let Some(time) = &request.slurm.time {
        s.push_str(&format!("#SBATCH --time={time}\n"));
    }
    for extra in &request.slurm.sbatch {
        s.push_str(&format!("#SBATCH {extra}\n"));
    }
    s.push_str(&format!(
        "\n# Written by `cargo xtask zoo --slurm` (peephole-rs): task i of {tasks} trains the networks\n\
         # i, i+{tasks}, ... of 0..{count} under {protocol} into its own shard file. Resubmit with the\n\
         # same command after a failure (only missing ids train), then merge:\n\
         #   cargo xtask zoo-merge {out}\n\
         # Written by: {command}\n\n",
        tasks = request.tasks,
        count = request.count,
        protocol = request.protocol.name,
        out = quote_path(&request.out)?,
        command = env.command_line,
    ));
    s.push_str("set -euo pipefail\n\n");
    s.push_str("# The trainer and protocol this script was written with, pinned.\n");
    s.push_str(&format!("TRAINER={}\n", quote_path(&env.trainer.path)?));
    s.push_str(&format!("TRAINER_SHA256={}\n", env.trainer.sha256));
    s.push_str(&format!("PROTOCOL={}\n", request.protocol.name));
    s.push_str(&format!("TASKS={}\n", request.tasks));
    s.push_str(&format!("MERGED={}\n", quote_path(&request.out)?));
    s.push_str(&format!("SHARDS={}\n", quote_path(&shards)?));
    s.push_str(&format!(
        "export LD_LIBRARY_PATH={}\"${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}\"\n",
        quote_path(&env.libtorch)?
    ));
    s.push_str(&format!(
        "export PEEPHOLE_DATA_DIR={}\n\n",
        quote_path(&env.data_dir)?
    ));
    s.push_str("I=${SLURM_ARRAY_TASK_ID:?submit this script with sbatch: it is a job array}\n");
    s.push_str("printf -v SHARD '%s/shard-%03d-of-%03d.jsonl' \"$SHARDS\" \"$I\" \"$TASKS\"\n");
    s.push_str(
        "if ! echo \"$TRAINER_SHA256  $TRAINER\" | sha256sum --check --status; then\n\
         \x20 echo \"$TRAINER is not the trainer this script was written with (sha256 $TRAINER_SHA256)\" >&2\n\
         \x20 exit 2\n\
         fi\n",
    );
    s.push_str(
        "# Ids already merged count as trained, so a resubmission trains only missing ones.\n",
    );
    s.push_str("DONE_IN=()\n");
    s.push_str("if [[ -s $MERGED ]]; then DONE_IN=(--done-in \"$MERGED\"); fi\n");
    s.push_str(
        "echo \"task $I of $TASKS (job ${SLURM_ARRAY_JOB_ID:-?}_$I) on $(hostname): $PROTOCOL into $SHARD\"\n",
    );
    if is_gpu(request.slurm.gres.as_deref()) {
        s.push_str("echo \"CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-unset}\"\n");
    }
    let args = request
        .trainer_args
        .iter()
        .map(|a| shell_quote(a))
        .collect::<anyhow::Result<Vec<String>>>()?;
    s.push_str(&format!("exec \"$TRAINER\" zoo {}", args.join(" ")));
    if !request.has_threads {
        s.push_str(" --threads \"${SLURM_CPUS_PER_TASK:-1}\"");
    }
    s.push_str(" --shard \"$I/$TASKS\" --out \"$SHARD\" ${DONE_IN[@]+\"${DONE_IN[@]}\"}\n");
    Ok(s)
}

/// Builds the release trainer and returns its path.
pub fn build_trainer() -> anyhow::Result<PathBuf> {
    build_peephole_train(&["--release", "-p", "peephole-train"])
}

/// Builds `peephole-train` with cargo `options` and returns the executable's path, from
/// cargo's own report, so that it works with any `CARGO_TARGET_DIR`.
pub fn build_peephole_train(options: &[&str]) -> anyhow::Result<PathBuf> {
    eprintln!("$ cargo build {} --bin peephole-train", options.join(" "));
    let mut command = cargo();
    command
        .arg("build")
        .args(options)
        .args(["--bin", "peephole-train"]);
    trainer_built_by(command)
}

/// The `peephole-train` binary that `cargo test --no-run` with `options` and `env` builds for
/// the integration tests (after the tests ran, nothing compiles). `cargo test` and `cargo
/// build` unify features differently (dev-dependencies count only for the former), so a
/// `cargo build` after the tests compiles tract and tch a second time.
pub fn trainer_of_test_build(
    options: &[&str],
    env: &[(&str, &std::ffi::OsStr)],
) -> anyhow::Result<PathBuf> {
    eprintln!("$ cargo test --no-run {}", options.join(" "));
    let mut command = cargo();
    command.args(["test", "--no-run"]).args(options);
    for (key, value) in env {
        command.env(key, value);
    }
    trainer_built_by(command)
}

/// Runs a cargo build `command` with JSON messages and returns the path of the
/// `peephole-train` binary it reports (the binary itself, not its unit-test harness).
fn trainer_built_by(mut command: Command) -> anyhow::Result<PathBuf> {
    let stdout =
        process::read_stdout(command.args(["--message-format", "json-render-diagnostics"]))
            .context("building peephole-train failed")?;
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| {
            m["reason"] == "compiler-artifact"
                && m["target"]["name"] == "peephole-train"
                && m["profile"]["test"] == false
                && m["target"]["kind"]
                    .as_array()
                    .is_some_and(|kinds| kinds.iter().any(|kind| kind == "bin"))
        })
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .context("cargo built peephole-train but reported no executable")
}

fn sha256(path: &Path) -> anyhow::Result<String> {
    let text = process::read(Command::new("sha256sum").arg(path))?.stdout;
    text.split_whitespace()
        .next()
        .map(str::to_string)
        .context("sha256sum printed nothing")
}

/// Copies the trainer into `OUT.shards/bin/`, named by its hash, so that rebuilding the
/// workspace cannot change what a queued task runs.
pub fn pin_trainer(binary: &Path, out: &Path) -> anyhow::Result<PinnedTrainer> {
    let sha256 = sha256(binary)?;
    let dir = shards_dir(out).join("bin");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!("peephole-train-{}", &sha256[..16]));
    if !path.exists() || self::sha256(&path)? != sha256 {
        let partial = dir.join(format!(".peephole-train-{}.partial", std::process::id()));
        std::fs::copy(binary, &partial)
            .with_context(|| format!("copying {} to {}", binary.display(), partial.display()))?;
        if self::sha256(&partial)? != sha256 {
            let _ = std::fs::remove_file(&partial);
            bail!(
                "{} changed while it was copied (rebuilt?); run again",
                binary.display()
            );
        }
        std::fs::rename(&partial, &path)
            .with_context(|| format!("renaming to {}", path.display()))?;
    }
    Ok(PinnedTrainer { path, sha256 })
}

/// Runs Slurm's commands, with an explicit `slurm.conf` (the one-node test) or the
/// environment's.
#[derive(Debug, Clone, Default)]
pub struct SlurmClient {
    /// `SLURM_CONF` for every command, when set.
    pub conf: Option<PathBuf>,
}

impl SlurmClient {
    /// A Slurm command (`sbatch`, `squeue`, ...).
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new(program);
        if let Some(conf) = &self.conf {
            command.env("SLURM_CONF", conf);
        }
        command
    }

    /// Runs a command and returns its stdout, failing with its stderr.
    pub fn output(&self, program: &str, args: &[&str]) -> anyhow::Result<String> {
        Ok(process::read(self.command(program).args(args))?.stdout)
    }
}

/// A submitted job array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// Slurm's job id of the array.
    pub job_id: String,
}

/// What `cargo xtask zoo --slurm` wrote (and submitted).
#[derive(Debug, Clone)]
pub struct Written {
    /// The request it came from.
    pub request: ArrayRequest,
    /// The script.
    pub script: PathBuf,
    /// The trainer it pins.
    pub trainer: PinnedTrainer,
    /// The job, with `--submit`.
    pub submission: Option<Submission>,
}

fn default_data_dir() -> PathBuf {
    std::env::var_os("PEEPHOLE_DATA_DIR")
        .map(PathBuf::from)
        .filter(|d| d.join("train-images-idx3-ubyte.gz").exists())
        .unwrap_or_else(|| PathBuf::from(setup::SYSTEM_DATASET_DIR))
}

/// Writes the script of a zoo command line and, with `--submit`, submits it.
pub fn write_and_submit(args: &[String], client: &SlurmClient) -> anyhow::Result<Written> {
    let cwd = std::env::current_dir().context("no current directory")?;
    let request = parse(args, &cwd)?;
    let binary = match &request.slurm.trainer {
        Some(path) => path.clone(),
        None => {
            setup::run_setup(&setup::Args::default_python())?;
            build_trainer()?
        }
    };
    let trainer = pin_trainer(&binary, &request.out)?;
    let env = ScriptEnv {
        trainer: trainer.clone(),
        libtorch: request
            .slurm
            .libtorch
            .clone()
            .unwrap_or_else(|| setup::venv().join("libtorch/lib")),
        data_dir: request
            .slurm
            .data_dir
            .clone()
            .unwrap_or_else(default_data_dir),
        chdir: cwd,
        command_line: format!(
            "cargo xtask zoo {}",
            shlex::try_join(args.iter().map(String::as_str))
                .context("cannot quote the command line for the sbatch script")?
        ),
    };
    let shards = shards_dir(&request.out);
    std::fs::create_dir_all(shards.join("logs"))
        .with_context(|| format!("creating {}/logs", shards.display()))?;
    let script = request
        .slurm
        .script
        .clone()
        .unwrap_or_else(|| shards.join("zoo-array.sbatch"));
    std::fs::write(&script, script_text(&request, &env)?)
        .with_context(|| format!("writing {}", script.display()))?;
    let submission = if request.slurm.submit {
        let stdout = client.output("sbatch", &["--parsable", &script.to_string_lossy()])?;
        let job_id = stdout
            .trim()
            .split(';')
            .next()
            .unwrap_or_default()
            .to_string();
        if job_id.is_empty() {
            bail!("sbatch printed no job id");
        }
        Some(Submission { job_id })
    } else {
        None
    };
    Ok(Written {
        request,
        script,
        trainer,
        submission,
    })
}

/// Entry point of `cargo xtask zoo ... --slurm` (`args`: everything after `zoo`).
pub fn run(args: &[String]) -> anyhow::Result<()> {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        SlurmOptions::command().print_help()?;
        return Ok(());
    }
    let written = write_and_submit(args, &SlurmClient::default())?;
    let request = &written.request;
    let out = quote_path(&request.out)?;
    println!(
        "wrote {}: {} tasks, {} networks of {}, shards {}",
        written.script.display(),
        request.tasks,
        request.count,
        request.protocol.name,
        shard_file(&request.out, 0, request.tasks)
            .with_file_name("shard-*.jsonl")
            .display()
    );
    match &written.submission {
        Some(Submission { job_id }) => {
            println!("submitted job array {job_id}");
            println!(
                "  follow:  squeue -j {job_id}   (logs: {}/logs/)",
                shards_dir(&request.out).display()
            );
            println!("  cancel:  scancel {job_id}");
            println!("  then:    cargo xtask zoo-merge {out}");
            println!(
                "  a task failed or was cancelled? rerun this same command: it trains only the missing ids"
            );
        }
        None => println!("submit with: sbatch {}", quote_path(&written.script)?),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_string).collect()
    }

    fn env() -> ScriptEnv {
        ScriptEnv {
            trainer: PinnedTrainer {
                path: "/c/zoo.jsonl.shards/bin/peephole-train-0123".into(),
                sha256: "0123".into(),
            },
            libtorch: "/repo/.venv/libtorch/lib".into(),
            data_dir: "/usr/share/datasets/fashion-mnist".into(),
            chdir: "/c".into(),
            command_line: "cargo xtask zoo ...".into(),
        }
    }

    #[test]
    fn slurm_options_are_taken_and_every_other_zoo_argument_passes_through_verbatim() {
        let args = words(
            "--protocol fmnist-smoke-v1 --count 10 --slurm --array-size=4 --generator mix:0.5 --out zoo.jsonl --gres gpu:1 --submit --done-in a.jsonl b.jsonl",
        );
        let request = parse(&args, Path::new("/c")).expect("parses");
        assert_eq!(request.out, Path::new("/c/zoo.jsonl"));
        assert_eq!(request.tasks, 4);
        assert!(request.slurm.submit);
        assert_eq!(request.slurm.gres.as_deref(), Some("gpu:1"));
        assert_eq!(
            request.trainer_args,
            words(
                "--protocol fmnist-smoke-v1 --count 10 --generator mix:0.5 --done-in a.jsonl b.jsonl --device auto"
            )
        );
    }

    #[test]
    fn a_slurm_option_may_take_a_hyphenated_value_and_every_unknown_word_is_the_trainers() {
        let request = parse(
            &words("--count 2 --slurm --sbatch --account=lab --out z.jsonl --new-flag 3 --time=01:00:00"),
            Path::new("/c"),
        )
        .expect("parses");
        assert_eq!(request.slurm.sbatch, ["--account=lab"]);
        assert_eq!(request.slurm.time.as_deref(), Some("01:00:00"));
        assert_eq!(
            request.trainer_args,
            words("--count 2 --new-flag 3 --protocol fmnist-budget-v1 --device cpu")
        );
        assert!(
            parse(
                &words("--count 2 --out z.jsonl --slurm --array-size two"),
                Path::new("/c")
            )
            .is_err()
        );
    }

    #[test]
    fn the_script_pins_protocol_and_device_and_refuses_a_user_shard() {
        let request =
            parse(&words("--count 3 --out z.jsonl --slurm"), Path::new("/c")).expect("parses");
        assert_eq!(request.protocol.name, FMNIST_BUDGET_V1.name);
        assert_eq!(request.tasks, 3);
        assert!(
            request
                .trainer_args
                .ends_with(&words("--protocol fmnist-budget-v1 --device cpu"))
        );
        assert!(
            parse(
                &words("--count 3 --out z.jsonl --slurm --shard 0/2"),
                Path::new("/c")
            )
            .is_err()
        );
        assert!(
            parse(
                &words("--count 3 --out z.jsonl --slurm --array-size 4"),
                Path::new("/c")
            )
            .is_err()
        );
        assert!(
            parse(
                &words("--count 3 --out z.jsonl --slurm --device cuda"),
                Path::new("/c")
            )
            .is_err()
        );
        assert!(parse(&words("--count 3 --slurm"), Path::new("/c")).is_err());
    }

    #[test]
    fn each_task_trains_its_shard_into_its_own_file_with_the_merged_file_as_done() {
        let request = parse(
            &words("--protocol fmnist-smoke-v1 --count 8 --out zoo.jsonl --slurm --array-size 4 --partition gpu --gres gpu:1 --time 01:00:00"),
            Path::new("/c"),
        )
        .expect("parses");
        let text = script_text(&request, &env()).expect("plain words quote");
        for line in [
            "#SBATCH --array=0-3",
            "#SBATCH --partition=gpu",
            "#SBATCH --gres=gpu:1",
            "#SBATCH --time=01:00:00",
            "#SBATCH --output=/c/zoo.jsonl.shards/logs/task-%3a-job-%A.log",
            "TRAINER=/c/zoo.jsonl.shards/bin/peephole-train-0123",
            "PROTOCOL=fmnist-smoke-v1",
            "if [[ -s $MERGED ]]; then DONE_IN=(--done-in \"$MERGED\"); fi",
            "exec \"$TRAINER\" zoo --protocol fmnist-smoke-v1 --count 8 --device auto --threads \"${SLURM_CPUS_PER_TASK:-1}\" --shard \"$I/$TASKS\" --out \"$SHARD\" ${DONE_IN[@]+\"${DONE_IN[@]}\"}",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing line {line:?} in\n{text}"
            );
        }
    }

    /// The committed example of a GPU partition's script is what the writer writes (with
    /// illustrative paths and hash). Regenerate with `PEEPHOLE_BLESS=1 cargo test -p xtask`.
    #[test]
    fn the_committed_gpu_example_script_is_current() {
        let args = words(
            "--protocol fmnist-budget-v1 --count 1000 --seed 1 --out zoo/fmnist-budget-v1.jsonl --slurm --array-size 50 --partition gpu --gres gpu:1 --cpus-per-task 4 --time 02:00:00 --submit",
        );
        let request = parse(&args, Path::new("/shared/peephole")).expect("parses");
        let sha256 = "9c1f0e4b7a2d83561e0f4c2b9a7d6e5f3c1b0a9e8d7c6b5a4f3e2d1c0b9a8f7e".to_string();
        let env = ScriptEnv {
            trainer: PinnedTrainer {
                path: format!(
                    "/shared/peephole/zoo/fmnist-budget-v1.jsonl.shards/bin/peephole-train-{}",
                    &sha256[..16]
                )
                .into(),
                sha256,
            },
            libtorch: "/shared/peephole/.venv/libtorch/lib".into(),
            data_dir: "/shared/datasets/fashion-mnist".into(),
            chdir: "/shared/peephole".into(),
            command_line: format!("cargo xtask zoo {}", args.join(" ")),
        };
        let actual = script_text(&request, &env).expect("plain words quote");
        let path = crate::cargo::root().join("examples/slurm/zoo-gpu.sbatch");
        if std::env::var_os("PEEPHOLE_BLESS").is_some() {
            std::fs::create_dir_all(path.parent().expect("a folder")).expect("writable examples/");
            std::fs::write(&path, &actual).expect("writable example");
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            expected,
            actual,
            "{} is stale (run with PEEPHOLE_BLESS=1 if the change is intended)",
            path.display()
        );
    }

    #[test]
    fn shell_quote_leaves_plain_words_and_quotes_the_rest_so_bash_reads_them_back() {
        assert_eq!(shell_quote("--count").unwrap(), "--count");
        assert_eq!(shell_quote("a b").unwrap(), "'a b'");
        assert_eq!(shell_quote("").unwrap(), "''");
        for word in ["it's", "a b", "$HOME", "--sbatch=--x 'y'", "\\\"", ""] {
            let quoted = shell_quote(word).unwrap();
            assert_eq!(
                shlex::split(&quoted),
                Some(vec![word.to_string()]),
                "{quoted}"
            );
        }
        assert!(shell_quote("nul\0byte").is_err());
    }
}
