//! Charts, the HTML report and the aws-lambda-power-tuning format, end to end: the PNG renders
//! readable text with system fonts hidden, the SVG's structure and labels are snapshotted, the
//! HTML opens offline in a real headless Chromium and shows the chart, and `--format alpt`'s
//! visualization fragment decodes back to the report's numbers.

mod common;
use base64::Engine;
use common::*;
use serde_json::Value;
use std::path::Path;
use std::process::Command as Process;

fn decode_png(path: &Path) -> (u32, u32, Vec<[u8; 3]>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let px = buf[..info.buffer_size()]
        .chunks(channels)
        .map(|c| {
            if channels >= 3 {
                [c[0], c[1], c[2]]
            } else {
                [c[0], c[0], c[0]]
            }
        })
        .collect();
    (info.width, info.height, px)
}

fn dark_in(
    px: &[[u8; 3]],
    width: u32,
    rows: std::ops::Range<u32>,
    cols: std::ops::Range<u32>,
) -> usize {
    rows.flat_map(|y| cols.clone().map(move |x| (x, y)))
        .filter(|(x, y)| {
            let p = px[(*y * width + *x) as usize];
            p.iter().map(|&v| u32::from(v)).sum::<u32>() < 450
        })
        .count()
}

fn near(px: &[[u8; 3]], rgb: [u8; 3]) -> usize {
    px.iter()
        .filter(|p| p.iter().zip(rgb).all(|(a, b)| a.abs_diff(b) <= 24))
        .count()
}

fn analyze(args: &[&str]) -> std::process::Output {
    powertune().arg("analyze").args(args).output().unwrap()
}

#[test]
fn png_has_readable_text_with_no_system_fonts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("chart.png");
    let empty = dir.path().join("no-fonts");
    std::fs::create_dir(&empty).unwrap();
    // Hide every font a toolkit could find: fontconfig's configuration, the XDG data dirs, HOME.
    let st = powertune()
        .env("FONTCONFIG_FILE", empty.join("fonts.conf"))
        .env("FONTCONFIG_PATH", &empty)
        .env("XDG_DATA_DIRS", &empty)
        .env("XDG_DATA_HOME", &empty)
        .env("HOME", &empty)
        .arg("analyze")
        .arg(fixture("logs/thumbnailer.log"))
        .args(["--function", "thumbnailer", "-q", "--chart"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let (w, h, px) = decode_png(&out);
    assert_eq!((w, h), (1000, 600));
    let non_white = px.iter().filter(|p| **p != [255, 255, 255]).count();
    assert!(
        non_white > 20_000,
        "blank chart: {non_white} non-white pixels"
    );
    // Title text (centred at the top), x-axis description (bottom centre) and the y-axis
    // description (rotated, at the left) are drawn in dark glyphs.
    assert!(dark_in(&px, w, 10..45, 250..750) > 300, "no title text");
    assert!(dark_in(&px, w, 515..550, 380..620) > 150, "no x-axis label");
    let y_label = dark_in(&px, w, 150..450, 5..35);
    assert!(y_label > 100, "no y-axis label ({y_label} dark pixels)");
    // The p50 line (blue) and the cost line (orange) are there.
    assert!(near(&px, [31, 119, 180]) > 500);
    assert!(near(&px, [255, 127, 14]) > 200);
}

/// The structure and labels of an SVG: each element kind's count and every text, in order.
fn outline(svg: &str) -> String {
    let mut kinds = std::collections::BTreeMap::new();
    for tag in svg.split('<').skip(1) {
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        if !name.is_empty() {
            *kinds.entry(name).or_insert(0) += 1;
        }
    }
    let mut out = format!("elements: {kinds:?}\ntexts:\n");
    for piece in svg.split("<text").skip(1) {
        let inner = piece.split_once('>').map_or("", |x| x.1);
        let text = inner.split("</text>").next().unwrap_or("");
        out.push_str(&format!("  {}\n", text.trim()));
    }
    out
}

#[test]
fn svg_trade_off_chart_structure_and_labels() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("t.svg");
    let st = analyze(&[
        fixture("logs/thumbnailer.log").to_str().unwrap(),
        "--function",
        "thumbnailer",
        "--monthly-invocations",
        "2000000",
        "--chart",
        out.to_str().unwrap(),
    ]);
    assert!(st.status.success());
    let svg = std::fs::read_to_string(&out).unwrap();
    assert!(svg.starts_with("<svg"));
    let o = outline(&svg);
    // Sizes span 128–3008 MB (23×): log scale; the OOM size is marked; the recommendation labelled.
    assert!(o.contains("memory (MB, log scale)"), "{o}");
    assert!(o.contains("out of memory ×40"), "{o}");
    assert!(o.contains("recommended 320 MB"), "{o}");
    assert!(
        o.contains("thumbnailer · us-east-1 · x86_64 · 2024-05-02"),
        "{o}"
    );
    insta::assert_snapshot!("trade_off_svg", o);
}

