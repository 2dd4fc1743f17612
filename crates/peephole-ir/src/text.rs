//! The text form: one readable line per network or block, used in every message, on the
//! command line and in zoo records. This module owns the syntax; what a block may hold is the
//! generator's (`peephole_zoo::generator::Block` reads a block from [`block_words`]).
//!
//! Network: `[1x28x28] conv3x3:16 bn relu maxpool2x2/2 conv5x5:24 tanh -> 10`
//! Block:   `conv3x3*1.5 bn relu maxpool3x3`
//!
//! - `conv{W}x{H}:{C}` a conv to C channels (`*{r}` in a block: a width ratio), `maxpool{W}x{H}`,
//!   `avgpool{W}x{H}`; a square kernel may be written `conv3`. `/S` sets the stride. Padding is
//!   "same" for stride 1 and "valid" above; `@same` / `@valid` overrides it.
//! - `relu`, `sigmoid`, `tanh`, `bn`.
//! - `[C x H x W]` is the input, `-> N` the head to N classes.

use thiserror::Error;

use crate::{Kernel, Layer, LayerKind, Network, Padding, Shape};

/// A text-form error pointing at a 1-based character column of the input.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("column {column}: {message}")]
pub struct TextError {
    /// 1-based column of the offending character.
    pub column: usize,
    /// What is wrong there.
    pub message: String,
}

impl TextError {
    /// The input line with a caret under the offending column, for terminal output.
    pub fn render(&self, source: &str) -> String {
        let pad = " ".repeat(self.column.saturating_sub(1));
        format!("{source}\n{pad}^ {}", self.message)
    }
}

/// Prints one layer in the text form.
pub fn layer_text(layer: &Layer) -> String {
    let word = layer.kind().word();
    let Some((kernel, stride, padding)) = layer.window() else {
        return word.to_string();
    };
    let mut text = format!("{word}{kernel}");
    if let Some(channels) = layer.out_channels() {
        text.push_str(&format!(":{channels}"));
    }
    if stride != 1 {
        text.push_str(&format!("/{stride}"));
    }
    if padding != Padding::default_for_stride(stride) {
        text.push_str(&format!("@{}", padding.word()));
    }
    text
}

/// Prints a network's body layers without input and head (for messages about a part).
pub fn layers_to_string(layers: &[Layer]) -> String {
    layers.iter().map(layer_text).collect::<Vec<_>>().join(" ")
}

impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}] ", self.input)?;
        if !self.layers.is_empty() {
            write!(f, "{} ", layers_to_string(&self.layers))?;
        }
        write!(f, "-> {}", self.classes)
    }
}

/// A word of the input with its 1-based starting column.
#[derive(Debug, Clone, Copy)]
struct Word<'a> {
    text: &'a str,
    column: usize,
}

fn words(source: &str) -> Vec<Word<'_>> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut column = 0;
    let mut start_column = 0;
    for (byte, ch) in source.char_indices() {
        column += 1;
        if ch.is_whitespace() {
            if let Some(s) = start.take() {
                out.push(Word {
                    text: &source[s..byte],
                    column: start_column,
                });
            }
        } else if start.is_none() {
            start = Some(byte);
            start_column = column;
        }
    }
    if let Some(s) = start {
        out.push(Word {
            text: &source[s..],
            column: start_column,
        });
    }
    out
}

/// A cursor over one word, tracking the column for errors.
struct Cursor<'a> {
    word: Word<'a>,
    offset: usize,
}

impl<'a> Cursor<'a> {
    fn new(word: Word<'a>) -> Self {
        Cursor { word, offset: 0 }
    }

