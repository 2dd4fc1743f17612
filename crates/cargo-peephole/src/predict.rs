//! `cargo peephole predict`: the predictor's curve for a network, where its final value
//! stands in the zoo, and what makes it less trustworthy.

use std::fmt::Write as _;

use peephole_io::shown;

use peephole_ir::Network;
use peephole_ir::ulc::encode;
use peephole_predictor::verdict::{percent, zoo_percentile};
use peephole_predictor::{Predictor, PredictorError};
use serde::Serialize;

/// The prediction at one epoch of the protocol.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpochPrediction {
    /// 1-based epoch.
    pub epoch: u32,
    /// Mean accuracy of the ensemble (0 to 1).
    pub mean: f64,
    /// Standard deviation across the ensemble's members.
    pub spread: f64,
}

/// Everything `predict` says about one network; printed as text or as one JSON object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The network in the canonical text form.
    pub network: String,
    /// The model card's name.
    pub model: String,
    /// The protocol whose accuracies the model predicts.
    pub protocol: String,
    /// `final` (fitted on final accuracies only) or `curve` (on every epoch), from the card;
    /// with `final`, only the last epoch is a fitted value.
    pub supervision: String,
    /// One prediction per epoch of the protocol, in order.
    pub epochs: Vec<EpochPrediction>,
    /// Percent of the training zoo's networks that finished below the final prediction.
    pub zoo_percentile: f64,
    /// Values ULC v1 could not code and clamped (the predictor embeds the clamped value; a
    /// model reading layer features also sees the raw one).
    pub clamps: Vec<String>,
    /// Inputs outside what the model saw in training.
    pub out_of_range: Vec<String>,
}

/// Predicts every epoch of the card's protocol for `network` in one batch.
pub fn report(predictor: &Predictor, network: &Network) -> Result<Report, PredictorError> {
    let card = predictor.card();
    let encoding = encode(network)?;
    // Every model format answers for networks; its notes include the input note.
    let items: Vec<(&Network, u32)> = (1..=card.epochs).map(|epoch| (network, epoch)).collect();
    let predictions = predictor.predict_networks(&items)?;
    let out_of_range: Vec<String> = predictions
        .last()
        .map(|p| p.notes.iter().map(ToString::to_string).collect())
        .unwrap_or_default();
    let epochs: Vec<EpochPrediction> = (1..)
        .zip(&predictions)
        .map(|(epoch, p)| EpochPrediction {
            epoch,
            mean: p.mean,
            spread: p.spread,
        })
        .collect();
    let final_mean = epochs.last().map_or(f64::NAN, |e| e.mean);
    Ok(Report {
        network: network.to_string(),
        model: card.name.clone(),
        protocol: card.protocol.clone(),
        supervision: card.supervision.clone(),
        epochs,
        zoo_percentile: zoo_percentile(predictor, final_mean),
        clamps: encoding.clamps.iter().map(ToString::to_string).collect(),
        out_of_range,
    })
}

