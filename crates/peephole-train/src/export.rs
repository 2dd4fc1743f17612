//! Trained tch network -> ONNX file: reads the var store's tensors under their names and
//! hands them to `peephole-onnx`, the workspace's one ONNX writer. The parity tests run the
//! exports in onnxruntime through `peephole-ort`, the workspace's one loader of it.

use std::collections::BTreeMap;
use std::path::Path;

use peephole_onnx::{OnnxError, OnnxGraph, Weight};
use tch::{Device, Kind, Tensor, nn};
use thiserror::Error;

use crate::module::TchNetwork;

/// Why a trained network could not be exported.
#[derive(Debug, Error)]
pub enum ExportError {
    /// libtorch could not hand over a tensor's values (device or dtype trouble).
    #[error("cannot read var-store tensor `{name}` for the ONNX export: {source}")]
    Torch {
        /// The var-store name.
        name: String,
        /// libtorch's message.
        source: tch::TchError,
    },
    /// The tensor has a negative extent, which no real tensor has.
    #[error("var-store tensor `{name}` reports the impossible shape {dims:?}")]
    BadShape {
        /// The var-store name.
        name: String,
        /// The shape libtorch reported.
        dims: Vec<i64>,
    },
    /// The ONNX side refused (missing weight, wrong shape, write failure); its message
    /// names the culprit.
    #[error(transparent)]
    Onnx(#[from] OnnxError),
}

/// One tensor as `f32` values in row-major order, whatever its device and dtype.
fn tensor_weight(name: &str, tensor: &Tensor) -> Result<Weight, ExportError> {
    let torch = |source| ExportError::Torch {
        name: name.to_owned(),
        source,
    };
    let size = tensor.size();
    let dims = size
        .iter()
        .map(|&d| usize::try_from(d))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| ExportError::BadShape {
            name: name.to_owned(),
            dims: size.clone(),
        })?;
    let flat = tensor
        .f_detach()
        .and_then(|t| t.f_to(Device::Cpu))
        .and_then(|t| t.f_to_kind(Kind::Float))
        .and_then(|t| t.f_contiguous())
        .and_then(|t| t.f_reshape([-1]))
        .map_err(torch)?;
    let values = Vec::<f32>::try_from(&flat).map_err(torch)?;
    Ok(Weight::new(dims, values)?)
}

/// Every variable of `vs` (trainable or not: BatchNorm's running statistics are
/// buffers) as named `f32` tensors, the form the ONNX exporter reads.
pub fn var_store_weights(vs: &nn::VarStore) -> Result<BTreeMap<String, Weight>, ExportError> {
    let _no_grad = tch::no_grad_guard();
    vs.variables()
        .iter()
        .map(|(name, tensor)| Ok((name.clone(), tensor_weight(name, tensor)?)))
        .collect()
}

/// The ONNX graph of `model` with the values in `vs`, for callers that add metadata (a
/// protocol, a curve) before writing.
///
/// `vs` must be the var store `model` was built under (its root): names are
/// `layers.{i}.*` and `head.*` as [`crate::module`] creates them.
pub fn onnx_graph(model: &TchNetwork, vs: &nn::VarStore) -> Result<OnnxGraph, ExportError> {
    let weights = var_store_weights(vs)?;
    Ok(peephole_onnx::network_graph(model.network(), &weights)?)
}

/// Writes `model` with its trained values to `path` as ONNX (input `input`
/// `[batch, C, H, W]`, output `logits` `[batch, classes]`); the file appears whole or
/// not at all.
pub fn export_onnx(
    model: &TchNetwork,
    vs: &nn::VarStore,
    path: impl AsRef<Path>,
) -> Result<(), ExportError> {
    onnx_graph(model, vs)?.write(path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::module::{HEAD_PATH, LAYERS_PATH};

    #[test]
    fn exporter_uses_the_trainer_var_store_paths() {
        assert_eq!(peephole_onnx::LAYERS_PATH, LAYERS_PATH);
        assert_eq!(peephole_onnx::HEAD_PATH, HEAD_PATH);
    }

    #[test]
    fn var_store_holds_exactly_the_tensors_the_exporter_reads() {
        let network: peephole_ir::Network =
            "[2x6x5] conv3x1:4 bn relu avgpool2x2 conv1x1:3/2 tanh -> 3"
                .parse()
                .expect("parses");
        let vs = nn::VarStore::new(Device::Cpu);
        let _model = TchNetwork::new(&vs.root(), &network).expect("valid network");
        let weights = var_store_weights(&vs).expect("reads the var store");
        let mut stored: Vec<(String, Vec<usize>)> = weights
            .iter()
            .map(|(name, w)| (name.clone(), w.dims().to_vec()))
            .collect();
        let mut wanted: Vec<(String, Vec<usize>)> = peephole_onnx::weight_specs(&network)
            .expect("valid network")
            .into_iter()
            .map(|s| (s.name, s.dims))
            .collect();
        stored.sort();
        wanted.sort();
        assert_eq!(stored, wanted);
    }
}