    fn rest(&self) -> &'a str {
        &self.word.text[self.offset..]
    }

    fn column(&self) -> usize {
        self.word.column + self.word.text[..self.offset].chars().count()
    }

    fn error(&self, message: impl Into<String>) -> TextError {
        TextError {
            column: self.column(),
            message: message.into(),
        }
    }

    fn eat(&mut self, prefix: &str) -> bool {
        if self.rest().starts_with(prefix) {
            self.offset += prefix.len();
            true
        } else {
            false
        }
    }

    fn number(&mut self, what: &str) -> Result<u32, TextError> {
        let digits = self
            .rest()
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if digits == 0 {
            return Err(self.error(format!("expected {what} (a whole number)")));
        }
        let text = &self.rest()[..digits];
        let value = text
            .parse::<u32>()
            .map_err(|_| self.error(format!("{what} {text} is too large")))?;
        self.offset += digits;
        Ok(value)
    }

    fn decimal(&mut self, what: &str) -> Result<(&'a str, usize), TextError> {
        let len = self
            .rest()
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .count();
        if len == 0 {
            return Err(self.error(format!("expected {what} (a number such as 1.5)")));
        }
        let column = self.column();
        let text = &self.rest()[..len];
        self.offset += len;
        Ok((text, column))
    }

    fn kernel(&mut self) -> Result<Kernel, TextError> {
        let width = self.number("kernel size")?;
        let height = if self.eat("x") {
            self.number("kernel height")?
        } else {
            width
        };
        Ok(Kernel { width, height })
    }

    fn finish(&self) -> Result<(), TextError> {
        if self.rest().is_empty() {
            Ok(())
        } else {
            Err(self.error(format!("unexpected `{}`", self.rest())))
        }
    }
}

/// Whether a conv word carries absolute channels (`:C`, networks) or a ratio (`*r`, blocks).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Width {
    Absolute,
    Ratio,
}

/// One word of a block line (`conv3x3*1.5 bn relu maxpool3x3`) as the text form reads it.
/// The syntax is this module's; which words a block may hold, and which ratios, is the
/// generator's, so a width-ratio conv comes with its ratio as written.
#[derive(Debug, Clone, PartialEq)]
pub enum BlockWord<'a> {
    /// A conv written with a width ratio instead of channels (`conv3x3*1.5`).
    ScaledConv {
        /// Its kernel.
        kernel: Kernel,
        /// Its stride (`/S`, 1 when not written).
        stride: u32,
        /// Its padding, written or the stride's default.
        padding: Padding,
        /// The ratio as written (`1.5`).
        ratio: &'a str,
        /// 1-based column of the ratio, for errors about its value.
        ratio_column: usize,
    },
    /// Any layer written as in a network (a pool, an activation, `bn`).
    Layer(Layer),
}

/// A block line's words with their 1-based columns, in order: the syntax checked, the meaning
/// left to the caller. An empty line is an error.
pub fn block_words(source: &str) -> Result<Vec<(usize, BlockWord<'_>)>, TextError> {
    let all = words(source);
    if all.is_empty() {
        return Err(TextError {
            column: 1,
            message: "empty block".into(),
        });
    }
    all.into_iter()
        .map(|word| Ok((word.column, parse_layer(word, Width::Ratio)?)))
        .collect()
}