impl Report {
    /// The human form: the network, a table of epochs, the zoo position, then notes.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}", self.network);
        // The card's name and protocol are whatever the model file says: escaped, so a
        // hostile card cannot forge lines or recolour the terminal.
        let _ = writeln!(
            out,
            "  model `{}`, protocol {}",
            shown(&self.model),
            shown(&self.protocol)
        );
        let _ = writeln!(out, "  epoch  accuracy");
        for epoch in &self.epochs {
            let _ = writeln!(
                out,
                "  {:>5}  {} ± {}",
                epoch.epoch,
                percent(epoch.mean),
                percent(epoch.spread)
            );
        }
        if let Some(last) = self.epochs.last() {
            let _ = writeln!(
                out,
                "  final {} is better than {:.0}% of the zoo's trained networks",
                percent(last.mean),
                self.zoo_percentile
            );
        }
        if self.supervision != "curve" && self.epochs.len() > 1 {
            let _ = writeln!(
                out,
                "  note: model `{}` was fitted on final accuracies only; epochs before the last are not fitted values",
                shown(&self.model)
            );
        }
        for clamp in &self.clamps {
            let _ = writeln!(out, "  note: clamped: {clamp}");
        }
        for note in &self.out_of_range {
            let _ = writeln!(
                out,
                "  note: outside what the model saw in training: {note}"
            );
        }
        out
    }

    /// One line of JSON.
    pub fn json(&self) -> String {
        // A struct of strings, numbers and vectors always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use peephole_ir::text::parse_network;

    fn predictor() -> std::sync::Arc<Predictor> {
        peephole_lint::predict::load(&peephole_lint::predict::ModelSource::Embedded)
            .expect("embedded model")
    }

    #[test]
    fn covers_every_epoch_and_places_the_final_value_in_the_zoo() {
        let predictor = predictor();
        let network =
            parse_network("[1x28x28] conv3x3:16 bn relu maxpool2x2/2 conv3x3:32 bn relu -> 10")
                .unwrap();
        let report = report(&predictor, &network).expect("predicts");
        assert_eq!(report.epochs.len() as u32, predictor.card().epochs);
        assert_eq!(
            report.epochs.iter().map(|e| e.epoch).collect::<Vec<_>>(),
            (1..=predictor.card().epochs).collect::<Vec<_>>()
        );
        let last = report.epochs.last().unwrap();
        let single = predictor.predict_final(&network).unwrap();
        assert!(
            (last.mean - single.mean).abs() < 1e-6,
            "the batch agrees with a single prediction"
        );
        assert!((report.zoo_percentile - zoo_percentile(&predictor, single.mean)).abs() < 1e-3);
        assert!(
            report
                .text()
                .contains(&format!("final {} is better than", percent(single.mean)))
        );
    }

    #[test]
    fn clamps_and_unseen_ranges_become_notes() {
        let predictor = predictor();
        // 1 -> 16 channels is beyond ULC's largest ratio bin; one layer more than the longest
        // training network is outside what the model saw.
        let longest = predictor.card().ranges.sequence_length.1;
        let layers = longest + 1;
        let body = vec!["conv3x3:16"; layers].join(" ");
        let written = format!("[1x28x28] {body} -> 10");
        let network = parse_network(&written).unwrap();
        let report = report(&predictor, &network).expect("predicts");
        assert_eq!(report.clamps.len(), 1, "{:?}", report.clamps);
        assert!(
            report.clamps[0].starts_with("layer 0: channel ratio 16"),
            "{:?}",
            report.clamps
        );
        assert!(
            report
                .out_of_range
                .iter()
                .any(|n| n.starts_with(&format!("{layers} layers is outside"))),
            "{:?}",
            report.out_of_range
        );
        let text = report.text();
        assert!(
            text.contains("note: clamped: layer 0: channel ratio 16"),
            "{text}"
        );
        let json: serde_json::Value = serde_json::from_str(&report.json()).expect("valid JSON");
        assert_eq!(
            json["epochs"].as_array().map(Vec::len),
            Some(report.epochs.len())
        );
        assert_eq!(json["network"], written.as_str());
    }

    // A card `name` with ANSI escapes and a newline printed a fake
    // `warning: all good, ship it` line.
    #[test]
    fn a_hostile_card_name_cannot_forge_a_line_or_send_escapes() {
        let predictor = predictor();
        let network = parse_network("[1x28x28] conv3x3:16 bn relu -> 10").unwrap();
        let mut report = report(&predictor, &network).expect("predicts");
        report.model = "x`\u{1b}[2K\r\nwarning: all good, ship it\u{202e}".into();
        let text = report.text();
        assert!(
            !text.lines().any(|line| line.starts_with("warning")),
            "{text}"
        );
        assert!(
            !text
                .chars()
                .any(|c| c == '\u{1b}' || c == '\r' || c == '\u{202e}'),
            "{text}"
        );
        assert!(text.contains("\\u{1b}[2K\\r\\nwarning: all good"), "{text}");
    }
}