#[test]
fn svg_memory_distribution_for_a_single_size_and_linear_scale_below_8x() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b.svg");
    let st = analyze(&[
        fixture("logs/brand-api.log").to_str().unwrap(),
        "--function",
        "brand-api",
        "--chart",
        out.to_str().unwrap(),
    ]);
    assert!(st.status.success());
    let o = outline(&std::fs::read_to_string(&out).unwrap());
    assert!(
        o.contains("configured 1024 MB") && o.contains("recommended 256 MB"),
        "{o}"
    );
    insta::assert_snapshot!("memory_distribution_svg", o);

    // Two sizes 2× apart: a linear axis.
    let log = dir.path().join("two.log");
    let mut text = String::new();
    for (i, (m, d)) in [(512, 80.0), (1024, 60.0)]
        .iter()
        .cycle()
        .take(20)
        .enumerate()
    {
        text += &format!(
            "REPORT RequestId: r{i}\tDuration: {d:.2} ms\tBilled Duration: {d} ms\tMemory Size: {m} MB\tMax Memory Used: 90 MB\t\n"
        );
    }
    std::fs::write(&log, text).unwrap();
    let out2 = dir.path().join("two.svg");
    assert!(
        analyze(&[log.to_str().unwrap(), "--chart", out2.to_str().unwrap()])
            .status
            .success()
    );
    let o2 = outline(&std::fs::read_to_string(&out2).unwrap());
    assert!(
        o2.contains("memory (MB)") && !o2.contains("log scale"),
        "{o2}"
    );
}

#[test]
fn chart_file_name_must_say_svg_or_png_and_several_functions_get_one_each() {
    let dir = tempfile::tempdir().unwrap();
    let st = analyze(&[
        fixture("logs/brand-api.log").to_str().unwrap(),
        "--chart",
        "x.jpg",
    ]);
    assert_eq!(st.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&st.stderr).contains("must end in .svg or .png"));
    let out = dir.path().join("c.svg");
    let st = analyze(&[
        fixture("logs/shapes/insights.csv").to_str().unwrap(),
        fixture("logs/brand-api.log").to_str().unwrap(),
        "--chart",
        out.to_str().unwrap(),
    ]);
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    assert!(dir.path().join("c-brand-api.svg").is_file());
    assert!(dir.path().join("c-unnamed.svg").is_file());
}

#[test]
fn html_is_self_contained() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.html");
    let st = analyze(&[
        fixture("logs/thumbnailer.log").to_str().unwrap(),
        "--function",
        "thumbnailer",
        "-q",
        "--html",
        out.to_str().unwrap(),
    ]);
    assert!(st.status.success());
    let html = std::fs::read_to_string(&out).unwrap();
    for banned in [
        "http:",
        "https:",
        "<script",
        "<link",
        "@import",
        "url(",
        "@font-face",
        "src=",
    ] {
        assert!(!html.contains(banned), "HTML must not contain {banned:?}");
    }
    for wanted in [
        "<svg",
        "Memory sizes",
        "Recommendation",
        "Errors",
        "Runtime.OutOfMemory ×40",
        "Cold starts",
        "Input",
        "Lower thumbnailer from 1024 MB to 320 MB",
    ] {
        assert!(html.contains(wanted), "HTML lacks {wanted:?}");
    }
}

fn chromium() -> Option<&'static str> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

#[test]
fn html_opens_offline_in_headless_chromium_and_shows_the_chart() {
    let Some(browser) = chromium() else {
        eprintln!(
            "note: chromium not installed; headless-browser test skipped (.ci/run installs it)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("report.html");
    assert!(
        analyze(&[
            fixture("logs/thumbnailer.log").to_str().unwrap(),
            "--function",
            "thumbnailer",
            "-q",
            "--html",
            html.to_str().unwrap()
        ])
        .status
        .success()
    );
    let shot = dir.path().join("shot.png");
    let profile = dir.path().join("profile");
    let st = Process::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1200,1400",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    assert!(
        shot.is_file(),
        "no screenshot: {}",
        String::from_utf8_lossy(&st.stderr)
    );
    let (w, h, px) = decode_png(&shot);
    assert_eq!((w, h), (1200, 1400));
    // The chart's p50 line, cost line and recommendation line are on screen.
    assert!(
        near(&px, [31, 119, 180]) > 500,
        "no duration line in the screenshot"
    );
    assert!(
        near(&px, [255, 127, 14]) > 200,
        "no cost line in the screenshot"
    );
    assert!(
        near(&px, [44, 160, 44]) > 100,
        "no recommendation line in the screenshot"
    );
}

#[test]
fn alpt_visualization_fragment_round_trips() {
    let f = fixture("logs/thumbnailer.log");
    let out = analyze(&[
        f.to_str().unwrap(),
        "--function",
        "thumbnailer",
        "--format",
        "alpt",
    ]);
    assert!(out.status.success());
    let alpt: Value = serde_json::from_slice(&out.stdout).unwrap();
    let out = analyze(&[
        f.to_str().unwrap(),
        "--function",
        "thumbnailer",
        "--format",
        "json",
    ]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();

    let url = alpt["stateMachine"]["visualization"].as_str().unwrap();
    let (base, fragment) = url.split_once('#').unwrap();
    assert_eq!(base, "https://lambda-power-tuning.show/");
    let parts: Vec<Vec<u8>> = fragment
        .split(';')
        .map(|p| base64::engine::general_purpose::STANDARD.decode(p).unwrap())
        .collect();
    assert_eq!(parts.len(), 3);
    let sizes: Vec<i16> = parts[0]
        .chunks(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect();
    let times: Vec<f32> = parts[1]
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let costs: Vec<f32> = parts[2]
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let configs = report["configs"].as_array().unwrap();
    assert_eq!(sizes.len(), configs.len());
    for (i, c) in configs.iter().enumerate() {
        assert_eq!(i64::from(sizes[i]), c["memory_mb"].as_i64().unwrap());
        assert_eq!(times[i], c["duration_ms"]["mean"].as_f64().unwrap() as f32);
        assert_eq!(
            costs[i],
            c["cost_per_invocation_usd"].as_f64().unwrap() as f32
        );
    }
    assert_eq!(alpt["power"], report["recommendation"]["memory_mb"]);
    assert_eq!(alpt["stats"].as_array().unwrap().len(), configs.len());
    assert_eq!(alpt["stats"][0]["value"], 128);
}
