//! Training protocols as named, typed presets: the one definition of "how a zoo network is
//! trained" that the trainer follows and the predictor's accuracies refer to.
//!
//! Every field is part of a protocol's identity (`shared/spec/protocol-fmnist-budget-v1.md`):
//! changing one means a new protocol with a new name.

use serde::Serialize;

/// Which dataset a protocol trains on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dataset {
    /// Fashion-MNIST, four IDX files.
    FashionMnist,
    /// MNIST, four IDX files of the same layout.
    Mnist,
    /// CIFAR-10, the binary batches.
    Cifar10,
}

impl Dataset {
    /// The dataset's usual name, for sentences read by people who do not know our presets.
    pub const fn display_name(self) -> &'static str {
        match self {
            Dataset::FashionMnist => "Fashion-MNIST",
            Dataset::Mnist => "MNIST",
            Dataset::Cifar10 => "CIFAR-10",
        }
    }

    /// Channels, height and width of one image, and the number of classes: what a network
    /// trained on it takes and answers.
    pub const fn image_and_classes(self) -> ([u32; 3], u32) {
        match self {
            Dataset::FashionMnist | Dataset::Mnist => ([1, 28, 28], 10),
            Dataset::Cifar10 => ([3, 32, 32], 10),
        }
    }
}

/// Which file of a dataset a split reads from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceFile {
    /// The training file(s).
    Train,
    /// The test file(s).
    Test,
}

/// A fixed split: the first `count` images of one file, in file order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Split {
    /// File to read.
    pub source: SourceFile,
    /// How many leading images.
    pub count: usize,
}

/// Learning rate per epoch: `initial`, divided by `factor` at each epoch listed in `drops`
/// (1-based: the first epoch that uses the lower rate).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LrSchedule {
    /// Rate of the first epoch.
    pub initial: f64,
    /// Epochs (1-based) where the rate is divided.
    pub drops: &'static [u32],
    /// Divisor applied at each drop.
    pub factor: f64,
}

impl LrSchedule {
    /// The rate used during 1-based `epoch`.
    pub fn rate(&self, epoch: u32) -> f64 {
        let drops = self.drops.iter().filter(|&&d| epoch >= d).count();
        self.initial / self.factor.powi(drops as i32)
    }
}

/// A complete training protocol.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Protocol {
    /// The protocol's name, stored in every zoo record, model card and model.
    pub name: &'static str,
    /// Dataset.
    pub dataset: Dataset,
    /// Name of the generator-v1 skeleton its zoo networks are generated in
    /// (`peephole_zoo::generator::Skeleton::of_protocol` looks it up); `None` for protocols
    /// meant for users' own networks only. A name, not the type, so the IR does not depend on
    /// the generators.
    pub skeleton: Option<&'static str>,
    /// Training images.
    pub train: Split,
    /// Validation images, on which the curve is measured.
    pub validation: Split,
    /// Per-channel mean subtracted after scaling bytes to [0, 1].
    pub mean: &'static [f32],
    /// Per-channel standard deviation divided by after subtracting the mean.
    pub std: &'static [f32],
    /// Mini-batch size; the last partial batch is kept.
    pub batch_size: usize,
    /// Epochs, each followed by a validation measurement.
    pub epochs: u32,
    /// SGD learning rate per epoch.
    pub learning_rate: LrSchedule,
    /// SGD momentum (dampening 0, no Nesterov).
    pub momentum: f64,
    /// L2 weight decay added to every parameter's gradient.
    pub weight_decay: f64,
    /// Accuracy recorded for the diverged epoch and every later one (chance level).
    pub divergence_accuracy: f64,
}

/// `fmnist-budget-v1`: a CPU-sized Fashion-MNIST budget (see the spec for why lr 0.02).
pub const FMNIST_BUDGET_V1: Protocol = Protocol {
    name: "fmnist-budget-v1",
    dataset: Dataset::FashionMnist,
    skeleton: Some("fmnist-v1"),
    train: Split {
        source: SourceFile::Train,
        count: 6_000,
    },
    validation: Split {
        source: SourceFile::Test,
        count: 4_000,
    },
    mean: &[0.2860],
    std: &[0.3530],
    batch_size: 128,
    epochs: 8,
    learning_rate: LrSchedule {
        initial: 0.02,
        drops: &[7],
        factor: 10.0,
    },
    momentum: 0.9,
    weight_decay: 1e-4,
    divergence_accuracy: 0.1,
};

