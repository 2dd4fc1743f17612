//! The native fast path: scores many ULC sequences at once with the predictor's weights,
//! for search and benchmarks, where the generic ONNX runtimes spend most of their time on
//! work this model does not need.
//!
//! Three changes to the algorithm, not just to the library:
//! - **Input projection by table.** An LSTM input is four embedded fields, so `W_ih x` is a
//!   sum of four rows of precomputed tables (each embedding table times its slice of `W_ih`,
//!   biases folded into the type table). That is half of the LSTM's multiply-adds gone; per
//!   call, the few distinct codes get their summed row once. A model that also reads each
//!   layer's features (predictor format v2) adds `W_f f` to that row: the distinct unit is
//!   then a (code, feature row) pair, which a shared prefix still shares exactly.
//! - **Shared prefixes.** The sequences are sorted and laid out as a trie: a prefix that many
//!   candidates share (every network of one skeleton shares its stem) is run once, and its
//!   state feeds all its continuations. Identical sequences are scored once.
//! - **Batched recurrence.** Per trie level, the states of every node with children go
//!   through one packed matrix product with `W_hh` (AVX-512 / AVX2 picked at run time); a
//!   level of one to three states uses wide tiles that keep enough sums in flight.
//!
//! Large batches are split across threads by sequence; small ones (one network, an edit
//! search) by ensemble member, so a single prediction uses every core too.
//!
//! The result equals [`crate::native::predict`] (and the exported ONNX model) to about 1e-6:
//! sums are taken in another order and sigmoid/tanh use a vectorizable `exp` good to an ulp.

mod kernels;

use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

use thiserror::Error;

pub use kernels::SimdLevel;

use self::kernels::{Packed, gemm, lstm_cell};
use crate::format::MAX_SEQUENCE;
use crate::native::mean_and_spread;
use crate::weights::{Matrix, MemberWeights, PredictorWeights};
use peephole_ir::layer_features::{FEATURE_COUNT, FeatureRow};
use peephole_ir::ulc::{UlcCode, UlcDecodeError, validate};

/// Most distinct sequences one worker handles at a time: bounds the scratch memory (a few
/// MB per worker) while keeping the matrix products tall.
const CHUNK: usize = 2048;
/// Parent states per matrix-product block: the block's gate rows (64 x 640 floats) are still
/// in cache when the cell updates of its children read them.
const ROW_BLOCK: usize = 64;
/// Below this many distinct sequences the batch stays one chunk, whose shared prefixes a
/// split would run twice; the ensemble's members are then what the threads share out.
const MIN_PARALLEL: usize = 64;

/// One prediction: the ensemble's mean predicted accuracy and the members' spread.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    /// Mean predicted accuracy of the ensemble.
    pub mean: f64,
    /// Population standard deviation across members: how much they disagree.
    pub spread: f64,
}

/// The work one call did, to show what prefix sharing saved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScoreStats {
    /// Items asked for.
    pub items: usize,
    /// Distinct sequences among them.
    pub unique_sequences: usize,
    /// Layers over all items: the LSTM steps per member a scorer without sharing runs.
    pub layers: usize,
    /// LSTM steps per member actually run (trie nodes).
    pub lstm_steps: usize,
    /// Rows of the recurrent matrix product per member (trie nodes with children).
    pub recurrent_rows: usize,
}

impl std::ops::AddAssign for ScoreStats {
    fn add_assign(&mut self, other: ScoreStats) {
        self.items += other.items;
        self.unique_sequences += other.unique_sequences;
        self.layers += other.layers;
        self.lstm_steps += other.lstm_steps;
        self.recurrent_rows += other.recurrent_rows;
    }
}

/// Why the fast scorer cannot be built from some weights or cannot score some input.
#[derive(Debug, Error)]
pub enum FastScorerError {
    /// A predictor needs at least one member.
    #[error("the predictor weights have no ensemble members")]
    NoMembers,
    /// A tensor's shape does not fit the rest of the model.
    #[error("member {member}: {tensor} is {found}, expected {expected}")]
    Shape {
        /// Member index.
        member: usize,
        /// Which tensor.
        tensor: &'static str,
        /// Its shape.
        found: String,
        /// What fits.
        expected: String,
    },
    /// Bare codes for members that also read each layer's feature rows (predictor format v2):
    /// scoring the codes alone would answer for a network the model was not fitted to see.
    #[error("the predictor reads layer features (format v2): score with `score_with_features`")]
    NeedsFeatures,
    /// An item's feature rows do not pair up with its codes.
    #[error("item {item}: {rows} layer-feature rows for {layers} layers")]
    FeatureRows {
        /// Index of the item.
        item: usize,
        /// Rows given.
        rows: usize,
        /// Layers (codes) of the item.
        layers: usize,
    },
    /// Some members read layer features and some do not: no single input serves them all.
    #[error("member {member} reads layer features and member 0 does not, or the reverse")]
    MixedInputs {
        /// The first member that differs from member 0.
        member: usize,
    },
    /// Empty or overlong sequence.
    #[error("item {item}: a ULC sequence of {length} layers is outside 1..={MAX_SEQUENCE}")]
    Length {
        /// Index of the item.
        item: usize,
        /// Its length.
        length: usize,
    },
    /// The codes are not valid ULC v1.
    #[error("item {item}: invalid ULC sequence: {source}")]
    Codes {
        /// Index of the item.
        item: usize,
        /// The decoder's complaint.
        source: UlcDecodeError,
    },
    /// A valid code whose field this model has no embedding row for.
    #[error(
        "item {item}, layer {layer}: {field} = {value} has no row in the model's {rows}-row table"
    )]
    OutOfTable {
        /// Index of the item.
        item: usize,
        /// Layer index.
        layer: usize,
        /// Field name.
        field: &'static str,
        /// The value.
        value: u8,
        /// Rows of the table.
        rows: usize,
    },
    /// Epoch outside the model's epoch table.
    #[error("item {item}: epoch {epoch} is outside the model's range 1..={epochs}")]
    Epoch {
        /// Index of the item.
        item: usize,
        /// Requested epoch.
        epoch: u32,
        /// Epochs the model knows.
        epochs: u32,
    },
    /// The requested instruction set is not available on this CPU.
    #[error("this CPU cannot run the {level} kernels")]
    Unsupported {
        /// The level asked for.
        level: SimdLevel,
    },
    /// The model answered with a non-finite number.
    #[error("item {item}: the predictor returned a non-finite value")]
    NotFinite {
        /// Index of the item.
        item: usize,
    },
}

