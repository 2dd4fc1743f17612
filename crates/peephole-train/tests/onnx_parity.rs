//! Exported networks compute what the trainer computes: for the skeleton's stem, generated
//! zoo networks and hand-made ones covering every padding corner (even and asymmetric
//! kernels, strides, -inf and zero pool padding, valid padding), tch in eval mode, tract and
//! onnxruntime agree on the logits within [`TOLERANCE`].
//!
//! onnxruntime is required: when it is missing the onnxruntime test fails and says to run
//! `cargo xtask setup` (CI installs it) instead of passing silently.

use peephole_ir::Network;
use peephole_ort::OrtRuntime;
use peephole_train::export::export_onnx;
use peephole_train::module::TchNetwork;
use peephole_zoo::generator::{Skeleton, network_at};
use tch::nn::{self, ModuleT};
use tch::{Device, Kind, Tensor};

/// Largest absolute difference allowed between any two runtimes' logits.
const TOLERANCE: f32 = 1e-4;

/// Images per run; above 1 so the symbolic batch and per-sample indexing are exercised.
const BATCH: usize = 3;

/// Held by each test for its whole run: libtorch's generator is global, and two tests
/// drawing from it in parallel would make each one's weights depend on the other's timing.
static TORCH: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// One network to check, with a name for messages.
struct Case {
    name: String,
    network: Network,
}

fn case(name: &str, text: &str) -> Case {
    Case {
        name: name.to_owned(),
        network: text
            .parse()
            .unwrap_or_else(|e| panic!("case {name}: {text} does not parse: {e:?}")),
    }
}

fn cases() -> Vec<Case> {
    let skeleton = Skeleton::FmnistV1;
    let mut cases = vec![Case {
        name: "fmnist-v1 stem".into(),
        network: Network {
            input: skeleton.input(),
            layers: skeleton.stem(),
            classes: skeleton.classes(),
        },
    }];
    for index in 0..4 {
        cases.push(Case {
            name: format!("generated seed 11 #{index}"),
            network: network_at(skeleton, 11, index).network,
        });
    }
    // Non-square inputs everywhere, so a swapped height and width cannot cancel out.
    cases.extend([
        case(
            "even kernels, same padding",
            "[3x12x10] conv2x2:8 bn relu conv4x4:6 tanh -> 5",
        ),
        case(
            "asymmetric kernels",
            "[2x11x9] conv3x1:6 bn sigmoid conv1x3:5 relu conv2x3:4 conv5x2:3 -> 4",
        ),
        case(
            "stride-2 convs",
            "[3x21x19] conv3x3:8/2@same relu conv4x4:6/2@same bn tanh conv3x1:5/2@same conv2x1:4/2 -> 6",
        ),
        case(
            "average pools, zero padding counts",
            "[4x12x10] avgpool2x2 avgpool4x4 avgpool3x3 avgpool2x3 avgpool2x2/2 avgpool4x4/2@same conv1x1:5 -> 3",
        ),
        case(
            "max pools, -inf padding",
            "[4x12x10] maxpool2x2 maxpool4x4 maxpool5x5 maxpool2x3 maxpool3x3/2@same maxpool4x4/2@same conv1x1:5 -> 3",
        ),
        case(
            "valid padding",
            "[3x11x9] conv3x3:4@valid conv2x2:5@valid sigmoid maxpool3x3@valid avgpool2x2@valid -> 2",
        ),
        case(
            "batch norm after pools",
            "[3x10x10] conv5x5:8 avgpool3x3 bn maxpool2x2/2 bn sigmoid -> 4",
        ),
    ]);
    cases
}

/// The var store's tensors sorted by name: `variables()` is a `HashMap`, whose order (and
/// so the order of random draws) would change from run to run.
fn sorted_variables(vs: &nn::VarStore) -> Vec<(String, Tensor)> {
    let mut variables: Vec<_> = vs.variables().into_iter().collect();
    variables.sort_by(|a, b| a.0.cmp(&b.0));
    variables
}

