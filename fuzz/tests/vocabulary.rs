//! The text target's dictionary speaks the layer vocabulary: every kind's word is a token the
//! mutator inserts, and no word-like token names a layer the vocabulary does not have, so
//! adding or renaming a layer cannot leave the fuzzer on the old words.

use peephole_fuzz::TARGETS;
use peephole_ir::VOCABULARY;

/// Tokens of the text form that are syntax, not layers.
const SYNTAX_WORDS: [&str; 3] = ["x", "same", "valid"];

#[test]
fn the_text_targets_dictionary_holds_every_layer_word_and_no_other() {
    let text = TARGETS
        .iter()
        .find(|target| target.name == "text")
        .expect("a text target");
    let tokens: Vec<&str> = text
        .dictionary
        .iter()
        .filter_map(|token| std::str::from_utf8(token).ok())
        .map(|token| token.trim().trim_start_matches('@'))
        .collect();
    for row in VOCABULARY {
        assert!(
            tokens.contains(&row.word),
            "the text dictionary lacks `{}`",
            row.word
        );
    }
    for token in tokens
        .iter()
        .filter(|token| !token.is_empty() && token.chars().all(|c| c.is_ascii_alphabetic()))
    {
        assert!(
            SYNTAX_WORDS.contains(token) || VOCABULARY.iter().any(|row| row.word == *token),
            "the text dictionary's `{token}` is no layer word and no syntax"
        );
    }
}