/// One member, rearranged for the fast path.
#[derive(Debug, Clone)]
struct FastMember {
    /// `W_ih[:, 0..E] * type_embedding^T + b_ih + b_hh`, one `4H` row per type code.
    type_rows: Matrix,
    /// `W_ih[:, E..2E] * kernel_embedding^T`, one row per KW code.
    kw_rows: Matrix,
    /// `W_ih[:, 2E..3E] * kernel_embedding^T`, one row per KH code.
    kh_rows: Matrix,
    /// `W_ih[:, 3E..4E] * channel_embedding^T`, one row per CH code.
    ch_rows: Matrix,
    /// The layer-feature columns of `W_ih`, transposed: `FEATURE_COUNT` rows of `4H`, for a
    /// member that reads them. Row-major by feature, so adding `W_f f` to a token's input row
    /// is `FEATURE_COUNT` contiguous, vectorizable passes over the row (a batch of networks has
    /// about one distinct token per layer, since the compute share differs per network).
    feature_columns: Option<Matrix>,
    /// `W_hh^T`, packed.
    recurrent: Packed,
    /// The structure part of the first MLP layer, `W1[:, 0..H]^T`, packed.
    hidden1: Packed,
    /// The epoch part of the first MLP layer plus its bias, one padded row per epoch.
    epoch_rows: Matrix,
    /// The second MLP layer, packed.
    hidden2: Packed,
    /// Its bias, padded with zeros.
    bias2: Vec<f32>,
    /// The output layer's weights, padded with zeros.
    output: Vec<f32>,
    /// The output layer's bias.
    output_bias: f32,
}

/// `matrix` transposed (row-major in, row-major out).
fn transpose(matrix: &Matrix) -> Matrix {
    let data = (0..matrix.cols)
        .flat_map(|c| (0..matrix.rows).map(move |r| matrix.data[r * matrix.cols + c]))
        .collect();
    Matrix {
        rows: matrix.cols,
        cols: matrix.rows,
        data,
    }
}

/// `table[r] . weight[g, offset..offset + width]` for every row `r` and gate row `g`, in f64
/// so that the precomputed sums are at least as exact as the reference's.
fn project(weight: &Matrix, offset: usize, table: &Matrix, bias: Option<&[f32]>) -> Matrix {
    let width = table.cols;
    let mut data = Vec::with_capacity(table.rows * weight.rows);
    for r in 0..table.rows {
        let embedded = table.row(r);
        for g in 0..weight.rows {
            let w = &weight.row(g)[offset..offset + width];
            let mut sum: f64 = w
                .iter()
                .zip(embedded)
                .map(|(&a, &b)| f64::from(a) * f64::from(b))
                .sum();
            if let Some(bias) = bias {
                sum += f64::from(bias[g]);
            }
            data.push(sum as f32);
        }
    }
    Matrix {
        rows: table.rows,
        cols: weight.rows,
        data,
    }
}

fn shape_error(
    member: usize,
    tensor: &'static str,
    found: String,
    expected: String,
) -> FastScorerError {
    FastScorerError::Shape {
        member,
        tensor,
        found,
        expected,
    }
}

/// Checks that one member's tensors fit together (and, after member 0, that they have member
/// 0's sizes) and returns `(hidden, embedding)`.
fn check_member(
    index: usize,
    m: &MemberWeights,
    first: Option<&MemberWeights>,
) -> Result<(usize, usize), FastScorerError> {
    check_matrices(index, m)?;
    check_vectors(index, m)?;
    if let Some(first) = first {
        check_sizes_match(index, m, first)?;
    }
    Ok((m.lstm_w_hh.cols, m.type_embedding.cols))
}

fn dims(x: &Matrix) -> String {
    format!("{}x{}", x.rows, x.cols)
}