/// Gives every tensor a non-trivial value: biases and BatchNorm's affine parameters random
/// (the protocol initialises them to 0 and 1), and BatchNorm's running statistics moved by
/// a few train-mode passes over shifted, scaled inputs and then perturbed, so an export that
/// used batch statistics, ignored the affine part or swapped mean and variance would show.
fn make_state_non_trivial(model: &TchNetwork, vs: &nn::VarStore, input: &[i64]) {
    tch::no_grad(|| {
        for (name, mut tensor) in sorted_variables(vs) {
            let shape = tensor.size();
            let options = (Kind::Float, Device::Cpu);
            let value = if name.ends_with(".bias") {
                Tensor::randn(&shape, options) * 0.2
            } else if shape.len() == 1 && name.ends_with(".weight") {
                Tensor::rand(&shape, options) + 0.5
            } else {
                continue;
            };
            tensor.copy_(&value);
        }
        for _ in 0..3 {
            let batch = Tensor::randn(input, (Kind::Float, Device::Cpu)) * 2.0 + 0.5;
            let _ = model.forward_t(&batch, true);
        }
        for (name, mut tensor) in sorted_variables(vs) {
            let shape = tensor.size();
            let options = (Kind::Float, Device::Cpu);
            if name.ends_with(".running_mean") {
                let shifted = &tensor + Tensor::randn(&shape, options) * 0.3;
                tensor.copy_(&shifted);
            } else if name.ends_with(".running_var") {
                let scaled = &tensor * (Tensor::rand(&shape, options) + 0.5);
                tensor.copy_(&scaled);
            }
        }
    });
}

/// What one case produced in each runtime.
struct Outputs {
    tch: Vec<f32>,
    onnx: Vec<u8>,
    path: std::path::PathBuf,
    input: Vec<f32>,
    shape: [usize; 4],
    _dir: tempfile::TempDir,
}

/// Builds the tch module with a seeded random state, runs it in eval mode and exports it
/// through the file path a user would use.
fn tch_and_export(case: &Case, seed: i64) -> Outputs {
    tch::manual_seed(seed);
    let network = &case.network;
    let vs = nn::VarStore::new(Device::Cpu);
    let model =
        TchNetwork::new(&vs.root(), network).unwrap_or_else(|e| panic!("case {}: {e}", case.name));
    let shape = [
        BATCH,
        network.input.channels as usize,
        network.input.height as usize,
        network.input.width as usize,
    ];
    let dims: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
    make_state_non_trivial(&model, &vs, &dims);
    let input = Tensor::randn(&dims, (Kind::Float, Device::Cpu));
    let logits = tch::no_grad(|| model.forward_t(&input, false));
    assert_eq!(
        logits.size(),
        vec![BATCH as i64, i64::from(network.classes)],
        "case {}",
        case.name
    );
    let tch_values = Vec::<f32>::try_from(&logits.reshape([-1])).expect("logits to vec");
    let input = Vec::<f32>::try_from(&input.reshape([-1])).expect("input to vec");
    assert!(
        tch_values.iter().all(|v| v.is_finite()),
        "case {}: tch logits are not finite",
        case.name
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("network.onnx");
    export_onnx(&model, &vs, &path).unwrap_or_else(|e| panic!("case {}: {e}", case.name));
    let onnx = std::fs::read(&path).expect("reads the exported file");
    Outputs {
        tch: tch_values,
        onnx,
        path,
        input,
        shape,
        _dir: dir,
    }
}

mod tract_side {
    use tract_onnx::prelude::*;

    /// Loads the exported file, pins the batch, optimizes, runs.
    pub fn run(path: &std::path::Path, shape: [usize; 4], input: &[f32]) -> Vec<f32> {
        let model = tract_onnx::onnx()
            .model_for_path(path)
            .expect("tract reads the export")
            .with_input_fact(0, f32::fact(shape).into())
            .expect("tract pins the input shape")
            .into_optimized()
            .expect("tract optimizes")
            .into_runnable()
            .expect("tract plans");
        let input = Tensor::from_shape(&shape, input).expect("input tensor");
        let outputs = model.run(tvec!(input.into())).expect("tract runs");
        outputs[0]
            .to_plain_array_view::<f32>()
            .expect("f32 logits")
            .iter()
            .copied()
            .collect()
    }
}

mod ort_side {
    use peephole_ort::OrtRuntime;
    use peephole_ort::ort;

    /// Runs the exported bytes in onnxruntime on one intra-op thread.
    pub fn run(runtime: &OrtRuntime, model: &[u8], shape: [usize; 4], input: &[f32]) -> Vec<f32> {
        let mut session = runtime
            .session(model, Some(1))
            .unwrap_or_else(|e| panic!("{}", super::with_causes(&e)));
        let input = ort::value::Tensor::from_array((shape, input.to_vec())).expect("input tensor");
        let outputs = session
            .run(ort::inputs![peephole_onnx::INPUT_NAME => input])
            .expect("onnxruntime runs");
        let (_, logits) = outputs[peephole_onnx::OUTPUT_NAME]
            .try_extract_tensor::<f32>()
            .expect("f32 logits");
        logits.to_vec()
    }
}

/// An error and its causes, one after the other: the loader's errors name the file at the top
/// and keep onnxruntime's own words in their sources.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        message.push_str(&format!(": {inner}"));
        cause = inner.source();
    }
    message
}

