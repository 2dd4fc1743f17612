//! The evaluation's figures, drawn with plotters as SVG and PNG: the scatter of predicted
//! against real accuracy (one panel per method) that `cargo xtask eval` writes, and the
//! zoo-size curve (validation tau against training networks, per slice) that `cargo xtask
//! figure zoo-size` draws from a committed table. Text is rendered from the bundled DejaVu
//! Sans (`xtask/assets`), so no system font is needed.

use std::sync::Once;

use anyhow::Context;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};
use serde::Deserialize;

use peephole_baselines::Scale;
use peephole_eval::report::{PlotSummary, Series};

/// DejaVu Sans (Bitstream Vera license, `xtask/assets/DejaVuSans.LICENSE`).
const FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
/// The family name the figures ask for; registered from [`FONT`].
const FAMILY: &str = "sans-serif";

/// One scatter panel's size in pixels (SVG units alike).
pub const PANEL: u32 = 400;
/// Scatter panels per row.
pub const COLUMNS: usize = 3;

/// The diagonal y = x.
pub const DIAGONAL: RGBColor = RGBColor(214, 39, 40);
const POINT: RGBColor = RGBColor(31, 119, 180);
const MUTED: RGBColor = RGBColor(90, 90, 90);
/// Line colours of the zoo-size curve, one per slice.
const SLICE_COLORS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
];

fn register() {
    static FONT_REGISTERED: Once = Once::new();
    FONT_REGISTERED.call_once(|| {
        // The bundled font is valid; a failure here is a broken checkout, said at draw time
        // as plotters' own "font not found" error.
        let _ = register_font(FAMILY, FontStyle::Normal, FONT);
    });
}

/// A figure drawn on any plotters backend.
type Draw<'a> = dyn Fn(DrawingArea<BitMapBackend<'_>, Shift>) -> anyhow::Result<()> + 'a;

/// Renders `draw` into a `width` x `height` RGB bitmap and encodes it as PNG.
fn png(width: u32, height: u32, draw: &Draw<'_>) -> anyhow::Result<Vec<u8>> {
    register();
    let mut rgb = vec![255u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        draw(root)?;
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&rgb)?;
    writer.finish()?;
    Ok(out)
}

/// The scatter's size: [`COLUMNS`] panels per row, as many rows as the methods need.
pub fn scatter_size(series: &[Series]) -> (u32, u32) {
    let columns = series.len().clamp(1, COLUMNS);
    let rows = series.len().div_ceil(COLUMNS).max(1);
    (columns as u32 * PANEL, rows as u32 * PANEL)
}

/// The scatter as PNG; see [`draw_scatter`].
pub fn scatter_png(report: &PlotSummary, series: &[Series]) -> anyhow::Result<Vec<u8>> {
    let (width, height) = scatter_size(series);
    png(width, height, &|root| draw_scatter(&root, report, series))
}

/// The scatter as SVG; see [`draw_scatter`].
pub fn scatter_svg(report: &PlotSummary, series: &[Series]) -> anyhow::Result<String> {
    register();
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, scatter_size(series)).into_drawing_area();
        draw_scatter(&root, report, series)?;
    }
    Ok(out)
}

/// The smallest and largest finite values, widened by 5% so no point sits on the frame.
fn padded(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = if hi > lo { 0.05 * (hi - lo) } else { 0.05 };
    (lo - pad, hi + pad)
}

/// A panel's title: what the method is, in words.
pub fn title(id: &str, prefix: usize) -> String {
    match id {
        "peephole" => "Peephole".into(),
        "nu_svr" => format!("nu-SVR, epochs 1-{prefix}"),
        "last_seen" => format!("last seen, epoch {prefix}"),
        "ulc_ridge" => "ridge on ULC counts".into(),
        "gbt" => "boosted trees, architecture".into(),
        "log_macs" => "ln MACs".into(),
        "log_params" => "ln params".into(),
        other => other.into(),
    }
}