/// Every weight matrix is non-empty and sized to the embedding and hidden widths, and the
/// epoch embedding has a row for at least epoch 1.
fn check_matrices(index: usize, m: &MemberWeights) -> Result<(), FastScorerError> {
    let embedding = m.type_embedding.cols;
    let hidden = m.lstm_w_hh.cols;
    let matrices: [(&'static str, &Matrix, usize, usize); 9] = [
        (
            "type_embedding",
            &m.type_embedding,
            m.type_embedding.rows,
            embedding,
        ),
        (
            "kernel_embedding",
            &m.kernel_embedding,
            m.kernel_embedding.rows,
            embedding,
        ),
        (
            "channel_embedding",
            &m.channel_embedding,
            m.channel_embedding.rows,
            embedding,
        ),
        (
            "epoch_embedding",
            &m.epoch_embedding,
            m.epoch_embedding.rows,
            embedding,
        ),
        ("lstm_w_ih", &m.lstm_w_ih, 4 * hidden, 4 * embedding),
        ("lstm_w_hh", &m.lstm_w_hh, 4 * hidden, hidden),
        (
            "mlp[0].weight",
            &m.mlp[0].weight,
            m.mlp[0].weight.rows,
            hidden + embedding,
        ),
        (
            "mlp[1].weight",
            &m.mlp[1].weight,
            m.mlp[1].weight.rows,
            m.mlp[0].weight.rows,
        ),
        ("mlp[2].weight", &m.mlp[2].weight, 1, m.mlp[1].weight.rows),
    ];
    for (name, matrix, rows, cols) in matrices {
        if matrix.rows != rows
            || matrix.cols != cols
            || matrix.data.len() != rows * cols
            || rows == 0
            || cols == 0
        {
            return Err(shape_error(
                index,
                name,
                dims(matrix),
                format!("{rows}x{cols} (non-empty)"),
            ));
        }
    }
    if m.epoch_embedding.rows < 2 {
        return Err(shape_error(
            index,
            "epoch_embedding",
            dims(&m.epoch_embedding),
            "at least 2 rows (row 0 is unused)".into(),
        ));
    }
    Ok(())
}

/// Every bias has its layer's width.
fn check_vectors(index: usize, m: &MemberWeights) -> Result<(), FastScorerError> {
    let hidden = m.lstm_w_hh.cols;
    let vectors: [(&'static str, usize, usize); 5] = [
        ("lstm_b_ih", m.lstm_b_ih.len(), 4 * hidden),
        ("lstm_b_hh", m.lstm_b_hh.len(), 4 * hidden),
        ("mlp[0].bias", m.mlp[0].bias.len(), m.mlp[0].weight.rows),
        ("mlp[1].bias", m.mlp[1].bias.len(), m.mlp[1].weight.rows),
        ("mlp[2].bias", m.mlp[2].bias.len(), 1),
    ];
    for (name, found, expected) in vectors {
        if found != expected {
            return Err(shape_error(
                index,
                name,
                found.to_string(),
                expected.to_string(),
            ));
        }
    }
    Ok(())
}

/// The tensors whose sizes the scorer shares across members are the same as member 0's.
fn check_sizes_match(
    index: usize,
    m: &MemberWeights,
    first: &MemberWeights,
) -> Result<(), FastScorerError> {
    let pairs: [(&'static str, &Matrix, &Matrix); 5] = [
        ("type_embedding", &m.type_embedding, &first.type_embedding),
        (
            "kernel_embedding",
            &m.kernel_embedding,
            &first.kernel_embedding,
        ),
        (
            "channel_embedding",
            &m.channel_embedding,
            &first.channel_embedding,
        ),
        (
            "epoch_embedding",
            &m.epoch_embedding,
            &first.epoch_embedding,
        ),
        ("lstm_w_hh", &m.lstm_w_hh, &first.lstm_w_hh),
    ];
    for (name, mine, theirs) in pairs {
        if (mine.rows, mine.cols) != (theirs.rows, theirs.cols) {
            return Err(shape_error(
                index,
                name,
                dims(mine),
                format!("{} as in member 0", dims(theirs)),
            ));
        }
    }
    Ok(())
}

impl FastMember {
    fn new(m: &MemberWeights, hidden: usize, embedding: usize) -> FastMember {
        let gates = 4 * hidden;
        let biases: Vec<f32> = m
            .lstm_b_ih
            .iter()
            .zip(&m.lstm_b_hh)
            .map(|(a, b)| a + b)
            .collect();
        let [l1, l2, l3] = &m.mlp;
        let hidden1 =
            Packed::from_weight(&l1.weight.data, l1.weight.rows, l1.weight.cols, 0, hidden);
        let n1 = hidden1.n_padded;
        let mut epoch_rows = Matrix {
            rows: m.epoch_embedding.rows,
            cols: n1,
            data: vec![0.0; m.epoch_embedding.rows * n1],
        };
        for e in 0..m.epoch_embedding.rows {
            let embedded = m.epoch_embedding.row(e);
            for j in 0..l1.weight.rows {
                let w = &l1.weight.row(j)[hidden..hidden + embedding];
                let sum: f64 = w
                    .iter()
                    .zip(embedded)
                    .map(|(&a, &b)| f64::from(a) * f64::from(b))
                    .sum::<f64>()
                    + f64::from(l1.bias[j]);
                epoch_rows.data[e * n1 + j] = sum as f32;
            }
        }
        let hidden2 = Packed::from_weight(
            &l2.weight.data,
            l2.weight.rows,
            l2.weight.cols,
            0,
            l2.weight.cols,
        );
        let mut bias2 = l2.bias.clone();
        bias2.resize(hidden2.n_padded, 0.0);
        let mut output = l3.weight.data.clone();
        output.resize(hidden2.n_padded, 0.0);
        FastMember {
            type_rows: project(&m.lstm_w_ih, 0, &m.type_embedding, Some(&biases)),
            kw_rows: project(&m.lstm_w_ih, embedding, &m.kernel_embedding, None),
            kh_rows: project(&m.lstm_w_ih, 2 * embedding, &m.kernel_embedding, None),
            ch_rows: project(&m.lstm_w_ih, 3 * embedding, &m.channel_embedding, None),
            feature_columns: m.lstm_w_features.as_ref().map(transpose),
            recurrent: Packed::from_weight(&m.lstm_w_hh.data, gates, hidden, 0, hidden),
            hidden1,
            epoch_rows,
            hidden2,
            bias2,
            output,
            output_bias: l3.bias[0],
        }
    }

    /// The summed input row of each code (all four fields and both biases): the whole input
    /// of a member that reads codes alone, the part a member that reads layer features adds
    /// `W_f f` to ([`FastMember::add_features`]).
    fn code_rows(&self, codes: &[UlcCode]) -> Vec<f32> {
        let gates = self.type_rows.cols;
        let mut rows = Vec::with_capacity(codes.len() * gates);
        for code in codes {
            let parts = [
                self.type_rows.row(usize::from(code.ty)),
                self.kw_rows.row(usize::from(code.kw)),
                self.kh_rows.row(usize::from(code.kh)),
                self.ch_rows.row(usize::from(code.ch)),
            ];
            rows.extend((0..gates).map(|g| parts[0][g] + parts[1][g] + parts[2][g] + parts[3][g]));
        }
        rows
    }

    /// Adds `W_f f` for the layer-feature row `features` to `row`: gate by gate, summed over
    /// the features in order from -0.0 (as `Iterator::sum` does) into `sum`, then added, so
    /// the roundings are those of one dot product per gate, in passes the compiler
    /// vectorizes. Done per step rather than stored per token: a batch of networks has about
    /// one distinct (code, feature row) token per layer (the compute share differs per
    /// network), and a table of them would be far larger than the cache.
    fn add_features(&self, row: &mut [f32], features: &[u32; FEATURE_COUNT], sum: &mut [f32]) {
        let Some(columns) = &self.feature_columns else {
            return;
        };
        sum.fill(-0.0);
        for (k, &bits) in features.iter().enumerate() {
            let value = f32::from_bits(bits);
            for (total, &weight) in sum.iter_mut().zip(columns.row(k)) {
                *total += weight * value;
            }
        }
        for (value, &total) in row.iter_mut().zip(sum.iter()) {
            *value += total;
        }
    }
}

/// Where a member's LSTM input at each step comes from: one precomputed row per distinct
/// code, and for a member that reads layer features, each token's feature row, added per step.
struct InputRows<'a> {
    /// The member's [`FastMember::code_rows`] over the batch's distinct codes.
    rows: &'a [f32],
    /// Each token's row in `rows`.
    token_code: &'a [u32],
    /// The tokens, for their feature rows.
    tokens: &'a [Token],
}

impl InputRows<'_> {
    /// The input row of `token` for `member`: the code's row as it is for a member of codes
    /// alone, else that row plus `W_f f` written into `buffer` (with `sum` as scratch).
    fn row<'c>(
        &'c self,
        member: &FastMember,
        token: u32,
        hidden: usize,
        buffer: &'c mut [f32],
        sum: &mut [f32],
    ) -> &'c [f32] {
        let token = token as usize;
        let code_row = token_row(self.rows, self.token_code[token], hidden);
        if member.feature_columns.is_none() {
            return code_row;
        }
        buffer.copy_from_slice(code_row);
        member.add_features(buffer, &self.tokens[token].features, sum);
        buffer
    }
}