fn parse_layer(word: Word<'_>, width: Width) -> Result<BlockWord<'_>, TextError> {
    if let Some(layer) = LayerKind::from_word(word.text).and_then(Layer::pointwise) {
        return Ok(BlockWord::Layer(layer));
    }
    let mut cursor = Cursor::new(word);
    let windowed = LayerKind::ALL
        .into_iter()
        .filter(|kind| kind.is_windowed())
        .find(|kind| cursor.eat(kind.word()));
    let Some(kind) = windowed else {
        return Err(cursor.error(format!(
            "unknown layer `{}`: expected {}",
            word.text,
            LayerKind::word_list("or")
        )));
    };
    let kernel = cursor.kernel()?;
    let mut ratio = None;
    let mut channels = None;
    if kind == LayerKind::Conv {
        match width {
            Width::Absolute => {
                if !cursor.eat(":") {
                    return Err(cursor
                        .error("expected `:` and the conv's output channels, as in conv3x3:16"));
                }
                channels = Some(cursor.number("output channels")?);
            }
            Width::Ratio => {
                if !cursor.eat("*") {
                    return Err(
                        cursor.error("expected `*` and the conv's width ratio, as in conv3x3*1.5")
                    );
                }
                ratio = Some(cursor.decimal("width ratio")?);
            }
        }
    }
    let stride = if cursor.eat("/") {
        cursor.number("stride")?
    } else {
        1
    };
    let mut padding = Padding::default_for_stride(stride);
    if cursor.eat("@") {
        padding = [Padding::Same, Padding::Valid]
            .into_iter()
            .find(|padding| cursor.eat(padding.word()))
            .ok_or_else(|| cursor.error("expected `same` or `valid` after `@`"))?;
    }
    cursor.finish()?;
    if let Some((ratio, ratio_column)) = ratio {
        return Ok(BlockWord::ScaledConv {
            kernel,
            stride,
            padding,
            ratio,
            ratio_column,
        });
    }
    // Only a block conv (returned above) comes without channels.
    Layer::windowed(kind, kernel, stride, padding, channels)
        .map(BlockWord::Layer)
        .ok_or_else(|| cursor.error("expected `:` and the conv's output channels"))
}

fn parse_input(word: Word<'_>) -> Result<Shape, TextError> {
    let mut cursor = Cursor::new(word);
    if !cursor.eat("[") {
        return Err(cursor.error("a network starts with its input shape, as in [1x28x28]"));
    }
    let channels = cursor.number("input channels")?;
    if !cursor.eat("x") {
        return Err(cursor.error("expected `x` between input channels and height"));
    }
    let height = cursor.number("input height")?;
    if !cursor.eat("x") {
        return Err(cursor.error("expected `x` between input height and width"));
    }
    let width = cursor.number("input width")?;
    if !cursor.eat("]") {
        return Err(cursor.error("expected `]` after the input shape"));
    }
    cursor.finish()?;
    Ok(Shape::new(channels, height, width))
}

/// Parses a network line. Only syntax is checked here; call [`Network::analyze`] for shapes.
pub fn parse_network(source: &str) -> Result<Network, TextError> {
    let all = words(source);
    let Some((&first, rest)) = all.split_first() else {
        return Err(TextError {
            column: 1,
            message: "empty network: expected [C x H x W] layers... -> classes".into(),
        });
    };
    let input = parse_input(first)?;
    let arrow = rest.iter().position(|w| w.text == "->");
    let Some(arrow) = arrow else {
        let column = source.chars().count() + 1;
        return Err(TextError {
            column,
            message: "expected `-> N` (the head's class count) at the end".into(),
        });
    };
    let mut layers = Vec::with_capacity(arrow);
    for &word in &rest[..arrow] {
        match parse_layer(word, Width::Absolute)? {
            BlockWord::Layer(layer) => layers.push(layer),
            BlockWord::ScaledConv { .. } => ratio_in_network_error(word)?,
        }
    }
    let after = &rest[arrow + 1..];
    let Some(&classes_word) = after.first() else {
        let column = rest[arrow].column + 2;
        return Err(TextError {
            column,
            message: "expected the class count after `->`".into(),
        });
    };
    let mut cursor = Cursor::new(classes_word);
    let classes = cursor.number("class count")?;
    cursor.finish()?;
    if let Some(extra) = after.get(1) {
        return Err(TextError {
            column: extra.column,
            message: format!("unexpected `{}` after the head", extra.text),
        });
    }
    Ok(Network {
        input,
        layers,
        classes,
    })
}

fn ratio_in_network_error(word: Word<'_>) -> Result<(), TextError> {
    Err(TextError {
        column: word.column,
        message: "a network conv takes channels (`:16`), not a ratio".into(),
    })
}

impl std::str::FromStr for Network {
    type Err = TextError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_network(s)
    }
}