/// `mnist-paper`: the paper's optimizer (SGD 0.9, wd 1e-4, lr 0.1 divided by 10 every 80
/// epochs) on all of MNIST, 200 epochs (drops at 80 and 160), for users with a GPU.
pub const MNIST_PAPER: Protocol = Protocol {
    name: "mnist-paper",
    dataset: Dataset::Mnist,
    skeleton: Some("fmnist-v1"),
    train: Split {
        source: SourceFile::Train,
        count: 60_000,
    },
    validation: Split {
        source: SourceFile::Test,
        count: 10_000,
    },
    mean: &[0.1307],
    std: &[0.3081],
    batch_size: 128,
    epochs: 200,
    learning_rate: LrSchedule {
        initial: 0.1,
        drops: &[81, 161],
        factor: 10.0,
    },
    momentum: 0.9,
    weight_decay: 1e-4,
    divergence_accuracy: 0.1,
};

/// `cifar10-paper`: the paper's optimizer on all of CIFAR-10, lr 0.1 divided by 10 every 60
/// epochs, 180 epochs (drops at 60 and 120). No skeleton: it trains users' own networks.
pub const CIFAR10_PAPER: Protocol = Protocol {
    name: "cifar10-paper",
    dataset: Dataset::Cifar10,
    skeleton: None,
    train: Split {
        source: SourceFile::Train,
        count: 50_000,
    },
    validation: Split {
        source: SourceFile::Test,
        count: 10_000,
    },
    mean: &[0.4914, 0.4822, 0.4465],
    std: &[0.2470, 0.2435, 0.2616],
    batch_size: 128,
    epochs: 180,
    learning_rate: LrSchedule {
        initial: 0.1,
        drops: &[61, 121],
        factor: 10.0,
    },
    momentum: 0.9,
    weight_decay: 1e-4,
    divergence_accuracy: 0.1,
};

/// `fmnist-smoke-v1`: a tiny Fashion-MNIST run (512 training images, 2 epochs, about a
/// second per network on a CPU) for tests of the zoo machinery itself, such as killing the
/// generator many times. Its accuracies say nothing about a network; never train a
/// predictor on it.
pub const FMNIST_SMOKE_V1: Protocol = Protocol {
    name: "fmnist-smoke-v1",
    dataset: Dataset::FashionMnist,
    skeleton: Some("fmnist-v1"),
    train: Split {
        source: SourceFile::Train,
        count: 512,
    },
    validation: Split {
        source: SourceFile::Test,
        count: 256,
    },
    mean: &[0.2860],
    std: &[0.3530],
    batch_size: 64,
    epochs: 2,
    learning_rate: LrSchedule {
        initial: 0.02,
        drops: &[],
        factor: 10.0,
    },
    momentum: 0.9,
    weight_decay: 1e-4,
    divergence_accuracy: 0.1,
};

/// Every protocol this build knows, for lookup by name.
pub const PROTOCOLS: [Protocol; 4] = [
    FMNIST_BUDGET_V1,
    MNIST_PAPER,
    CIFAR10_PAPER,
    FMNIST_SMOKE_V1,
];

impl Protocol {
    /// The protocol in plain words (images, epochs, optimizer, where accuracy is measured),
    /// for a reader who does not know the preset's name: "42% after 8 epochs of
    /// fmnist-budget-v1" alone reads as "my LeNet gets 42%".
    pub fn in_plain_words(&self) -> String {
        let ([channels, height, width], classes) = self.dataset.image_and_classes();
        let rate = &self.learning_rate;
        let schedule = if rate.drops.is_empty() {
            format!("learning rate {}", rate.initial)
        } else {
            let drops: Vec<String> = rate.drops.iter().map(u32::to_string).collect();
            let when = match drops.as_slice() {
                [one] => format!("from epoch {one}"),
                many => format!("at epochs {}", many.join(" and ")),
            };
            format!(
                "learning rate {} divided by {} {when}",
                rate.initial, rate.factor
            )
        };
        format!(
            "{name} means trained from scratch on the first {train} {dataset} training images \
             ({channels}x{height}x{width}, {classes} classes) for {epochs} epochs of SGD (batch {batch}, \
             momentum {momentum}, {schedule}), with accuracy measured on the first {validation} \
             test images",
            name = self.name,
            train = thousands(self.train.count),
            dataset = self.dataset.display_name(),
            epochs = self.epochs,
            batch = self.batch_size,
            momentum = self.momentum,
            validation = thousands(self.validation.count),
        )
    }