/// What the LSTM reads at one layer: its ULC code and, for a model that reads them, its
/// layer-feature row (as bits, so that equal rows hash and compare equal; all zero otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Token {
    code: UlcCode,
    features: [u32; FEATURE_COUNT],
}

/// One item for the scorer: codes, their layer-feature rows (empty for a model of codes
/// alone), and the epoch.
type FeatureItem<'a> = (&'a [UlcCode], &'a [FeatureRow], u32);

/// The predictor's weights, prepared for scoring many sequences fast: see the module docs.
#[derive(Debug, Clone)]
pub struct FastScorer {
    members: Vec<FastMember>,
    target_mean: f32,
    target_std: f32,
    hidden: usize,
    epochs: u32,
    level: SimdLevel,
    threads: usize,
    share_prefixes: bool,
    /// Whether the members read layer-feature rows (format v2).
    reads_features: bool,
}

/// One trie level: the nodes at one depth, in sorted-sequence order.
#[derive(Debug, Default)]
struct Level {
    /// Parent's index in the previous level (unused at depth 0: the parent is the zero state).
    parent: Vec<u32>,
    /// Distinct-code index of the node's layer.
    code: Vec<u32>,
    /// Row in this level's recurrent product, for nodes with children.
    row: Vec<u32>,
    /// Nodes with children, in order: the rows of this level's recurrent product.
    rows: Vec<u32>,
    /// `(node, chunk-local sequence)` for sequences that end here.
    ends: Vec<(u32, u32)>,
}

const NO_ROW: u32 = u32::MAX;

/// A chunk's sequences as a trie.
struct Trie {
    levels: Vec<Level>,
    stats: ScoreStats,
}

impl Trie {
    /// `sequences` are code-index sequences in sorted order (when sharing).
    fn build(sequences: &[&[u32]], share: bool) -> Trie {
        let mut levels: Vec<Level> = Vec::new();
        let mut path: Vec<u32> = Vec::new();
        let mut previous: &[u32] = &[];
        let mut stats = ScoreStats::default();
        for (local, &sequence) in sequences.iter().enumerate() {
            let common = if share {
                sequence
                    .iter()
                    .zip(previous)
                    .take_while(|(a, b)| a == b)
                    .count()
            } else {
                0
            };
            path.truncate(common);
            for (depth, &code) in sequence.iter().enumerate().skip(common) {
                if levels.len() <= depth {
                    levels.push(Level::default());
                }
                let parent = if depth == 0 { 0 } else { path[depth - 1] };
                let level = &mut levels[depth];
                path.push(level.parent.len() as u32);
                level.parent.push(parent);
                level.code.push(code);
            }
            levels[sequence.len() - 1]
                .ends
                .push((path[sequence.len() - 1], local as u32));
            stats.layers += sequence.len();
            previous = sequence;
        }
        for depth in 0..levels.len() {
            levels[depth].row = vec![NO_ROW; levels[depth].parent.len()];
            if depth + 1 < levels.len() {
                let (upper, lower) = levels.split_at_mut(depth + 1);
                let level = &mut upper[depth];
                // Children come in parent order, so rows are numbered in node order.
                for &parent in &lower[0].parent {
                    if level.row[parent as usize] == NO_ROW {
                        level.row[parent as usize] = level.rows.len() as u32;
                        level.rows.push(parent);
                    }
                }
            }
            stats.lstm_steps += levels[depth].parent.len();
            stats.recurrent_rows += levels[depth].rows.len();
        }
        stats.unique_sequences = sequences.len();
        Trie { levels, stats }
    }
}

/// The items' sequences as dense token indices.
struct TokenIndex {
    /// The distinct (code, feature row) tokens, in order of first appearance.
    tokens: Vec<Token>,
    /// Every item's token indices, one item after the other.
    flat: Vec<u32>,
    /// Where item `i` starts in `flat` (one past the end last).
    offsets: Vec<usize>,
}

impl TokenIndex {
    /// Item `item`'s token indices.
    fn sequence(&self, item: usize) -> &[u32] {
        &self.flat[self.offsets[item]..self.offsets[item + 1]]
    }
}

/// The sequences the LSTM runs: distinct ones in sorted order (identical items merged)
/// when sharing prefixes, every item on its own otherwise.
struct Distinct<'a> {
    /// The sequences, in trie order.
    sequences: Vec<&'a [u32]>,
    /// Each item's index in `sequences`.
    of_item: Vec<u32>,
}

