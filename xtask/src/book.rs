//! `cargo xtask book`: renders the tables of README.md and the book (`docs/book/`) that come
//! from committed files (evaluation reports, the zoo-size table) between marker comments, so
//! that no number a committed file holds is typed by hand; `--check` fails when a committed
//! page differs from what it would write (CI runs it through `cargo xtask test`).
//!
//! A block is the text between `<!-- generated:NAME:start -->` and `<!-- generated:NAME:end -->`
//! on one page; [`BLOCKS`] lists every block, its page, and what it is rendered from. A marker
//! that [`BLOCKS`] does not list is an error, so a block is never left behind unchecked.
//! Renderers of evaluation reports are `peephole_eval`'s ([`markdown`], [`summary_markdown`]),
//! the ones `cargo xtask eval` prints with.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, bail, ensure};
use peephole_baselines::Scale;
use serde::Deserialize;

use peephole_eval::markdown::{markdown, summary_markdown};
use peephole_eval::report::Report;

use crate::cargo;
use crate::eval::plot::ZooSizeCurve;

/// Options of `book`.
#[derive(clap::Args)]
pub struct Args {
    /// Write nothing; fail when a page's generated blocks differ from what would be written.
    #[arg(long)]
    check: bool,
}

/// Pages that may hold generated blocks, relative to the workspace root: README.md and every
/// Markdown file of the book.
const BOOK_DIR: &str = "docs/book";

/// What a block is rendered from.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// Peephole's row of every slice of an evaluation report ([`summary_markdown`]).
    Summary(&'static str),
    /// Every slice of an evaluation report in full, as `cargo xtask eval` prints it
    /// ([`markdown`]).
    Evaluation(&'static str),
    /// A zoo-size table (`cargo xtask zoo-size-figure` draws the same file).
    ZooSize(&'static str),
    /// The old protocol's Table 3: pre-v2 evaluation reports and a model card's metrics.
    OldProtocolTable3,
    /// The list of every generated block (the book's index).
    Index,
}

impl Source {
    /// The committed files it reads, relative to the workspace root.
    fn files(self) -> Vec<&'static str> {
        match self {
            Source::Summary(f) | Source::Evaluation(f) | Source::ZooSize(f) => vec![f],
            Source::OldProtocolTable3 => vec![OLD_DEFAULT_EVAL, OLD_CURVE_250_CARD, OLD_FINAL_EVAL],
            Source::Index => vec![],
        }
    }
}

/// One generated block.
#[derive(Debug, Clone, Copy)]
struct Block {
    /// The page, relative to the workspace root.
    page: &'static str,
    /// The marker's name.
    name: &'static str,
    /// What it is rendered from.
    source: Source,
}

/// The current default's one test evaluation.
const CURRENT_EVAL: &str = "docs/eval/features-v1-g375/eval.json";

/// The old protocol's files: the default's report then (both zoo files, 328 training
/// networks), the final-supervised model's report, and the 250-network curve model's card,
/// whose metrics are on the same 77 held-out networks.
const OLD_DEFAULT_EVAL: &str = "docs/eval/eval.json";
const OLD_FINAL_EVAL: &str = "docs/eval/final-supervision-eval.json";
const OLD_CURVE_250_CARD: &str = "docs/eval/curve-250.card.json";

/// Every generated block of README.md and the book.
const BLOCKS: &[Block] = &[
    Block {
        page: "README.md",
        name: "summary-features-v1v2-g375",
        source: Source::Summary(CURRENT_EVAL),
    },
    Block {
        page: "docs/book/README.md",
        name: "index",
        source: Source::Index,
    },
    Block {
        page: "docs/book/evaluation.md",
        name: "summary-features-v1v2-g375",
        source: Source::Summary(CURRENT_EVAL),
    },
    Block {
        page: "docs/book/evaluation.md",
        name: "eval-features-v1v2-g375",
        source: Source::Evaluation(CURRENT_EVAL),
    },
    Block {
        page: "docs/book/evaluation-history.md",
        name: "eval-ulc-v1v2",
        source: Source::Evaluation("docs/eval/v2/eval.json"),
    },
    Block {
        page: "docs/book/evaluation-history.md",
        name: "zoo-size-features-v1",
        source: Source::ZooSize("docs/eval/features-v1/zoo-size.json"),
    },
    Block {
        page: "docs/book/evaluation-history.md",
        name: "old-protocol-table3",
        source: Source::OldProtocolTable3,
    },
];

/// Entry point of `cargo xtask book`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let root = cargo::root();
    let stale = render_all(&root, !args.check)?;
    if args.check {
        check_result(&stale)
    } else {
        if stale.is_empty() {
            println!("book: every generated table is current");
        }
        for page in &stale {
            println!("wrote {page}");
        }
        Ok(())
    }
}