    /// The accuracy of guessing: one over the number of classes.
    pub fn chance_accuracy(&self) -> f64 {
        let (_, classes) = self.dataset.image_and_classes();
        1.0 / f64::from(classes)
    }

    /// Whether a run with this final validation accuracy never trained: it ended within
    /// [`CHANCE_MARGIN`] of [`Protocol::chance_accuracy`]. The one definition of "stays at
    /// chance" that labels, reports and lints share; each seed's run is its own label.
    pub fn stays_at_chance(&self, final_accuracy: f64) -> bool {
        final_accuracy < self.chance_accuracy() + CHANCE_MARGIN
    }

    /// Finds a protocol by name.
    pub fn by_name(name: &str) -> Option<Protocol> {
        PROTOCOLS.into_iter().find(|p| p.name == name)
    }
}

/// How far above chance a final accuracy may end and still count as a run that never trained
/// ([`Protocol::stays_at_chance`]): three points. A network that outputs one class scores that
/// class's share of the validation images (9.9% to 10.2% for the ten classes of
/// fmnist-budget-v1's 4,000), and one that barely moves adds noise; the committed zoo of
/// fmnist-budget-v1 (1,270 runs, 2026-12-04) has 65 runs between 9.88% and 10.85% and none
/// between 10.85% and 14.97%, so any margin from 1 to 4.9 points draws the same line, and 3
/// sits in the middle of that gap.
pub const CHANCE_MARGIN: f64 = 0.03;

/// `6000` as `6,000`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_stays_at_chance_within_three_points_of_one_over_the_classes() {
        assert_eq!(FMNIST_BUDGET_V1.chance_accuracy(), 0.1);
        for (accuracy, never_trained) in [
            (0.0988, true),
            (0.1, true),
            (0.1085, true),
            (0.1299, true),
            (0.13, false),
            (0.1497, false),
            (0.87, false),
        ] {
            assert_eq!(
                FMNIST_BUDGET_V1.stays_at_chance(accuracy),
                never_trained,
                "{accuracy}"
            );
        }
        // The protocol records a diverged run at chance, so divergence counts as never trained.
        for protocol in PROTOCOLS {
            assert!(protocol.stays_at_chance(protocol.divergence_accuracy));
        }
    }

    #[test]
    fn the_budget_protocol_in_plain_words_names_images_epochs_and_optimizer() {
        assert_eq!(
            FMNIST_BUDGET_V1.in_plain_words(),
            "fmnist-budget-v1 means trained from scratch on the first 6,000 Fashion-MNIST training images \
             (1x28x28, 10 classes) for 8 epochs of SGD (batch 128, momentum 0.9, learning rate 0.02 \
             divided by 10 from epoch 7), with accuracy measured on the first 4,000 test images"
        );
        assert!(
            CIFAR10_PAPER
                .in_plain_words()
                .contains("50,000 CIFAR-10 training images (3x32x32, 10 classes) for 180 epochs")
        );
        assert!(
            FMNIST_SMOKE_V1
                .in_plain_words()
                .contains("learning rate 0.02)")
        );
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }

    #[test]
    fn fmnist_budget_learning_rate_drops_after_epoch_six() {
        let lr = FMNIST_BUDGET_V1.learning_rate;
        for epoch in 1..=6 {
            assert!((lr.rate(epoch) - 0.02).abs() < 1e-12, "epoch {epoch}");
        }
        for epoch in 7..=8 {
            assert!((lr.rate(epoch) - 0.002).abs() < 1e-12, "epoch {epoch}");
        }
    }

    #[test]
    fn paper_presets_divide_by_ten_every_sixty_or_eighty_epochs() {
        assert!((CIFAR10_PAPER.learning_rate.rate(60) - 0.1).abs() < 1e-12);
        assert!((CIFAR10_PAPER.learning_rate.rate(61) - 0.01).abs() < 1e-12);
        assert!((CIFAR10_PAPER.learning_rate.rate(121) - 0.001).abs() < 1e-12);
        assert!((MNIST_PAPER.learning_rate.rate(80) - 0.1).abs() < 1e-12);
        assert!((MNIST_PAPER.learning_rate.rate(81) - 0.01).abs() < 1e-12);
    }

    #[test]
    fn protocols_are_found_by_name_and_names_are_unique() {
        for p in PROTOCOLS {
            assert_eq!(Protocol::by_name(p.name), Some(p));
        }
        assert_eq!(Protocol::by_name("nope"), None);
    }
}