impl<'a> Distinct<'a> {
    fn new(index: &'a TokenIndex, share: bool) -> Distinct<'a> {
        let items = index.offsets.len() - 1;
        let mut order: Vec<usize> = (0..items).collect();
        if share {
            order.sort_unstable_by(|&a, &b| index.sequence(a).cmp(index.sequence(b)));
        }
        let mut of_item = vec![0u32; items];
        let mut sequences: Vec<&[u32]> = Vec::new();
        for &item in &order {
            let s = index.sequence(item);
            if !(share && sequences.last() == Some(&s)) {
                sequences.push(s);
            }
            of_item[item] = (sequences.len() - 1) as u32;
        }
        Distinct { sequences, of_item }
    }
}

/// The distinct `(sequence, epoch)` pairs the head scores, numbered in sequence order so
/// that a chunk of sequences owns a contiguous run of pairs.
struct Pairs {
    /// Where sequence `u`'s pairs start (one past the end last).
    start: Vec<usize>,
    /// Each pair's epoch.
    epochs: Vec<u32>,
}

impl Pairs {
    fn new(items: &[FeatureItem<'_>], distinct: &Distinct<'_>) -> Pairs {
        let mut epochs_of: Vec<Vec<u32>> = vec![Vec::new(); distinct.sequences.len()];
        for (item, &(_, _, epoch)) in items.iter().enumerate() {
            let list = &mut epochs_of[distinct.of_item[item] as usize];
            if !list.contains(&epoch) {
                list.push(epoch);
            }
        }
        let mut start = Vec::with_capacity(distinct.sequences.len() + 1);
        let mut epochs = Vec::new();
        for list in &epochs_of {
            start.push(epochs.len());
            epochs.extend_from_slice(list);
        }
        start.push(epochs.len());
        Pairs { start, epochs }
    }

    /// The pairs of the sequences `sequences`.
    fn run(&self, sequences: Range<usize>) -> Range<usize> {
        self.start[sequences.start]..self.start[sequences.end]
    }

    /// For each pair of the sequences `sequences`, its sequence counted from the first.
    fn chunk_sequences(&self, sequences: Range<usize>) -> Vec<u32> {
        let first = sequences.start;
        sequences
            .flat_map(|u| {
                std::iter::repeat_n((u - first) as u32, self.start[u + 1] - self.start[u])
            })
            .collect()
    }

    /// The pair of sequence `u` at `epoch` (its first pair if it has none at that epoch,
    /// which the items never ask for).
    fn find(&self, u: usize, epoch: u32) -> usize {
        let offset = self.epochs[self.start[u]..self.start[u + 1]]
            .iter()
            .position(|&e| e == epoch)
            .unwrap_or(0);
        self.start[u] + offset
    }
}

/// A batch's jobs: chunks of distinct sequences, each run by every group of members.
struct Plan {
    /// Sequence ranges, in order.
    chunks: Vec<Range<usize>>,
    /// Members run together by one job (all of them unless the batch is one chunk).
    member_groups: Vec<Range<usize>>,
    /// `(chunk, member group)` per job, chunk by chunk.
    jobs: Vec<(usize, usize)>,
}

/// Token `code`'s input projection (the `4 * hidden` gate inputs) in a member's `rows`.
fn token_row(rows: &[f32], code: u32, hidden: usize) -> &[f32] {
    let code = code as usize;
    &rows[code * 4 * hidden..(code + 1) * 4 * hidden]
}

/// Copies the hidden state of every node in `ends` (sequences that end at this level) to
/// its sequence's row of `finals`.
fn keep_finals(ends: &[(u32, u32)], h: &[f32], finals: &mut [f32], hidden: usize) {
    for &(node, local) in ends {
        let (node, local) = (node as usize, local as usize);
        finals[local * hidden..(local + 1) * hidden]
            .copy_from_slice(&h[node * hidden..(node + 1) * hidden]);
    }
}

/// Scratch buffers of one worker, reused across members and chunks.
#[derive(Default)]
struct Scratch {
    /// `4 * hidden` zeros: the recurrent term and cell state before the first layer.
    zeros: Vec<f32>,
    h: Vec<f32>,
    c: Vec<f32>,
    h_next: Vec<f32>,
    c_next: Vec<f32>,
    a: Vec<f32>,
    gates: Vec<f32>,
    finals: Vec<f32>,
    mlp1: Vec<f32>,
    mlp2: Vec<f32>,
    mlp2_out: Vec<f32>,
}

fn resize(buffer: &mut Vec<f32>, len: usize) {
    if buffer.len() < len {
        buffer.resize(len, 0.0);
    }
}

impl FastScorer {
    /// Prepares the weights: projection tables, packed matrices. Fails when the tensors do
    /// not fit together (the native reference would panic on such weights instead).
    pub fn new(weights: &PredictorWeights) -> Result<FastScorer, FastScorerError> {
        let first = weights.members.first().ok_or(FastScorerError::NoMembers)?;
        let reads_features = first.lstm_w_features.is_some();
        for (member, m) in weights.members.iter().enumerate() {
            if m.lstm_w_features.is_some() != reads_features {
                return Err(FastScorerError::MixedInputs { member });
            }
            if let Some(features) = &m.lstm_w_features
                && (features.rows != m.lstm_w_ih.rows
                    || features.cols != FEATURE_COUNT
                    || features.data.len() != features.rows * features.cols)
            {
                return Err(shape_error(
                    member,
                    "lstm_w_features",
                    format!("{}x{}", features.rows, features.cols),
                    format!("{}x{FEATURE_COUNT}", m.lstm_w_ih.rows),
                ));
            }
        }
        let (hidden, embedding) = check_member(0, first, None)?;
        let mut members = Vec::with_capacity(weights.members.len());
        for (index, member) in weights.members.iter().enumerate() {
            check_member(index, member, Some(first))?;
            members.push(FastMember::new(member, hidden, embedding));
        }
        let threads = std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1);
        Ok(FastScorer {
            members,
            target_mean: weights.target_mean,
            target_std: weights.target_std,
            hidden,
            epochs: (first.epoch_embedding.rows - 1) as u32,
            level: SimdLevel::detect(),
            threads,
            share_prefixes: true,
            reads_features,
        })
    }

    /// Runs the inner loops on `level` (the default is the best this CPU has); tests use it
    /// to check every level against the others.
    pub fn with_simd(mut self, level: SimdLevel) -> Result<FastScorer, FastScorerError> {
        if !level.is_supported() {
            return Err(FastScorerError::Unsupported { level });
        }
        self.level = level;
        Ok(self)
    }

    /// Uses at most `threads` worker threads for large batches (default: every core).
    pub fn with_threads(mut self, threads: usize) -> FastScorer {
        self.threads = threads.max(1);
        self
    }

    /// Turns prefix sharing and deduplication off (every sequence runs its own LSTM), so a
    /// benchmark can show what sharing itself is worth.
    pub fn with_prefix_sharing(mut self, share: bool) -> FastScorer {
        self.share_prefixes = share;
        self
    }

    /// The instruction set in use.
    pub fn simd(&self) -> SimdLevel {
        self.level
    }