/// `cargo xtask book --check`, for `cargo xtask test`.
pub fn check() -> anyhow::Result<()> {
    check_result(&render_all(&cargo::root(), false)?)
}

/// An error naming the pages whose generated text is stale, if any.
fn check_result(stale: &[String]) -> anyhow::Result<()> {
    ensure!(
        stale.is_empty(),
        "generated tables differ from their sources in {}; run `cargo xtask book` and commit the result",
        stale.join(", ")
    );
    println!("book: every generated table is current");
    Ok(())
}

/// Renders every block of the pages under `root`; writes the pages that changed when
/// `write`, and returns them (relative paths) either way.
fn render_all(root: &Path, write: bool) -> anyhow::Result<Vec<String>> {
    // Everything is rendered before anything is written, so an error leaves every page as it was.
    let mut changed = Vec::new();
    for page in pages(root)? {
        let path = root.join(&page);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let blocks: Vec<&Block> = BLOCKS.iter().filter(|b| b.page == page).collect();
        check_markers(&page, &text, &blocks)?;
        let mut new = text.clone();
        for block in blocks {
            let body = render(root, block)?;
            new = splice(&new, block.name, &body).with_context(|| format!("in {page}"))?;
        }
        if new != text {
            changed.push((page, path, new));
        }
    }
    let mut stale = Vec::new();
    for (page, path, new) in changed {
        if write {
            std::fs::write(&path, new).with_context(|| format!("writing {}", path.display()))?;
        }
        stale.push(page);
    }
    Ok(stale)
}

/// README.md and the book's pages, relative to `root`, sorted; every page a block names must
/// be among them.
fn pages(root: &Path) -> anyhow::Result<Vec<String>> {
    let mut pages = BTreeSet::from(["README.md".to_string()]);
    let dir = root.join(BOOK_DIR);
    for entry in
        std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?
    {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".md") {
            pages.insert(format!("{BOOK_DIR}/{name}"));
        }
    }
    for block in BLOCKS {
        ensure!(
            pages.contains(block.page),
            "block `{}`: page {} does not exist",
            block.name,
            block.page
        );
    }
    Ok(pages.into_iter().collect())
}

/// Which end of a block a marker line opens or closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Start,
    End,
}

/// A marker: a line that holds `<!-- generated:NAME:start -->` or `...:end -->` and nothing
/// else (a marker quoted in prose or code is not one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Marker<'a> {
    /// The block's name.
    name: &'a str,
    /// Start or end.
    end: End,
    /// Byte range of the line, without its newline.
    line: (usize, usize),
}

/// Every marker line of `text`, in order.
fn marker_lines(text: &str) -> Vec<Marker<'_>> {
    let mut out = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let content = line.trim_end_matches(['\n', '\r']);
        let inner = content
            .trim()
            .strip_prefix("<!-- generated:")
            .and_then(|rest| rest.strip_suffix(" -->"));
        if let Some(inner) = inner {
            let parsed = inner
                .strip_suffix(":start")
                .map(|name| (name, End::Start))
                .or_else(|| inner.strip_suffix(":end").map(|name| (name, End::End)));
            if let Some((name, end)) = parsed {
                out.push(Marker {
                    name,
                    end,
                    line: (offset, offset + content.len()),
                });
            }
        }
        offset += line.len();
    }
    out
}

