//! Every relative link of README.md and of the book (`docs/book/*.md`) resolves: the file or
//! folder it names exists, and an `#anchor` names a heading of the page it points to (GitHub's
//! slugs: lower case, punctuation dropped, spaces to hyphens, `-1`, `-2` for repeats). Links
//! to other sites are not followed (the tests run offline).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use peephole_tests::workspace_root;

/// README.md and every page of the book, relative to the workspace root.
fn pages() -> Vec<PathBuf> {
    let root = workspace_root();
    let mut pages = vec![PathBuf::from("README.md")];
    let book = root.join("docs/book");
    let mut chapters: Vec<PathBuf> = std::fs::read_dir(&book)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", book.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "md"))
        .map(|path| {
            path.strip_prefix(&root)
                .expect("under the root")
                .to_path_buf()
        })
        .collect();
    chapters.sort();
    pages.extend(chapters);
    pages
}

/// The lines of `text` outside fenced code blocks, with their 1-based numbers.
fn prose_lines(text: &str) -> Vec<(usize, &str)> {
    let mut fenced = false;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            out.push((i + 1, line));
        }
    }
    out
}

/// The targets of the inline links and images on `line` (`[text](target)`, `![alt](target)`)
/// and of a reference definition (`[name]: target`). Link text may itself hold code spans with
/// brackets, so the text is matched by bracket depth on the line with code spans kept.
fn link_targets(line: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let trimmed = line.trim_start();
    if trimmed.starts_with('[')
        && let Some(end) = trimmed.find(']')
        && trimmed[end..].starts_with("]:")
    {
        let target = trimmed[end + 2..]
            .split_whitespace()
            .next()
            .unwrap_or_default();
        if !target.is_empty() {
            targets.push(target.to_string());
        }
    }
    let bytes = line.as_bytes();
    let mut i = 0;
    let mut in_code = false;
    while i < bytes.len() {
        match bytes[i] {
            b'`' => in_code = !in_code,
            b']' if !in_code && bytes.get(i + 1) == Some(&b'(') => {
                let start = i + 2;
                let mut depth = 1;
                let mut j = start;
                while j < bytes.len() {
                    match bytes[j] {
                        b'(' => depth += 1,
                        b')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    j += 1;
                }
                if j < bytes.len() {
                    // `(target "title")`: the target is the first word.
                    let inside = &line[start..j];
                    let target = inside.split_whitespace().next().unwrap_or_default();
                    targets.push(target.trim_matches(['<', '>']).to_string());
                    i = j;
                }
            }
            _ => {}
        }
        i += 1;
    }
    targets
}

/// GitHub's anchor for a heading's text: the rendered text (code spans, emphasis and links
/// reduced to their words) in lower case, every character that is not a letter, a digit, a
/// space, a hyphen or an underscore dropped, spaces turned into hyphens.
fn slug(heading: &str) -> String {
    let mut text = String::new();
    // `[words](target)` renders as `words`.
    let mut rest = heading;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find("](").map(|c| open + c) else {
            break;
        };
        let Some(end) = rest[close..].find(')').map(|e| close + e) else {
            break;
        };
        text.push_str(&rest[..open]);
        text.push_str(&rest[open + 1..close]);
        rest = &rest[end + 1..];
    }
    text.push_str(rest);
    text.to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// Every anchor of a Markdown page: its headings' slugs, a repeated slug numbered as GitHub
/// numbers it.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (_, line) in prose_lines(text) {
        let hashes = line.chars().take_while(|&c| c == '#').count();
        if !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let heading = line[hashes..].trim().trim_end_matches('#').trim();
        let base = slug(heading);
        let mut candidate = base.clone();
        let mut n = 0;
        while out.contains(&candidate) {
            n += 1;
            candidate = format!("{base}-{n}");
        }
        out.insert(candidate);
    }
    out
}