    /// Worker threads for large batches.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Epochs the model can be asked about (1..=epochs).
    pub fn epochs(&self) -> u32 {
        self.epochs
    }

    /// Scores one sequence after `epoch`.
    pub fn score_one(&self, codes: &[UlcCode], epoch: u32) -> Result<Score, FastScorerError> {
        let mut scores = self.score(&[(codes, epoch)])?;
        scores.pop().ok_or(FastScorerError::NotFinite { item: 0 })
    }

    /// Scores every `(sequence, epoch)` item; results are in input order.
    pub fn score(&self, items: &[(&[UlcCode], u32)]) -> Result<Vec<Score>, FastScorerError> {
        Ok(self.score_with_stats(items)?.0)
    }

    /// Whether the members read a layer-feature row per layer (format v2): then only
    /// [`FastScorer::score_with_features`] answers.
    pub fn reads_layer_features(&self) -> bool {
        self.reads_features
    }

    /// Like [`FastScorer::score`], also saying how much work prefix sharing saved.
    pub fn score_with_stats(
        &self,
        items: &[(&[UlcCode], u32)],
    ) -> Result<(Vec<Score>, ScoreStats), FastScorerError> {
        if self.reads_features {
            return Err(FastScorerError::NeedsFeatures);
        }
        let items: Vec<FeatureItem<'_>> = items
            .iter()
            .map(|&(codes, epoch)| (codes, &[][..], epoch))
            .collect();
        self.score_items(&items)
    }

    /// Scores `(codes, layer-feature rows, epoch)` items, results in input order: the way to
    /// score with a model that reads layer features (format v2), one row per code from
    /// `peephole_ir::layer_features::layer_features`. A model of codes alone ignores the rows.
    pub fn score_with_features(
        &self,
        items: &[(&[UlcCode], &[FeatureRow], u32)],
    ) -> Result<Vec<Score>, FastScorerError> {
        Ok(self.score_items(items)?.0)
    }

    /// Like [`FastScorer::score_with_features`], also saying how much work prefix sharing
    /// saved (what `cargo xtask search` reports).
    pub fn score_with_features_and_stats(
        &self,
        items: &[(&[UlcCode], &[FeatureRow], u32)],
    ) -> Result<(Vec<Score>, ScoreStats), FastScorerError> {
        self.score_items(items)
    }