/// Every marker on `page` belongs to a listed block.
fn check_markers(page: &str, text: &str, blocks: &[&Block]) -> anyhow::Result<()> {
    let listed: BTreeSet<&str> = blocks.iter().map(|b| b.name).collect();
    for marker in marker_lines(text) {
        ensure!(
            listed.contains(marker.name),
            "{page}: a generated block `{}` that xtask/src/book.rs does not list",
            marker.name
        );
    }
    Ok(())
}

/// `text` with the lines between block `name`'s markers replaced by `body` (blank lines
/// around it, so Markdown reads the table as its own block).
fn splice(text: &str, name: &str, body: &str) -> anyhow::Result<String> {
    let markers = marker_lines(text);
    let find = |end: End| -> Vec<Marker<'_>> {
        markers
            .iter()
            .filter(|m| m.name == name && m.end == end)
            .copied()
            .collect()
    };
    let (starts, ends) = (find(End::Start), find(End::End));
    let ([start], [end]) = (starts.as_slice(), ends.as_slice()) else {
        bail!(
            "block `{name}` needs exactly one line `<!-- generated:{name}:start -->` and one `<!-- generated:{name}:end -->` (found {} and {})",
            starts.len(),
            ends.len()
        );
    };
    ensure!(
        start.line.1 <= end.line.0,
        "block `{name}`: the end marker comes before the start marker"
    );
    let before = &text[..start.line.1];
    let after = &text[end.line.0..];
    Ok(format!("{before}\n\n{}\n\n{after}", body.trim_end()))
}

/// A block's text: the table and a line naming the files it was rendered from, linked
/// relative to the block's page.
fn render(root: &Path, block: &Block) -> anyhow::Result<String> {
    let body = match block.source {
        Source::Summary(report) => summary_markdown(&Report::read(&root.join(report))?),
        Source::Evaluation(report) => markdown(&Report::read(&root.join(report))?),
        Source::ZooSize(table) => zoo_size_markdown(&ZooSizeCurve::read(&root.join(table))?),
        Source::OldProtocolTable3 => old_protocol_table3(root)?,
        Source::Index => index_markdown(BOOK_DIR),
    };
    let sources = block.source.files();
    let mut out = body.trim_end().to_string();
    if !sources.is_empty() {
        let links: Vec<String> = sources
            .iter()
            .map(|s| format!("[`{s}`]({})", relative_link(block.page, s)))
            .collect();
        let _ = write!(
            out,
            "\n\n(Rendered by `cargo xtask book` from {}.)",
            links.join(", ")
        );
    }
    Ok(out)
}

/// A link from `page` to `target`, both relative to the workspace root.
fn relative_link(page: &str, target: &str) -> String {
    let from: Vec<&str> = Path::new(page)
        .parent()
        .map(|p| p.iter().filter_map(|c| c.to_str()).collect())
        .unwrap_or_default();
    let to: Vec<&str> = target.split('/').collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; from.len() - common];
    parts.extend(&to[common..]);
    parts.join("/")
}

/// The zoo-size table: validation tau per slice against the training networks a fit saw.
fn zoo_size_markdown(curve: &ZooSizeCurve) -> String {
    let mut out = String::new();
    let largest = curve
        .points
        .iter()
        .map(|p| p.training_networks)
        .max()
        .unwrap_or(1)
        .max(1);
    let _ = write!(out, "| training networks |");
    for slice in &curve.slices {
        let _ = write!(out, " validation tau, {slice} |");
    }
    let _ = write!(out, "\n|---:|");
    for _ in &curve.slices {
        let _ = write!(out, "---:|");
    }
    let _ = writeln!(out);
    for point in &curve.points {
        let share = 100.0 * point.training_networks as f64 / largest as f64;
        let _ = write!(out, "| {} ({share:.0}%) |", point.training_networks);
        for tau in &point.tau {
            let _ = write!(out, " {tau:.3} |");
        }
        let _ = writeln!(out);
    }
    out
}

