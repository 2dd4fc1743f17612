//! The tch module builds and runs everything generator v2 and the reference set declare
//! (strided convs, 7x7 kernels, 1 to 256 channels, convs as dense layers): the output has one
//! logit per class and the module holds exactly the parameters shape inference counts.

use std::path::Path;

use peephole_ir::Network;
use peephole_train::module::TchNetwork;
use peephole_zoo::generator::free_form::network_at_v2;
use peephole_zoo::reference::read_network_list;
use tch::nn::{self, ModuleT};
use tch::{Device, Kind, Tensor};

fn check(network: &Network) {
    let store = nn::VarStore::new(Device::Cpu);
    let module = TchNetwork::new(&store.root(), network).expect("valid network");
    let images = Tensor::randn([2, 1, 28, 28], (Kind::Float, Device::Cpu));
    let logits = module.forward_t(&images, false);
    assert_eq!(logits.size(), vec![2, 10], "{network}");
    let held: i64 = store
        .trainable_variables()
        .iter()
        .map(Tensor::numel)
        .map(|n| n as i64)
        .sum();
    let counted = network.analyze().unwrap().params;
    assert_eq!(held as u64, counted, "{network}");
}

#[test]
fn generator_v2_networks_build_and_run_with_the_counted_parameters() {
    let mut strided = 0;
    let mut seven = 0;
    for index in 0..150 {
        let network = network_at_v2(3, index).network;
        strided += network
            .layers
            .iter()
            .filter(|l| matches!(l, peephole_ir::Layer::Conv { stride: 2, .. }))
            .count();
        seven += network
            .layers
            .iter()
            .filter(|l| l.window().is_some_and(|(k, _, _)| k.width == 7))
            .count();
        check(&network);
    }
    assert!(
        strided > 0 && seven > 0,
        "the sample holds no strided conv ({strided}) or 7x7 kernel ({seven})"
    );
}

#[test]
fn every_reference_network_builds_and_runs_with_the_counted_parameters() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/reference/reference-v1.txt");
    for listed in read_network_list(&path).unwrap() {
        check(&listed.network);
    }
}
