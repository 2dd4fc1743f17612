//! The text-form parser (`[1x28x28] conv3x3:16 relu -> 10`, blocks `conv3x3*1.5 bn relu`),
//! which reads command lines, zoo records and messages.

use std::time::Duration;

use peephole_ir::text::{TextError, parse_network};
use peephole_zoo::generator::Skeleton;
use peephole_zoo::generator::parse_block;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::{MIB, Target, class, layers};

/// See the module documentation.
pub const TARGET: Target = Target {
    name: "text",
    about: "text-form parser of networks and blocks: never panics, errors point inside the line, accepted lines print back to themselves, parsed networks go through lowering",
    run,
    seeds,
    mutate: Some(mutate),
    dictionary: DICTIONARY,
    max_len: 512,
    timeout: Duration::from_secs(5),
    allocation_limit: 64 * MIB,
};

const DICTIONARY: &[&[u8]] = &[
    b"[",
    b"]",
    b"x",
    b"->",
    b" -> ",
    b":",
    b"*",
    b"/",
    b"@same",
    b"@valid",
    b"conv",
    b"maxpool",
    b"avgpool",
    b"relu",
    b"sigmoid",
    b"tanh",
    b"bn",
    b" ",
    b"\t",
    b"\xc3\xa9",
    b"\xe2\x80\x83",
    b"1.5",
    b"0.25",
    b".",
];

/// Words a random line is made of; numbers are filled in by [`word`].
const SHAPES: [&str; 12] = [
    "conv{k}x{k}:{n}",
    "conv{k}:{n}/{s}",
    "conv{k}x{k}*{r}",
    "maxpool{k}x{k}",
    "maxpool{k}/{s}@same",
    "avgpool{k}x{k}/{s}@valid",
    "relu",
    "sigmoid",
    "tanh",
    "bn",
    "conv{k}x{k}:{n}@valid",
    "avgpool{k}",
];

fn seeds() -> Vec<Vec<u8>> {
    [
        "[1x28x28] conv3x3:16 bn relu maxpool2x2/2 conv5x5:24 tanh -> 10",
        "[3x32x32] conv3:16/2@same avgpool3x3@valid -> 10",
        "conv3x3*1.5 bn relu maxpool3x3",
        "[1x1x1] -> 1",
        "conv1x1*0.25 avgpool5x5 sigmoid",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

fn number(rng: &mut ChaCha8Rng) -> String {
    match rng.random_range(0..10) {
        0 => ["0", "4294967295", "4294967296", "99999999999999999999", ""][rng.random_range(0..5)]
            .to_string(),
        1 => rng.random::<u32>().to_string(),
        _ => rng.random_range(1..40u32).to_string(),
    }
}

fn word(rng: &mut ChaCha8Rng) -> String {
    let shape = SHAPES[rng.random_range(0..SHAPES.len())];
    let ratio = [
        "0.25",
        "0.5",
        "0.75",
        "1",
        "1.5",
        "2",
        "2.5",
        "3",
        "1.25",
        "0",
        "1.",
        "..",
        "3.0000001",
    ];
    let mut out = String::new();
    let mut rest = shape;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = open + rest[open..].find('}').unwrap_or(0);
        match &rest[open + 1..close] {
            "r" => out.push_str(ratio[rng.random_range(0..ratio.len())]),
            _ => out.push_str(&number(rng)),
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// Edits whole words: random well-formed and nearly well-formed lines reach the deep checks
/// (shapes, round trips) far more often than byte noise does.
fn mutate(rng: &mut ChaCha8Rng, input: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(input);
    let mut words: Vec<String> = text.split_whitespace().map(str::to_string).collect();
    match rng.random_range(0..5) {
        0 => {
            let layers: Vec<String> = (0..rng.random_range(0..12)).map(|_| word(rng)).collect();
            words = vec![format!("[{}x{}x{}]", number(rng), number(rng), number(rng))];
            words.extend(layers);
            words.push("->".into());
            words.push(number(rng));
        }
        1 => words = (0..rng.random_range(1..10)).map(|_| word(rng)).collect(),
        2 => {
            let at = if words.is_empty() {
                0
            } else {
                rng.random_range(0..=words.len())
            };
            words.insert(at, word(rng));
        }
        3 if !words.is_empty() => {
            let at = rng.random_range(0..words.len());
            words[at] = word(rng);
        }
        _ if !words.is_empty() => {
            let at = rng.random_range(0..words.len());
            words.remove(at);
        }
        _ => {}
    }
    words.join(" ").into_bytes()
}

fn check_error(source: &str, error: &TextError) -> String {
    let columns = source.chars().count();
    assert!(
        (1..=columns + 1).contains(&error.column),
        "error column {} is outside the {columns}-character line {source:?}: {error}",
        error.column
    );
    error.render(source);
    class(&error.message)
}

fn run(data: &[u8]) -> String {
    let source = String::from_utf8_lossy(data);
    let network = match parse_network(&source) {
        Ok(network) => {
            let printed = network.to_string();
            match parse_network(&printed) {
                Ok(again) => assert_eq!(
                    again, network,
                    "{source:?} prints as {printed:?}, which is another network"
                ),
                Err(error) => {
                    panic!("{source:?} prints as {printed:?}, which does not parse: {error}")
                }
            }
            format!("network {}", layers::exercise(&network))
        }
        Err(error) => format!("network error {}", check_error(&source, &error)),
    };
    let block = match parse_block(&source) {
        Ok(block) => {
            let printed = block.to_string();
            match parse_block(&printed) {
                Ok(again) => assert_eq!(
                    again, block,
                    "{source:?} prints as {printed:?}, which is another block"
                ),
                Err(error) => {
                    panic!("{source:?} prints as {printed:?}, which does not parse: {error}")
                }
            }
            format!(
                "block {}",
                layers::exercise(&Skeleton::FmnistV1.assemble(&block))
            )
        }
        Err(error) => format!("block error {}", check_error(&source, &error)),
    };
    format!("{network} | {block}")
}