/// One method of a pre-v2 evaluation report: bare numbers on the card's held-out networks.
#[derive(Debug, Deserialize)]
struct OldMethod {
    id: String,
    label: String,
    scale: Scale,
    mse: Option<f64>,
    kendall_tau: Option<f64>,
    r2: Option<f64>,
    spearman: Option<f64>,
    n: usize,
}

/// A pre-v2 evaluation report (`docs/eval/eval.json` and its kind), the part the table reads.
#[derive(Debug, Deserialize)]
struct OldReport {
    methods: Vec<OldMethod>,
}

/// A model card's own metrics on its held-out networks.
#[derive(Debug, Deserialize)]
struct CardMetrics {
    metrics: Vec<CardMetric>,
}

/// One method's metrics in a card.
#[derive(Debug, Deserialize)]
struct CardMetric {
    method: String,
    report: OldNumbers,
}

/// Bare metrics.
#[derive(Debug, Deserialize)]
struct OldNumbers {
    mse: Option<f64>,
    kendall_tau: Option<f64>,
    r2: Option<f64>,
    spearman: Option<f64>,
    n: usize,
}

/// Reads a JSON file into `T`, naming the file in errors.
fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("cannot parse {}", path.display()))
}

/// The old protocol's Table 3: every method of the default's report then, with its Peephole
/// row named for what it was, then the two earlier defaults on the same 77 networks.
fn old_protocol_table3(root: &Path) -> anyhow::Result<String> {
    let default: OldReport = read_json(&root.join(OLD_DEFAULT_EVAL))?;
    let final_supervision: OldReport = read_json(&root.join(OLD_FINAL_EVAL))?;
    let curve_250: CardMetrics = read_json(&root.join(OLD_CURVE_250_CARD))?;
    let peephole_of = |report: &OldReport, file: &str| -> anyhow::Result<OldNumbers> {
        let m = report
            .methods
            .iter()
            .find(|m| m.id == "peephole")
            .with_context(|| format!("{file}: no peephole method"))?;
        Ok(OldNumbers {
            mse: m.mse,
            kendall_tau: m.kendall_tau,
            r2: m.r2,
            spearman: m.spearman,
            n: m.n,
        })
    };
    let mut rows: Vec<(String, Scale, OldNumbers)> = Vec::new();
    for m in &default.methods {
        let label = if m.id == "peephole" {
            "Peephole, curve supervision, 328 training networks (the default then)".to_string()
        } else {
            m.label.clone()
        };
        rows.push((
            label,
            m.scale,
            OldNumbers {
                mse: m.mse,
                kendall_tau: m.kendall_tau,
                r2: m.r2,
                spearman: m.spearman,
                n: m.n,
            },
        ));
    }
    let card = curve_250
        .metrics
        .into_iter()
        .find(|m| m.method == "peephole")
        .with_context(|| format!("{OLD_CURVE_250_CARD}: no peephole metrics"))?;
    rows.push((
        "Peephole, curve supervision, 250 training networks".into(),
        Scale::Accuracy,
        card.report,
    ));
    rows.push((
        "Peephole, final-epoch supervision (the paper), 250".into(),
        Scale::Accuracy,
        peephole_of(&final_supervision, OLD_FINAL_EVAL)?,
    ));
    let cell = |value: Option<f64>, digits: usize, scale: Scale| match (value, scale) {
        (Some(v), _) => format!("{v:.digits$}"),
        (None, Scale::RankOnly) => "n/a (ranker)".into(),
        (None, Scale::Accuracy) => "undefined".into(),
    };
    let mut out = String::new();
    let _ = writeln!(out, "| method | MSE | Kendall tau | R^2 | Spearman | n |");
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|");
    for (label, scale, m) in rows {
        let _ = writeln!(
            out,
            "| {label} | {} | {} | {} | {} | {} |",
            cell(m.mse, 5, scale),
            cell(m.kendall_tau, 3, Scale::Accuracy),
            cell(m.r2, 3, scale),
            cell(m.spearman, 3, Scale::Accuracy),
            m.n
        );
    }
    Ok(out)
}

