//! The cost/performance chart of a report, as SVG or PNG. Several memory sizes: memory on x (log
//! scale when the sizes span 8× or more), p50 duration with its p10–p90 band on the left axis,
//! cost per million invocations on the right, failed sizes marked with their error, the
//! recommendation highlighted and labelled. One size (logs of a single configuration): the
//! distribution of Max Memory Used against the configured and the recommended size.
//!
//! Text must render on machines with no fonts at all, so the chart is laid out with Noto Sans
//! (embedded from the `notosans` crate, SIL Open Font License) and PNGs are rasterised from the SVG
//! by resvg with only that font loaded: no fontconfig, no system fonts.

use crate::parse::context::date_of;
use crate::report::{ConfigReport, TuningReport};
use anyhow::{Context, Result};
use plotters::prelude::*;
use plotters::style::FontStyle;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::sync::{Arc, Once};

/// Width and height of a chart, pixels.
pub const SIZE: (u32, u32) = (1000, 600);

const FAMILY: &str = "sans-serif";
const BLUE: RGBColor = RGBColor(31, 119, 180);
const ORANGE: RGBColor = RGBColor(255, 127, 14);
const GREEN: RGBColor = RGBColor(44, 160, 44);
const GREY: RGBColor = RGBColor(110, 110, 110);
const FAIL: RGBColor = RGBColor(200, 0, 0);

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The embedded font is valid: the crate ships it for exactly this use.
        let _ = plotters::style::register_font(FAMILY, FontStyle::Normal, notosans::REGULAR_TTF);
        let _ = plotters::style::register_font(FAMILY, FontStyle::Bold, notosans::BOLD_TTF);
    });
}

/// The chart's title: function, region, architecture and the date of the data.
pub fn title(r: &TuningReport) -> String {
    let date = r
        .input
        .as_ref()
        .and_then(|i| i.last_timestamp_ms)
        .map(date_of)
        .unwrap_or_else(|| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64);
            date_of(now)
        });
    let unenforced = if r.limits.as_deref() == Some("unenforced") {
        " · limits NOT enforced"
    } else {
        ""
    };
    format!(
        "{} · {} · {} · {}{unenforced}",
        r.function.as_deref().unwrap_or("Lambda function"),
        r.region,
        r.architecture,
        date
    )
}

/// Renders the chart as an SVG document.
pub fn svg(r: &TuningReport) -> Result<String> {
    register_font();
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
        let sizes: Vec<&ConfigReport> =
            r.configs.iter().filter(|c| c.memory_mb.is_some()).collect();
        if sizes.len() >= 2 {
            trade_off(&root, r, &sizes)?;
        } else {
            memory_distribution(&root, r)?;
        }
        root.present()
            .map_err(|e| anyhow::anyhow!("drawing the chart: {e:?}"))?;
    }
    Ok(out)
}

/// Renders the chart as a PNG image (the SVG, rasterised with the embedded font).
pub fn png(r: &TuningReport) -> Result<Vec<u8>> {
    svg_to_png(&svg(r)?)
}

/// Rasterises an SVG with only the embedded Noto Sans available for text.
pub fn svg_to_png(svg: &str) -> Result<Vec<u8>> {
    let mut db = resvg::usvg::fontdb::Database::new();
    db.load_font_data(notosans::REGULAR_TTF.to_vec());
    db.load_font_data(notosans::BOLD_TTF.to_vec());
    db.set_sans_serif_family("Noto Sans");
    let opt = resvg::usvg::Options {
        font_family: "Noto Sans".into(),
        fontdb: Arc::new(db),
        ..Default::default()
    };
    let tree = resvg::usvg::Tree::from_str(svg, &opt).context("reading the chart's SVG")?;
    let size = tree.size().to_int_size();
    let mut pixmap =
        resvg::tiny_skia::Pixmap::new(size.width(), size.height()).context("allocating the PNG")?;
    pixmap.fill(resvg::tiny_skia::Color::WHITE);
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::identity(),
        &mut pixmap.as_mut(),
    );
    pixmap.encode_png().context("encoding the PNG")
}

fn err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow::anyhow!("drawing the chart: {e:?}")
}