    /// The scorer behind every public entry point: indexes the tokens, merges identical
    /// sequences, runs the chunks (on threads when there are several jobs) and reads each
    /// item's score out of the members' accuracies.
    fn score_items(
        &self,
        items: &[FeatureItem<'_>],
    ) -> Result<(Vec<Score>, ScoreStats), FastScorerError> {
        let index = self.index_tokens(items)?;
        let distinct = Distinct::new(&index, self.share_prefixes);
        let pairs = Pairs::new(items, &distinct);
        // One input row per distinct code and member; the feature part, if any, is added per step.
        let mut code_index: HashMap<UlcCode, u32> = HashMap::new();
        let mut codes: Vec<UlcCode> = Vec::new();
        let token_code: Vec<u32> = index
            .tokens
            .iter()
            .map(|token| {
                *code_index.entry(token.code).or_insert_with(|| {
                    codes.push(token.code);
                    (codes.len() - 1) as u32
                })
            })
            .collect();
        let code_rows: Vec<Vec<f32>> = self.members.iter().map(|m| m.code_rows(&codes)).collect();
        let inputs: Vec<InputRows<'_>> = code_rows
            .iter()
            .map(|rows| InputRows {
                rows,
                token_code: &token_code,
                tokens: &index.tokens,
            })
            .collect();
        let plan = self.plan(distinct.sequences.len());
        let results = self.run_jobs(plan.jobs.len(), |job, scratch| {
            let _flush = kernels::FlushDenormals::new();
            let (chunk, group) = plan.jobs[job];
            let sequences = plan.chunks[chunk].clone();
            self.run_chunk(
                &distinct.sequences[sequences.clone()],
                &pairs.chunk_sequences(sequences.clone()),
                &pairs.epochs[pairs.run(sequences)],
                &inputs,
                plan.member_groups[group].clone(),
                scratch,
            )
        });
        let (accuracy, mut stats) = self.gather(&plan, &pairs, results);
        stats.items = items.len();
        stats.layers = index.flat.len();
        let scores = self.read_scores(items, &distinct, &pairs, &accuracy)?;
        Ok((scores, stats))
    }

    /// Validates the items and maps every (code, feature row) token to a dense index of the
    /// distinct tokens.
    fn index_tokens(&self, items: &[FeatureItem<'_>]) -> Result<TokenIndex, FastScorerError> {
        let first = &self.members[0];
        let tables = [
            ("TY", first.type_rows.rows),
            ("KW", first.kw_rows.rows),
            ("KH", first.kh_rows.rows),
            ("CH", first.ch_rows.rows),
        ];
        let mut index: HashMap<Token, u32> = HashMap::new();
        let mut tokens = Vec::new();
        let mut flat = Vec::with_capacity(items.iter().map(|i| i.0.len()).sum());
        let mut offsets = Vec::with_capacity(items.len() + 1);
        offsets.push(0);
        for (item, &(sequence, features, epoch)) in items.iter().enumerate() {
            self.check_item(item, sequence, features, epoch)?;
            for (layer, code) in sequence.iter().enumerate() {
                let token = Token {
                    code: *code,
                    features: match features.get(layer) {
                        Some(row) if self.reads_features => row.map(f32::to_bits),
                        _ => [0; FEATURE_COUNT],
                    },
                };
                let id = match index.get(&token) {
                    Some(&id) => id,
                    None => {
                        for ((field, rows), value) in tables.iter().zip(code.fields()) {
                            if usize::from(value) >= *rows {
                                return Err(FastScorerError::OutOfTable {
                                    item,
                                    layer,
                                    field,
                                    value,
                                    rows: *rows,
                                });
                            }
                        }
                        tokens.push(token);
                        index.insert(token, (tokens.len() - 1) as u32);
                        (tokens.len() - 1) as u32
                    }
                };
                flat.push(id);
            }
            offsets.push(flat.len());
        }
        Ok(TokenIndex {
            tokens,
            flat,
            offsets,
        })
    }

    /// The checks of one item that do not need the model's tables: feature rows that pair
    /// up with the codes, the length, the epoch, and valid ULC.
    fn check_item(
        &self,
        item: usize,
        sequence: &[UlcCode],
        features: &[FeatureRow],
        epoch: u32,
    ) -> Result<(), FastScorerError> {
        if self.reads_features && features.len() != sequence.len() {
            return Err(FastScorerError::FeatureRows {
                item,
                rows: features.len(),
                layers: sequence.len(),
            });
        }
        if sequence.is_empty() || sequence.len() > MAX_SEQUENCE {
            return Err(FastScorerError::Length {
                item,
                length: sequence.len(),
            });
        }
        if epoch == 0 || epoch > self.epochs {
            return Err(FastScorerError::Epoch {
                item,
                epoch,
                epochs: self.epochs,
            });
        }
        validate(sequence).map_err(|source| FastScorerError::Codes { item, source })?;
        Ok(())
    }

    /// Splits `sequences` distinct sequences into jobs: chunks of at most [`CHUNK`] (one
    /// chunk below [`MIN_PARALLEL`]), and for a batch of one chunk, the members shared out
    /// among the threads.
    fn plan(&self, sequences: usize) -> Plan {
        let chunk = if sequences < MIN_PARALLEL {
            sequences.max(1)
        } else {
            sequences.div_ceil(self.threads).clamp(1, CHUNK)
        };
        let chunks: Vec<Range<usize>> = (0..sequences)
            .step_by(chunk)
            .map(|s| s..(s + chunk).min(sequences))
            .collect();
        let members = self.members.len();
        // A few sequences are one chunk; then the members are what is split across threads
        // (batch-1 latency), each worker running its share of them over the whole chunk.
        let groups = if chunks.len() == 1 {
            self.threads.min(members)
        } else {
            1
        };
        let member_groups: Vec<Range<usize>> = (0..groups)
            .map(|g| g * members / groups..(g + 1) * members / groups)
            .collect();
        let jobs: Vec<(usize, usize)> = (0..chunks.len())
            .flat_map(|c| (0..groups).map(move |g| (c, g)))
            .collect();
        Plan {
            chunks,
            member_groups,
            jobs,
        }
    }

    /// Runs jobs `0..jobs` with `run`, on this thread when one worker suffices and on up to
    /// `self.threads` scoped workers otherwise (each with its own scratch, taking the next
    /// job as it finishes one); results in job order.
    fn run_jobs<F>(&self, jobs: usize, run: F) -> Vec<(Vec<f32>, ScoreStats)>
    where
        F: Fn(usize, &mut Scratch) -> (Vec<f32>, ScoreStats) + Sync,
    {
        let workers = self.threads.min(jobs);
        if workers <= 1 {
            let mut scratch = Scratch::default();
            return (0..jobs).map(|job| run(job, &mut scratch)).collect();
        }
        let next = AtomicUsize::new(0);
        let mut results: Vec<(usize, (Vec<f32>, ScoreStats))> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    scope.spawn(|| {
                        let mut scratch = Scratch::default();
                        let mut done = Vec::new();
                        loop {
                            let job = next.fetch_add(1, Ordering::Relaxed);
                            if job >= jobs {
                                break;
                            }
                            done.push((job, run(job, &mut scratch)));
                        }
                        done
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| match h.join() {
                    Ok(done) => done,
                    Err(panic) => std::panic::resume_unwind(panic),
                })
                .collect()
        });
        results.sort_by_key(|r| r.0);
        results.into_iter().map(|(_, result)| result).collect()
    }

    /// The members' accuracies per pair, `[member][pair]`, from the jobs' outputs (in job
    /// order), and the work the tries did.
    fn gather(
        &self,
        plan: &Plan,
        pairs: &Pairs,
        results: Vec<(Vec<f32>, ScoreStats)>,
    ) -> (Vec<f32>, ScoreStats) {
        let total_pairs = pairs.epochs.len();
        let mut accuracy = vec![0.0f32; self.members.len() * total_pairs];
        let mut stats = ScoreStats::default();
        for (&(chunk, group), (out, chunk_stats)) in plan.jobs.iter().zip(results) {
            let run = pairs.run(plan.chunks[chunk].clone());
            let (p0, p1) = (run.start, run.end);
            let first = plan.member_groups[group].start;
            for m in plan.member_groups[group].clone() {
                let at = (m - first) * (p1 - p0);
                accuracy[m * total_pairs + p0..m * total_pairs + p1]
                    .copy_from_slice(&out[at..at + (p1 - p0)]);
            }
            // Every group of a chunk walks the same trie: count its work once.
            if group == 0 {
                stats += chunk_stats;
            }
        }
        (accuracy, stats)
    }

    /// Each item's score: the members' mean and spread at its `(sequence, epoch)` pair; a
    /// non-finite one is an error naming the item.
    fn read_scores(
        &self,
        items: &[FeatureItem<'_>],
        distinct: &Distinct<'_>,
        pairs: &Pairs,
        accuracy: &[f32],
    ) -> Result<Vec<Score>, FastScorerError> {
        let members = self.members.len();
        let total_pairs = pairs.epochs.len();
        let mut outputs = Vec::with_capacity(members);
        items
            .iter()
            .enumerate()
            .map(|(item, &(_, _, epoch))| {
                let pair = pairs.find(distinct.of_item[item] as usize, epoch);
                outputs.clear();
                outputs.extend((0..members).map(|m| f64::from(accuracy[m * total_pairs + pair])));
                let (mean, spread) = mean_and_spread(&outputs);
                if mean.is_finite() && spread.is_finite() {
                    Ok(Score { mean, spread })
                } else {
                    Err(FastScorerError::NotFinite { item })
                }
            })
            .collect()
    }

    /// Runs the members in `members` over one chunk of distinct sequences; returns their
    /// accuracies `[member][pair]` for the chunk's `(sequence, epoch)` pairs.
    fn run_chunk(
        &self,
        sequences: &[&[u32]],
        pair_sequence: &[u32],
        pair_epochs: &[u32],
        inputs: &[InputRows<'_>],
        members: Range<usize>,
        s: &mut Scratch,
    ) -> (Vec<f32>, ScoreStats) {
        let trie = Trie::build(sequences, self.share_prefixes);
        let pairs = pair_epochs.len();
        let mut out = Vec::with_capacity(members.len() * pairs);
        resize(&mut s.zeros, 4 * self.hidden);
        resize(&mut s.finals, sequences.len() * self.hidden);
        for (member, rows) in self.members[members.clone()].iter().zip(&inputs[members]) {
            self.final_states(member, rows, &trie, s);
            self.head(
                member,
                sequences.len(),
                pair_sequence,
                pair_epochs,
                s,
                &mut out,
            );
        }
        (out, trie.stats)
    }

    /// Steps one member's LSTM down the trie, a level at a time, and leaves every sequence's
    /// last hidden state in `s.finals` (row = chunk-local sequence). `rows` gives the member's
    /// input row per token.
    fn final_states(
        &self,
        member: &FastMember,
        rows: &InputRows<'_>,
        trie: &Trie,
        s: &mut Scratch,
    ) {
        let hidden = self.hidden;
        let (mut buffer, mut sum) = (vec![0.0; 4 * hidden], vec![0.0; 4 * hidden]);
        // Depth 0: the zero state has no recurrent term.
        let first = &trie.levels[0];
        resize(&mut s.h, first.parent.len() * hidden);
        resize(&mut s.c, first.parent.len() * hidden);
        for (node, &code) in first.code.iter().enumerate() {
            let (h, c) = (
                &mut s.h[node * hidden..(node + 1) * hidden],
                &mut s.c[node * hidden..(node + 1) * hidden],
            );
            let zeros = &s.zeros[..4 * hidden];
            let input = rows.row(member, code, hidden, &mut buffer, &mut sum);
            lstm_cell(self.level, hidden, zeros, input, &zeros[..hidden], h, c);
        }
        keep_finals(&first.ends, &s.h, &mut s.finals, hidden);
        for depth in 1..trie.levels.len() {
            let (parents, current) = (&trie.levels[depth - 1], &trie.levels[depth]);
            self.step_level(member, rows, parents, current, s);
            std::mem::swap(&mut s.h, &mut s.h_next);
            std::mem::swap(&mut s.c, &mut s.c_next);
            keep_finals(&current.ends, &s.h, &mut s.finals, hidden);
        }
    }

    /// One trie level below the first: the parents' states through `W_hh` in blocks of
    /// [`ROW_BLOCK`], each block's children updated while its gate rows are in cache; the
    /// children's states go to `s.h_next` and `s.c_next`.
    fn step_level(
        &self,
        member: &FastMember,
        rows: &InputRows<'_>,
        parents: &Level,
        current: &Level,
        s: &mut Scratch,
    ) {
        let (hidden, level) = (self.hidden, self.level);
        let (mut buffer, mut sum) = (vec![0.0; 4 * hidden], vec![0.0; 4 * hidden]);
        let gates = member.recurrent.n_padded;
        resize(&mut s.h_next, current.parent.len() * hidden);
        resize(&mut s.c_next, current.parent.len() * hidden);
        resize(&mut s.a, ROW_BLOCK * hidden);
        resize(&mut s.gates, ROW_BLOCK * gates);
        let mut child = 0;
        for block_start in (0..parents.rows.len()).step_by(ROW_BLOCK) {
            let block_end = (block_start + ROW_BLOCK).min(parents.rows.len());
            for (r, &node) in parents.rows[block_start..block_end].iter().enumerate() {
                let node = node as usize;
                s.a[r * hidden..(r + 1) * hidden]
                    .copy_from_slice(&s.h[node * hidden..(node + 1) * hidden]);
            }
            gemm(
                level,
                &s.a,
                hidden,
                block_end - block_start,
                &member.recurrent,
                &mut s.gates,
                gates,
            );
            while child < current.parent.len() {
                let parent = current.parent[child] as usize;
                let row = parents.row[parent] as usize;
                if row >= block_end {
                    break;
                }
                let recurrent =
                    &s.gates[(row - block_start) * gates..(row - block_start) * gates + 4 * hidden];
                lstm_cell(
                    level,
                    hidden,
                    recurrent,
                    rows.row(member, current.code[child], hidden, &mut buffer, &mut sum),
                    &s.c[parent * hidden..(parent + 1) * hidden],
                    &mut s.h_next[child * hidden..(child + 1) * hidden],
                    &mut s.c_next[child * hidden..(child + 1) * hidden],
                );
                child += 1;
            }
        }
    }

    /// The MLP on the final states, one row per `(sequence, epoch)` pair; appends the member's
    /// accuracies (scaled like the exported model) to `out`.
    fn head(
        &self,
        member: &FastMember,
        sequences: usize,
        pair_sequence: &[u32],
        pair_epochs: &[u32],
        s: &mut Scratch,
        out: &mut Vec<f32>,
    ) {
        let hidden = self.hidden;
        let (n1, n2) = (member.hidden1.n_padded, member.hidden2.n_padded);
        resize(&mut s.mlp1, sequences * n1);
        gemm(
            self.level,
            &s.finals,
            hidden,
            sequences,
            &member.hidden1,
            &mut s.mlp1,
            n1,
        );
        let pairs = pair_epochs.len();
        resize(&mut s.mlp2, pairs * n1);
        for (p, (&sequence, &epoch)) in pair_sequence.iter().zip(pair_epochs).enumerate() {
            let structure = &s.mlp1[sequence as usize * n1..(sequence as usize + 1) * n1];
            let row = &mut s.mlp2[p * n1..(p + 1) * n1];
            for ((r, &x), &e) in row
                .iter_mut()
                .zip(structure)
                .zip(member.epoch_rows.row(epoch as usize))
            {
                *r = (x + e).max(0.0);
            }
        }
        resize(&mut s.mlp2_out, pairs * n2);
        gemm(
            self.level,
            &s.mlp2,
            n1,
            pairs,
            &member.hidden2,
            &mut s.mlp2_out,
            n2,
        );
        for p in 0..pairs {
            let row = &s.mlp2_out[p * n2..(p + 1) * n2];
            let raw: f32 = row
                .iter()
                .zip(&member.bias2)
                .zip(&member.output)
                .map(|((&x, &b), &w)| (x + b).max(0.0) * w)
                .sum::<f32>()
                + member.output_bias;
            out.push(raw * self.target_std + self.target_mean);
        }
    }
}