/// What is wrong with `target`, a link on page `page` (relative to `root`), if anything.
fn broken(root: &Path, page: &Path, target: &str) -> Option<String> {
    if target.contains("://") || target.starts_with("mailto:") {
        return None;
    }
    let (path, anchor) = match target.split_once('#') {
        Some((path, anchor)) => (path, Some(anchor)),
        None => (target, None),
    };
    let file = if path.is_empty() {
        root.join(page)
    } else if let Some(absolute) = path.strip_prefix('/') {
        root.join(absolute)
    } else {
        root.join(page)
            .parent()
            .expect("a page has a folder")
            .join(path)
    };
    if !file.exists() {
        return Some(format!("{} does not exist", file.display()));
    }
    let anchor = anchor?;
    if file.extension().is_none_or(|e| e != "md") {
        return Some(format!(
            "#{anchor} on {}, which is not a Markdown page",
            file.display()
        ));
    }
    let text = std::fs::read_to_string(&file).ok()?;
    let anchors = anchors(&text);
    (!anchors.contains(anchor)).then(|| {
        format!(
            "{} has no heading with anchor #{anchor} (its anchors: {})",
            file.display(),
            anchors.into_iter().collect::<Vec<_>>().join(", ")
        )
    })
}

#[test]
fn every_relative_link_of_readme_and_the_book_resolves() {
    let root = workspace_root();
    let pages = pages();
    assert!(
        pages.len() > 1,
        "the book has no pages under docs/book: {pages:?}"
    );
    let mut problems = Vec::new();
    let mut checked = 0;
    for page in &pages {
        let text = std::fs::read_to_string(root.join(page))
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", page.display()));
        for (number, line) in prose_lines(&text) {
            for target in link_targets(line) {
                checked += 1;
                if let Some(problem) = broken(&root, page, &target) {
                    problems.push(format!(
                        "{}:{number}: ({target}): {problem}",
                        page.display()
                    ));
                }
            }
        }
    }
    assert!(
        checked > 0,
        "no links found at all: the link parser is broken"
    );
    assert!(
        problems.is_empty(),
        "{} broken link(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn the_readme_and_every_chapter_are_reachable_from_the_book_index() {
    let root = workspace_root();
    let index = std::fs::read_to_string(root.join("docs/book/README.md"))
        .expect("docs/book/README.md, the book's index");
    let linked: BTreeSet<String> = prose_lines(&index)
        .into_iter()
        .flat_map(|(_, line)| link_targets(line))
        .map(|t| t.split('#').next().unwrap_or_default().to_string())
        .collect();
    for page in pages() {
        let Ok(chapter) = page.strip_prefix("docs/book") else {
            continue;
        };
        let chapter = chapter.to_string_lossy();
        if chapter != "README.md" {
            assert!(
                linked.contains(chapter.as_ref()),
                "docs/book/README.md does not link the chapter {chapter}"
            );
        }
    }
}

#[test]
fn slugs_follow_github() {
    assert_eq!(
        slug("`cargo peephole`: the verdict without a build"),
        "cargo-peephole-the-verdict-without-a-build"
    );
    assert_eq!(
        slug("Old protocol: the default card's 77 held-out networks"),
        "old-protocol-the-default-cards-77-held-out-networks"
    );
    assert_eq!(
        slug("What `peephole_check!` adds to a build"),
        "what-peephole_check-adds-to-a-build"
    );
    assert_eq!(
        slug("2026-12-01: layer features (`layer-features-v1`) and predictor format v2"),
        "2026-12-01-layer-features-layer-features-v1-and-predictor-format-v2"
    );
    let repeated = anchors("# A\n## B\n```\n# not a heading\n```\n### B\n");
    assert_eq!(
        repeated,
        BTreeSet::from(["a".to_string(), "b".to_string(), "b-1".to_string()])
    );
}

#[test]
fn links_in_code_are_not_links() {
    assert_eq!(
        link_targets("see [the book](docs/book/README.md) and ![fig](a.png)"),
        vec!["docs/book/README.md", "a.png"]
    );
    assert!(link_targets("`[not](a link)`").is_empty());
    assert_eq!(
        link_targets("[`crates/x`](crates/x) (`a](b)`)"),
        vec!["crates/x"]
    );
}