/// What went wrong at a size, for its marker: "OOM ×3", "timeout ×1", "errors ×5".
pub fn failure_label(c: &ConfigReport) -> Option<String> {
    if c.out_of_memory > 0 {
        Some(format!("out of memory ×{}", c.out_of_memory))
    } else if c.timeouts > 0 {
        Some(format!("timeout ×{}", c.timeouts))
    } else if c.errors + c.failures > 0 {
        let kind = c
            .error_types
            .keys()
            .next()
            .cloned()
            .unwrap_or_else(|| "errors".into());
        Some(format!("{kind} ×{}", c.errors + c.failures))
    } else {
        None
    }
}

/// The first sentence of the recommendation's reason, short enough for a caption.
fn short_reason(r: &TuningReport) -> String {
    let reason = &r.recommendation.reason;
    let first = reason.split(". ").next().unwrap_or(reason);
    let mut s: String = first.chars().take(150).collect();
    if first.chars().count() > 150 {
        s.push('…');
    }
    s
}

fn trade_off<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    r: &TuningReport,
    sizes: &[&ConfigReport],
) -> Result<()> {
    root.fill(&WHITE).map_err(err)?;
    let mems: Vec<f64> = sizes
        .iter()
        .filter_map(|c| c.memory_mb)
        .map(f64::from)
        .collect();
    let (lo, hi) = (mems[0], mems[mems.len() - 1]);
    let rec = r.recommendation.memory_mb.map(f64::from);
    let all_lo = rec.map_or(lo, |m| m.min(lo));
    let all_hi = rec.map_or(hi, |m| m.max(hi));
    // Log scale when the sizes span 8× or more: x is then log2(MB).
    let log = all_hi / all_lo >= 8.0;
    let tx = move |m: f64| if log { m.log2() } else { m };
    let pad = (tx(all_hi) - tx(all_lo)).max(1e-9) * 0.08;
    let x_range = (tx(all_lo) - pad)..(tx(all_hi) + pad);
    // plotters loops for ever on an infinite range; the parser lets no such size through, and
    // this keeps it that way for any report.
    anyhow::ensure!(
        all_lo >= 1.0 && x_range.start.is_finite() && x_range.end.is_finite(),
        "cannot chart memory sizes from {all_lo} to {all_hi} MB"
    );
    // Ticks at the measured sizes, so each point can be read off the axis; a size too close to
    // the previous tick to label legibly (1536 beside 1769) is left to its point.
    let span = x_range.end - x_range.start;
    let mut ticks: Vec<f64> = Vec::new();
    for x in mems.iter().map(|&m| tx(m)) {
        if ticks.last().is_none_or(|&t| x - t >= span * 0.06) {
            ticks.push(x);
        }
    }
    let d_max = sizes.iter().map(|c| c.duration_ms.p90).fold(0.0, f64::max) * 1.15;
    let c_max = sizes
        .iter()
        .filter_map(|c| c.cost_per_million_usd)
        .fold(0.0, f64::max)
        * 1.15;

    let (top, bottom) = root.split_vertically(SIZE.1 - 40);
    let mut chart = ChartBuilder::on(&top)
        .caption(title(r), (FAMILY, 24))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .right_y_label_area_size(84)
        .build_cartesian_2d(x_range.clone(), 0.0..d_max.max(1e-6))
        .map_err(err)?
        .set_secondary_coord(x_range, 0.0..c_max.max(1e-9));
    // plotters places x ticks by its own rule; these are drawn by hand below.
    chart
        .configure_mesh()
        .x_desc(if log {
            "memory (MB, log scale)"
        } else {
            "memory (MB)"
        })
        .y_desc("duration (ms)")
        .x_labels(0)
        .y_label_formatter(&|v| format!("{v:.0}"))
        .label_style((FAMILY, 15))
        .axis_desc_style((FAMILY, 16))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err)?;
    for &t in &ticks {
        chart
            .draw_series(LineSeries::new(
                [(t, 0.0), (t, d_max.max(1e-6))],
                BLACK.mix(0.2),
            ))
            .map_err(err)?;
        let (px, py) = chart.backend_coord(&(t, 0.0));
        let m = if log { 2f64.powf(t) } else { t };
        top.draw(&Text::new(
            format!("{m:.0}"),
            (px, py + 8),
            (FAMILY, 15)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Center, VPos::Top)),
        ))
        .map_err(err)?;
    }
    chart
        .configure_secondary_axes()
        .y_desc("cost per 1M invocations (USD)")
        .y_label_formatter(&|v| format!("${v:.2}"))
        .label_style((FAMILY, 15))
        .axis_desc_style((FAMILY, 16))
        .draw()
        .map_err(err)?;

    // The p10–p90 band, then the p50 line.
    let mut band: Vec<(f64, f64)> = sizes
        .iter()
        .map(|c| (tx(f64::from(c.memory_mb.unwrap_or(0))), c.duration_ms.p90))
        .collect();
    band.extend(
        sizes
            .iter()
            .rev()
            .map(|c| (tx(f64::from(c.memory_mb.unwrap_or(0))), c.duration_ms.p10)),
    );
    chart
        .draw_series(std::iter::once(Polygon::new(band, BLUE.mix(0.15).filled())))
        .map_err(err)?
        .label("duration p10–p90")
        .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 20, y + 6)], BLUE.mix(0.15).filled()));
    let p50: Vec<(f64, f64)> = sizes
        .iter()
        .map(|c| (tx(f64::from(c.memory_mb.unwrap_or(0))), c.duration_ms.p50))
        .collect();
    chart
        .draw_series(LineSeries::new(p50.clone(), BLUE.stroke_width(3)))
        .map_err(err)?
        .label("duration p50")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.stroke_width(3)));
    chart
        .draw_series(p50.iter().map(|p| Circle::new(*p, 4, BLUE.filled())))
        .map_err(err)?;
    let cost: Vec<(f64, f64)> = sizes
        .iter()
        .filter_map(|c| Some((tx(f64::from(c.memory_mb?)), c.cost_per_million_usd?)))
        .collect();
    chart
        .draw_secondary_series(LineSeries::new(cost.clone(), ORANGE.stroke_width(2)))
        .map_err(err)?
        .label("cost per 1M invocations")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], ORANGE.stroke_width(2)));
    chart
        .draw_secondary_series(
            cost.iter()
                .map(|p| TriangleMarker::new(*p, 5, ORANGE.filled())),
        )
        .map_err(err)?;

    // Failed sizes: a cross at the size and what failed.
    for c in sizes {
        if let (Some(label), Some(m)) = (failure_label(c), c.memory_mb) {
            let at = (tx(f64::from(m)), c.duration_ms.p50);
            chart
                .draw_series(std::iter::once(Cross::new(at, 8, FAIL.stroke_width(3))))
                .map_err(err)?;
            chart
                .draw_series(std::iter::once(
                    EmptyElement::at(at)
                        + Text::new(label, (10, -22), (FAMILY, 15).into_font().color(&FAIL)),
                ))
                .map_err(err)?;
        }
    }

    // The recommendation: a vertical line and a label.
    if let Some(m) = rec {
        let x = tx(m);
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(x, 0.0), (x, d_max)],
                GREEN.stroke_width(2),
            )))
            .map_err(err)?
            .label(format!("recommended: {m:.0} MB"))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], GREEN.stroke_width(2)));
        // Labelled near the x axis, clear of the legend at the top.
        chart
            .draw_series(std::iter::once(
                EmptyElement::at((x, 0.0))
                    + Text::new(
                        format!("recommended {m:.0} MB"),
                        (6, -24),
                        (FAMILY, 16)
                            .into_font()
                            .style(FontStyle::Bold)
                            .color(&GREEN),
                    ),
            ))
            .map_err(err)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperMiddle)
        .background_style(WHITE.mix(0.85))
        .border_style(GREY)
        .label_font((FAMILY, 14))
        .draw()
        .map_err(err)?;
    bottom
        .draw_text(
            &short_reason(r),
            &(FAMILY, 14).into_font().color(&BLACK),
            (20, 8),
        )
        .map_err(err)?;
    Ok(())
}

