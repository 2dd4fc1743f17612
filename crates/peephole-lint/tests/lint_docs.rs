//! Each lint's declaration is true to its lint: the bad example in its module fires it and the
//! good one does not (through the same parse, lower and diagnose the macros and `cargo
//! peephole check` run, the predictor's lints on the embedded default model), and README's lint
//! table is the one the registry generates.

use peephole_lint::ast::Declaration;
use peephole_lint::check::{self, Mode};
use peephole_lint::lints::{self, Lint};
use peephole_lint::predict::ModelContext;

/// The names of every lint `source` (one declaration) fires under `peephole_check!`.
fn fired(source: &str) -> Vec<Lint> {
    let declaration: Declaration =
        syn::parse_str(source).unwrap_or_else(|e| panic!("{source}: {e}"));
    let mut found = Vec::new();
    for network in declaration.networks {
        let network = network.unwrap_or_else(|e| panic!("{source}: {e}"));
        let lowered = check::lower(&network, Mode::Check).unwrap_or_else(|e| panic!("{e}"));
        let warnings = check::diagnose(&lowered, Mode::Check, &ModelContext::default())
            .unwrap_or_else(|e| panic!("{source}: {e}"));
        found.extend(warnings.into_iter().map(|warning| warning.lint));
    }
    found
}

#[test]
fn every_lints_bad_example_fires_it_and_its_good_example_does_not() {
    for lint in Lint::ALL {
        let doc = lint.doc();
        assert!(
            fired(doc.bad).contains(&lint),
            "{}: the bad example does not fire it: {}",
            doc.name,
            doc.bad
        );
        assert!(
            !fired(doc.good).contains(&lint),
            "{}: the good example fires it: {}",
            doc.name,
            doc.good
        );
    }
}

#[test]
fn every_lint_is_explained_in_full_sentences_with_examples() {
    for lint in Lint::ALL {
        let doc = lint.doc();
        assert_eq!(Lint::from_name(doc.name), Some(lint));
        assert!(
            !doc.summary.ends_with('.'),
            "{}: a summary is a phrase",
            doc.name
        );
        assert!(
            doc.explanation.len() > 2 * doc.summary.len() && doc.explanation.ends_with('.'),
            "{}: the explanation says more than the summary, in sentences",
            doc.name
        );
        assert_ne!(doc.bad, doc.good, "{}", doc.name);
    }
}

#[test]
fn readme_lint_table_is_the_registrys() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let readme = std::fs::read_to_string(&path).expect("README.md reads");
    let (start, end) = ("<!-- lints:start -->\n", "<!-- lints:end -->");
    let from = readme
        .find(start)
        .expect("README has the lints:start marker")
        + start.len();
    let to = readme[from..]
        .find(end)
        .expect("README has the lints:end marker")
        + from;
    assert_eq!(
        &readme[from..to],
        lints::markdown_table(),
        "README's lint table is stale: run `cargo xtask lint-table`"
    );
}