/// One panel per series: real final accuracy across, prediction up. Accuracy panels share
/// one range on both axes, so y = x is the diagonal and panels compare at a glance; a
/// ranker's score gets its own vertical range and no diagonal.
pub fn draw_scatter<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    report: &PlotSummary,
    series: &[Series],
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(plot_error)?;
    let columns = series.len().clamp(1, COLUMNS);
    let rows = series.len().div_ceil(COLUMNS).max(1);
    let panels = root.split_evenly((rows, columns));
    let scale_of = |id: &str| {
        report
            .methods
            .iter()
            .find(|m| m.id == id)
            .map_or(Scale::Accuracy, |m| m.scale)
    };
    let accuracy_range = padded(
        series
            .iter()
            .filter(|s| scale_of(&s.id) == Scale::Accuracy)
            .flat_map(|s| s.predicted.iter().chain(&s.actual).copied())
            .chain(series.iter().flat_map(|s| s.actual.iter().copied())),
    );
    for (area, s) in panels.iter().zip(series) {
        let method = report.methods.iter().find(|m| m.id == s.id);
        let scale = scale_of(&s.id);
        let y_range = match scale {
            Scale::Accuracy => accuracy_range,
            Scale::RankOnly => padded(s.predicted.iter().copied()),
        };
        let fmt = |v: Option<f64>, d: usize| v.map_or("-".to_string(), |v| format!("{v:.d$}"));
        let subtitle = match (method, scale) {
            (Some(m), Scale::Accuracy) => format!(
                "tau {}  MSE {}  R² {}  n {}",
                fmt(m.kendall_tau, 3),
                fmt(m.mse, 5),
                fmt(m.r2, 2),
                m.n
            ),
            (Some(m), Scale::RankOnly) => format!(
                "tau {}  rho {}  (rank only)  n {}",
                fmt(m.kendall_tau, 3),
                fmt(m.spearman, 3),
                m.n
            ),
            (None, _) => String::new(),
        };
        let area = area
            .titled(&title(&s.id, report.prefix_epochs), (FAMILY, 20))
            .map_err(plot_error)?;
        let mut chart = ChartBuilder::on(&area)
            .caption(subtitle, (FAMILY, 13).into_font().color(&MUTED))
            .margin(8)
            .x_label_area_size(34)
            .y_label_area_size(44)
            .build_cartesian_2d(accuracy_range.0..accuracy_range.1, y_range.0..y_range.1)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_labels(6)
            .y_labels(6)
            .x_desc(format!("real accuracy at epoch {}", report.epochs))
            .y_desc(match scale {
                Scale::Accuracy => "predicted",
                Scale::RankOnly => "score",
            })
            .label_style((FAMILY, 12))
            .light_line_style(WHITE)
            .draw()
            .map_err(plot_error)?;
        if scale == Scale::Accuracy {
            let lo = accuracy_range.0.max(y_range.0);
            let hi = accuracy_range.1.min(y_range.1);
            chart
                .draw_series(DashedLineSeries::new(
                    [(lo, lo), (hi, hi)],
                    5,
                    4,
                    DIAGONAL.stroke_width(1),
                ))
                .map_err(plot_error)?;
        }
        chart
            .draw_series(
                s.actual
                    .iter()
                    .zip(&s.predicted)
                    .filter(|(x, y)| x.is_finite() && y.is_finite())
                    .map(|(&x, &y)| Circle::new((x, y), 3, POINT.mix(0.65).filled())),
            )
            .map_err(plot_error)?;
    }
    root.present().map_err(plot_error)?;
    Ok(())
}

/// plotters' drawing errors as `anyhow` errors.
fn plot_error<E: std::error::Error + Send + Sync + 'static>(
    error: DrawingAreaErrorKind<E>,
) -> anyhow::Error {
    anyhow::anyhow!("drawing the figure: {error}")
}

/// One point of the zoo-size curve: a fit on part of the training side, scored on the whole
/// validation side.
#[derive(Debug, Clone, Deserialize)]
pub struct ZooSizePoint {
    /// Training networks the fit saw.
    pub training_networks: usize,
    /// Validation Kendall tau per slice name, in the table's slice order.
    pub tau: Vec<f64>,
}

/// The zoo-size table: what was fitted, the slices, and the points.
#[derive(Debug, Clone, Deserialize)]
pub struct ZooSizeCurve {
    /// What the figure shows, for its title.
    pub title: String,
    /// Slice names, one per tau column (with their validation sizes).
    pub slices: Vec<String>,
    /// The points, by training networks.
    pub points: Vec<ZooSizePoint>,
}

impl ZooSizeCurve {
    /// Reads and checks a table: every point has one tau per slice, all finite.
    pub fn read(path: &std::path::Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let curve: ZooSizeCurve = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a zoo-size table", path.display()))?;
        anyhow::ensure!(
            !curve.points.is_empty() && !curve.slices.is_empty(),
            "{}: no points or no slices",
            path.display()
        );
        for point in &curve.points {
            anyhow::ensure!(
                point.tau.len() == curve.slices.len() && point.tau.iter().all(|t| t.is_finite()),
                "{}: the point at {} training networks has {} finite tau values for {} slices",
                path.display(),
                point.training_networks,
                point.tau.iter().filter(|t| t.is_finite()).count(),
                curve.slices.len()
            );
        }
        Ok(curve)
    }
}

/// The zoo-size figure's size.
pub const ZOO_SIZE: (u32, u32) = (640, 420);