fn memory_distribution<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    r: &TuningReport,
) -> Result<()> {
    root.fill(&WHITE).map_err(err)?;
    let c = r
        .configs
        .first()
        .context("the report has no configurations")?;
    let configured = c.memory_mb.map(f64::from);
    let rec = r.recommendation.memory_mb.map(f64::from);
    let (top, bottom) = root.split_vertically(SIZE.1 - 40);
    let Some(mem) = &c.max_memory_used_mb else {
        top.draw_text(
            "The records carry no Max Memory Used: nothing to chart.",
            &(FAMILY, 20).into_font().color(&BLACK),
            (40, 260),
        )
        .map_err(err)?;
        return Ok(());
    };
    let x_max = [configured, rec, Some(mem.max)]
        .into_iter()
        .flatten()
        .fold(0.0, f64::max)
        * 1.12;
    let mut chart = ChartBuilder::on(&top)
        .caption(format!("{} · Max Memory Used", title(r)), (FAMILY, 24))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(24)
        .build_cartesian_2d(0.0..x_max, 0.0..1.0)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("memory (MB)")
        .disable_y_mesh()
        .disable_y_axis()
        .light_line_style(WHITE.mix(0.0))
        .x_label_formatter(&|v| format!("{v:.0}"))
        .label_style((FAMILY, 15))
        .axis_desc_style((FAMILY, 16))
        .draw()
        .map_err(err)?;
    // Whiskers min–max, a box p50–p99, a tick at p90, a dot at the mean.
    let y = 0.45;
    chart
        .draw_series([
            PathElement::new(vec![(mem.min, y), (mem.max, y)], BLUE.stroke_width(2)),
            PathElement::new(
                vec![(mem.min, y - 0.05), (mem.min, y + 0.05)],
                BLUE.stroke_width(2),
            ),
            PathElement::new(
                vec![(mem.max, y - 0.05), (mem.max, y + 0.05)],
                BLUE.stroke_width(2),
            ),
        ])
        .map_err(err)?;
    chart
        .draw_series(std::iter::once(Rectangle::new(
            [
                (mem.p50, y - 0.1),
                (mem.p99.max(mem.p50 + x_max * 0.002), y + 0.1),
            ],
            BLUE.mix(0.3).filled(),
        )))
        .map_err(err)?;
    chart
        .draw_series([PathElement::new(
            vec![(mem.p90, y - 0.1), (mem.p90, y + 0.1)],
            BLUE.stroke_width(2),
        )])
        .map_err(err)?;
    chart
        .draw_series(std::iter::once(Circle::new(
            (mem.mean, y),
            5,
            BLUE.filled(),
        )))
        .map_err(err)?;
    chart
        .draw_series(std::iter::once(
            EmptyElement::at((mem.min, y + 0.1))
                + Text::new(
                    format!(
                        "used: min {:.0} · p50 {:.0} · p90 {:.0} · p99 {:.0} · max {:.0} MB",
                        mem.min, mem.p50, mem.p90, mem.p99, mem.max
                    ),
                    (0, -28),
                    (FAMILY, 15).into_font().color(&BLUE),
                ),
        ))
        .map_err(err)?;
    let mut marks = Vec::new();
    if let Some(m) = configured {
        marks.push((m, format!("configured {m:.0} MB"), GREY, 0.92));
    }
    if let Some(m) = rec {
        marks.push((m, format!("recommended {m:.0} MB"), GREEN, 0.82));
    }
    for (m, label, color, at) in marks {
        chart
            .draw_series([PathElement::new(
                vec![(m, 0.0), (m, 1.0)],
                color.stroke_width(2),
            )])
            .map_err(err)?;
        // Labels of lines in the right third go on the line's left, so they stay inside.
        let (dx, h) = if m > x_max * 0.66 {
            (-6, HPos::Right)
        } else {
            (6, HPos::Left)
        };
        let font = (FAMILY, 16)
            .into_font()
            .style(FontStyle::Bold)
            .color(&color)
            .pos(Pos::new(h, VPos::Center));
        chart
            .draw_series(std::iter::once(
                EmptyElement::at((m, at)) + Text::new(label, (dx, 0), font),
            ))
            .map_err(err)?;
    }
    if let Some(label) = failure_label(c) {
        chart
            .draw_series(std::iter::once(Cross::new(
                (mem.max, y),
                8,
                FAIL.stroke_width(3),
            )))
            .map_err(err)?;
        chart
            .draw_series(std::iter::once(
                EmptyElement::at((mem.max, y))
                    + Text::new(label, (10, 10), (FAMILY, 15).into_font().color(&FAIL)),
            ))
            .map_err(err)?;
    }
    bottom
        .draw_text(
            &short_reason(r),
            &(FAMILY, 14).into_font().color(&BLACK),
            (20, 8),
        )
        .map_err(err)?;
    Ok(())
}