/// Every generated block, for the book's index (links relative to `index_dir`).
fn index_markdown(index_dir: &str) -> String {
    let page = format!("{index_dir}/README.md");
    let link = |target: &str| format!("[`{target}`]({})", relative_link(&page, target));
    let mut out = String::new();
    let _ = writeln!(out, "| page | block | rendered from |");
    let _ = writeln!(out, "|---|---|---|");
    for block in BLOCKS {
        let files = block.source.files();
        let from = if files.is_empty() {
            "the list of blocks in `xtask/src/book.rs`".to_string()
        } else {
            files.into_iter().map(link).collect::<Vec<_>>().join(", ")
        };
        let _ = writeln!(out, "| {} | `{}` | {from} |", link(block.page), block.name);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_replaces_only_the_text_between_the_markers() {
        let text = "a\n<!-- generated:t:start -->\nold\n<!-- generated:t:end -->\nb\n";
        let new = splice(text, "t", "| x |\n").unwrap();
        assert_eq!(
            new,
            "a\n<!-- generated:t:start -->\n\n| x |\n\n<!-- generated:t:end -->\nb\n"
        );
        // Idempotent: splicing the same body again changes nothing.
        assert_eq!(splice(&new, "t", "| x |\n").unwrap(), new);
    }

    #[test]
    fn a_missing_doubled_reversed_or_quoted_marker_is_an_error() {
        assert!(splice("no markers", "t", "x").is_err());
        let doubled =
            "<!-- generated:t:start -->\n<!-- generated:t:start -->\n<!-- generated:t:end -->\n";
        assert!(splice(doubled, "t", "x").is_err());
        let reversed = "<!-- generated:t:end -->\n<!-- generated:t:start -->\n";
        assert!(splice(reversed, "t", "x").is_err());
        // A marker quoted in prose is not a marker.
        let quoted = "write `<!-- generated:t:start -->` on a line of its own\n";
        assert!(splice(quoted, "t", "x").is_err());
    }

    #[test]
    fn a_marker_no_block_lists_is_an_error() {
        let block = Block {
            page: "p.md",
            name: "known",
            source: Source::Index,
        };
        let text = "<!-- generated:known:start -->\n<!-- generated:known:end -->\n";
        assert!(check_markers("p.md", text, &[&block]).is_ok());
        let text = "<!-- generated:stray:start -->\n<!-- generated:stray:end -->\n";
        assert!(check_markers("p.md", text, &[&block]).is_err());
        let text = "`<!-- generated:NAME:start -->` in prose\n";
        assert!(check_markers("p.md", text, &[&block]).is_ok());
    }

    #[test]
    fn links_are_relative_to_the_page() {
        assert_eq!(
            relative_link("README.md", "docs/eval/eval.json"),
            "docs/eval/eval.json"
        );
        assert_eq!(
            relative_link("docs/book/evaluation.md", "docs/eval/v2/eval.json"),
            "../eval/v2/eval.json"
        );
        assert_eq!(
            relative_link("docs/book/README.md", "docs/book/zoo.md"),
            "zoo.md"
        );
        assert_eq!(
            relative_link("docs/book/README.md", "README.md"),
            "../../README.md"
        );
    }

    #[test]
    fn every_block_names_a_distinct_marker_on_its_page_and_every_source_is_committed() {
        let mut seen = BTreeSet::new();
        for block in BLOCKS {
            assert!(
                seen.insert((block.page, block.name)),
                "{} {}",
                block.page,
                block.name
            );
        }
        let root = cargo::root();
        for file in BLOCKS.iter().flat_map(|b| b.source.files()) {
            assert!(root.join(file).is_file(), "{file}");
        }
    }

    #[test]
    fn the_committed_pages_are_current() {
        assert_eq!(
            render_all(&cargo::root(), false).unwrap(),
            Vec::<String>::new()
        );
    }
}