/// The zoo-size curve as PNG; see [`draw_zoo_size`].
pub fn zoo_size_png(curve: &ZooSizeCurve) -> anyhow::Result<Vec<u8>> {
    png(ZOO_SIZE.0, ZOO_SIZE.1, &|root| draw_zoo_size(&root, curve))
}

/// The zoo-size curve as SVG; see [`draw_zoo_size`].
pub fn zoo_size_svg(curve: &ZooSizeCurve) -> anyhow::Result<String> {
    register();
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, ZOO_SIZE).into_drawing_area();
        draw_zoo_size(&root, curve)?;
    }
    Ok(out)
}

/// Validation tau against training networks, one line per slice, points marked.
pub fn draw_zoo_size<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    curve: &ZooSizeCurve,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(plot_error)?;
    let x_max = curve
        .points
        .iter()
        .map(|p| p.training_networks)
        .max()
        .unwrap_or(1) as f64;
    let taus = curve.points.iter().flat_map(|p| p.tau.iter().copied());
    let (lo, hi) = padded(taus);
    let mut chart = ChartBuilder::on(root)
        .caption(&curve.title, (FAMILY, 16))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d(0.0..x_max * 1.08, lo.min(0.0).max(lo - 0.05)..hi)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc("training networks")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_desc("validation Kendall tau")
        .label_style((FAMILY, 12))
        .light_line_style(WHITE)
        .draw()
        .map_err(plot_error)?;
    for (index, slice) in curve.slices.iter().enumerate() {
        let color = SLICE_COLORS[index % SLICE_COLORS.len()];
        let points: Vec<(f64, f64)> = curve
            .points
            .iter()
            .map(|p| (p.training_networks as f64, p.tau[index]))
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(plot_error)?
            .label(slice)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], color.stroke_width(2)));
        chart
            .draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 4, color.filled())),
            )
            .map_err(plot_error)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .label_font((FAMILY, 13))
        .background_style(WHITE.mix(0.9))
        .border_style(MUTED)
        .draw()
        .map_err(plot_error)?;
    root.present().map_err(plot_error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use peephole_eval::inputs::Seen;
    use peephole_eval::testing::{run_on, zoo};

    use super::*;

    #[test]
    fn scatter_is_a_png_and_an_svg_with_one_panel_per_method() {
        let records = zoo();
        let (_, evaluation) = run_on(&records, &Seen::default(), &HashMap::new());
        let bytes = scatter_png(&evaluation.plot, &evaluation.series).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(&bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buffer).unwrap();
        // 7 methods: 3 columns by 3 rows of 400 px.
        assert_eq!((info.width, info.height), (1200, 1200));
        // Accuracy panels (Peephole first) draw the red diagonal; rankers (log MACs: the sixth
        // panel, third column of the second row) have none.
        let red = DIAGONAL;
        let count_red = |x0: usize, y0: usize| {
            (y0..y0 + 400)
                .flat_map(|y| (x0..x0 + 400).map(move |x| (x, y)))
                .filter(|&(x, y)| {
                    let at = (y * 1200 + x) * 3;
                    buffer[at..at + 3] == [red.0, red.1, red.2]
                })
                .count()
        };
        assert!(count_red(0, 0) > 50, "{}", count_red(0, 0));
        assert_eq!(count_red(800, 400), 0);
        // Every panel is titled, in words, in the SVG.
        let svg = scatter_svg(&evaluation.plot, &evaluation.series).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..40.min(svg.len())]);
        for series in &evaluation.series {
            let title = title(&series.id, evaluation.plot.prefix_epochs);
            assert!(svg.contains(&title), "no title {title:?} in the SVG");
        }
        assert!(svg.contains("real accuracy at epoch"));
    }

    #[test]
    fn the_zoo_size_table_draws_and_bad_tables_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("zoo-size.json");
        std::fs::write(
            &path,
            r#"{"title": "t", "slices": ["all (n = 3)", "v1"], "points": [
                {"training_networks": 10, "tau": [0.5, 0.4]},
                {"training_networks": 20, "tau": [0.6, 0.55]}]}"#,
        )
        .unwrap();
        let curve = ZooSizeCurve::read(&path).unwrap();
        let svg = zoo_size_svg(&curve).unwrap();
        assert!(svg.contains("all (n = 3)") && svg.contains("training networks"));
        let png = zoo_size_png(&curve).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        std::fs::write(
            &path,
            r#"{"title": "t", "slices": ["all", "v1"], "points": [{"training_networks": 10, "tau": [0.5]}]}"#,
        )
        .unwrap();
        let error = ZooSizeCurve::read(&path).unwrap_err().to_string();
        assert!(
            error.contains("1 finite tau values for 2 slices"),
            "{error}"
        );
    }
}