fn max_abs_difference(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "outputs differ in length");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn max_abs(values: &[f32]) -> f32 {
    values.iter().map(|v| v.abs()).fold(0.0, f32::max)
}

fn assert_close(case: &Case, pair: &str, a: &[f32], b: &[f32]) -> f32 {
    let difference = max_abs_difference(a, b);
    assert!(
        difference <= TOLERANCE,
        "case {} ({}): {pair} differ by {difference:e} > {TOLERANCE:e}\n{pair}: {a:?}\nvs {b:?}",
        case.name,
        case.network
    );
    difference
}

#[test]
fn tract_matches_tch_on_exported_networks() {
    let _torch = TORCH
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    tch::set_num_threads(1);
    let mut worst = 0.0f32;
    for (seed, case) in cases().iter().enumerate() {
        let outputs = tch_and_export(case, seed as i64);
        let tract = tract_side::run(&outputs.path, outputs.shape, &outputs.input);
        let difference = assert_close(case, "tch and tract", &outputs.tch, &tract);
        eprintln!(
            "{:<40} max|logit| {:>8.3}  tch-tract {difference:.2e}",
            case.name,
            max_abs(&outputs.tch)
        );
        worst = worst.max(difference);
    }
    eprintln!("worst tch-tract difference: {worst:.2e}");
}

#[test]
fn onnxruntime_matches_tch_and_tract_on_exported_networks() {
    let runtime = OrtRuntime::get()
        .unwrap_or_else(|e| panic!("onnxruntime is required: {}", with_causes(&e)));
    eprintln!("onnxruntime from {}", runtime.library().display());
    let _torch = TORCH
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    tch::set_num_threads(1);
    let mut worst = [0.0f32; 3];
    for (seed, case) in cases().iter().enumerate() {
        let outputs = tch_and_export(case, seed as i64);
        let tract = tract_side::run(&outputs.path, outputs.shape, &outputs.input);
        let ort = ort_side::run(runtime, &outputs.onnx, outputs.shape, &outputs.input);
        let differences = [
            assert_close(case, "tch and tract", &outputs.tch, &tract),
            assert_close(case, "tch and onnxruntime", &outputs.tch, &ort),
            assert_close(case, "tract and onnxruntime", &tract, &ort),
        ];
        eprintln!(
            "{:<40} max|logit| {:>8.3}  tch-tract {:.2e}  tch-ort {:.2e}  tract-ort {:.2e}",
            case.name,
            max_abs(&outputs.tch),
            differences[0],
            differences[1],
            differences[2]
        );
        for (worst, difference) in worst.iter_mut().zip(differences) {
            *worst = worst.max(difference);
        }
    }
    eprintln!(
        "worst: tch-tract {:.2e}  tch-ort {:.2e}  tract-ort {:.2e}",
        worst[0], worst[1], worst[2]
    );
}
