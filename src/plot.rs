//! Figures as a paper shows them: grouped bars of each design's figure normalised to TC, and
//! scatters of each design's points (figure 15), written as PNG and SVG, titled and captioned with
//! the energy table and modelling assumptions.

use std::path::Path;

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::FontStyle;

/// A grouped bar chart: one group per x label, one bar per series (`None`: no bar, unsupported).
pub struct BarChart {
    pub title: String,
    pub caption: String,
    pub y_label: String,
    pub groups: Vec<String>,
    pub series: Vec<(String, Vec<Option<f64>>)>,
}

const COLORS: [RGBColor; 6] = [
    RGBColor(120, 120, 120),
    RGBColor(76, 114, 176),
    RGBColor(221, 132, 82),
    RGBColor(129, 114, 179),
    RGBColor(196, 78, 82),
    RGBColor(85, 168, 104),
];

/// Registers the shipped font once: the bitmap backend draws text with it.
fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // The shipped font parses; if it ever did not, text would be missing, not the figure.
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            include_bytes!("../assets/fonts/DejaVuSans.ttf"),
        );
    });
}

/// A white figure with the caption at its foot; returns the area above it for the chart.
fn framed<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    caption: &str,
) -> Result<DrawingArea<DB, Shift>, String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let (_, height) = root.dim_in_pixel();
    let (body, foot) = root.split_vertically(height - 50);
    for (i, line) in caption.lines().enumerate() {
        foot.draw_text(line, &("sans-serif", 13).into_font().color(&BLACK), (12, 6 + 18 * i as i32))
            .map_err(err)?;
    }
    Ok(body)
}

/// The series' legend, in the upper right corner.
fn legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
) -> Result<(), String> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 13))
        .draw()
        .map_err(|e| e.to_string())
}

impl BarChart {
    /// Writes `<stem>.png` and `<stem>.svg`.
    pub fn write(&self, stem: &Path) -> Result<(), String> {
        register_font();
        let size = ((180 + 110 * self.groups.len() as u32).max(1000), 640);
        let png = stem.with_extension("png");
        let svg = stem.with_extension("svg");
        self.draw(BitMapBackend::new(&png, size).into_drawing_area())?;
        self.draw(SVGBackend::new(&svg, size).into_drawing_area())
    }

    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>) -> Result<(), String> {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        let body = framed(&root, &self.caption)?;
        let max = self.series.iter().flat_map(|(_, v)| v.iter().flatten()).fold(1.0f64, |m, &v| m.max(v));
        let n = self.groups.len();
        let mut chart = ChartBuilder::on(&body)
            .caption(&self.title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.5f64..n as f64 - 0.5, 0f64..max * 1.12)
            .map_err(err)?;
        let groups = self.groups.clone();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&move |x| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 {
                    groups.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_desc(self.y_label.as_str())
            .label_style(("sans-serif", 13))
            .draw()
            .map_err(err)?;
        let width_per_bar = 0.8 / self.series.len() as f64;
        for (s, (name, values)) in self.series.iter().enumerate() {
            let color = COLORS[s % COLORS.len()];
            let bars = values.iter().enumerate().filter_map(|(g, v)| {
                let x0 = g as f64 - 0.4 + s as f64 * width_per_bar;
                v.map(|v| Rectangle::new([(x0, 0.0), (x0 + width_per_bar * 0.92, v)], color.filled()))
            });
            chart
                .draw_series(bars)
                .map_err(err)?
                .label(name.as_str())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
        }
        // TC's level: every bar is relative to it.
        chart
            .draw_series(LineSeries::new([(-0.5, 1.0), (n as f64 - 0.5, 1.0)], BLACK.stroke_width(1)))
            .map_err(err)?;
        legend(&mut chart)?;
        root.present().map_err(err)
    }
}

/// `(x, y, on the frontier)`.
pub type ScatterPoint = (f64, f64, bool);

/// A scatter of labelled points per series: the marked points filled, the others hollow. The
/// marked points of all series are joined by one black line (figure 15: EDP against accuracy
/// loss, the Pareto frontier), or with `lines`, each series' by a line of its colour (figure
/// 6(a): latency against sparsity degree through the degrees a design supports).
pub struct Scatter {
    pub title: String,
    pub caption: String,
    pub x_label: String,
    pub y_label: String,
    /// Per series: its points.
    pub series: Vec<(String, Vec<ScatterPoint>)>,
    pub lines: bool,
}

impl Scatter {
    /// Writes `<stem>.png` and `<stem>.svg`.
    pub fn write(&self, stem: &Path) -> Result<(), String> {
        register_font();
        let size = (1000, 640);
        self.draw(BitMapBackend::new(&stem.with_extension("png"), size).into_drawing_area())?;
        self.draw(SVGBackend::new(&stem.with_extension("svg"), size).into_drawing_area())
    }

    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>) -> Result<(), String> {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        let body = framed(&root, &self.caption)?;
        let points = || self.series.iter().flat_map(|(_, p)| p.iter());
        let x_max = points().fold(0.0f64, |m, p| m.max(p.0)) * 1.15 + 0.1;
        let y_max = points().fold(1.0f64, |m, p| m.max(p.1)) * 1.12;
        let mut chart = ChartBuilder::on(&body)
            .caption(&self.title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..x_max, 0f64..y_max)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(self.x_label.as_str())
            .y_desc(self.y_label.as_str())
            .label_style(("sans-serif", 13))
            .draw()
            .map_err(err)?;
        for (s, (name, pts)) in self.series.iter().enumerate() {
            let color = COLORS[s % COLORS.len()];
            if self.lines {
                let mut line: Vec<(f64, f64)> = pts.iter().filter(|p| p.2).map(|p| (p.0, p.1)).collect();
                line.sort_by(|a, b| a.0.total_cmp(&b.0));
                chart.draw_series(LineSeries::new(line, color.stroke_width(2))).map_err(err)?;
            }
            chart
                .draw_series(pts.iter().map(|&(x, y, on)| {
                    let style = if on { color.filled() } else { color.stroke_width(2) };
                    Circle::new((x, y), 6, style)
                }))
                .map_err(err)?
                .label(name.as_str())
                .legend(move |(x, y)| Circle::new((x + 6, y), 5, color.filled()));
        }
        if !self.lines {
            let mut frontier: Vec<(f64, f64)> = points().filter(|p| p.2).map(|p| (p.0, p.1)).collect();
            frontier.sort_by(|a, b| a.0.total_cmp(&b.0));
            chart.draw_series(LineSeries::new(frontier, BLACK.stroke_width(1))).map_err(err)?;
        }
        legend(&mut chart)?;
        root.present().map_err(err)
    }
}
