//! Charts as accessible SVG, rendered on the server (pure): stacked columns, horizontal bars,
//! a line, and a tile map of the 21 län on a fixed grid (no boundary data needed). Every chart
//! has `role="img"` with a `<title>` and a `<desc>`; the page puts the same numbers in a table
//! beside it, so the SVG is never the only way to read them. No script, no inline style.

use std::fmt::Write as _;

/// Colours for series, distinguishable and dark enough for white text and for 3:1 against a
/// white background.
pub const PALETTE: [&str; 13] = [
    "#1f5fa8", "#b34700", "#2a7a3a", "#8a2f8f", "#a3192f", "#006d77", "#6b5a00", "#4a4a9c",
    "#9c4a00", "#3d6b00", "#7a3d5c", "#00607a", "#5c5c5c",
];

/// Escapes text for XML content and attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn open(id: &str, title: &str, desc: &str, width: u32, height: u32) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 {width} {height}\" \
         role=\"img\" aria-labelledby=\"{id}-title {id}-desc\" focusable=\"false\">\
         <title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc>",
        escape(title),
        escape(desc)
    )
}

/// A round upper bound for an axis: 1, 2 or 5 times a power of ten.
pub fn nice_max(value: f64) -> f64 {
    if value <= 0.0 {
        return 1.0;
    }
    let power = 10f64.powf(value.log10().floor());
    for step in [1.0, 2.0, 5.0, 10.0] {
        if step * power >= value {
            return step * power;
        }
    }
    10.0 * power
}

fn number(value: f64) -> String {
    if value.fract().abs() < 1e-9 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

/// One series of a stacked column chart.
pub struct Series {
    pub name: String,
    /// One value per column (hidden counts as 0 in the drawing; the table says `<5`).
    pub values: Vec<i64>,
}

/// Columns (e.g. weeks) stacked by series (e.g. categories), with a legend.
pub fn stacked_columns(
    id: &str,
    title: &str,
    desc: &str,
    columns: &[String],
    series: &[Series],
) -> String {
    let (width, plot_left, plot_top, plot_height) = (720u32, 48.0, 12.0, 220.0);
    let legend_rows = series.len().div_ceil(2) as u32;
    let height = 290 + legend_rows * 20;
    let totals: Vec<i64> = (0..columns.len())
        .map(|c| {
            series
                .iter()
                .map(|s| s.values.get(c).copied().unwrap_or(0))
                .sum()
        })
        .collect();
    let max = nice_max(totals.iter().copied().max().unwrap_or(0) as f64);
    let plot_width = f64::from(width) - plot_left - 8.0;
    let slot = plot_width / columns.len().max(1) as f64;
    let bar = (slot * 0.7).max(1.0);
    let mut svg = open(id, title, desc, width, height);
    axis(&mut svg, plot_left, plot_top, plot_width, plot_height, max);
    for (c, label) in columns.iter().enumerate() {
        let x = plot_left + slot * c as f64 + (slot - bar) / 2.0;
        let mut y = plot_top + plot_height;
        for (s, serie) in series.iter().enumerate() {
            let value = serie.values.get(c).copied().unwrap_or(0);
            if value <= 0 {
                continue;
            }
            let h = value as f64 / max * plot_height;
            y -= h;
            let _ = write!(
                svg,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar:.1}\" height=\"{h:.1}\" fill=\"{}\"/>",
                PALETTE[s % PALETTE.len()]
            );
        }
        if c % label_every(label, slot) == 0 {
            let _ = write!(
                svg,
                "<text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                x + bar / 2.0,
                plot_top + plot_height + 16.0,
                escape(label)
            );
        }
    }
    legend(&mut svg, series.iter().map(|s| s.name.as_str()), 270.0);
    svg.push_str("</svg>");
    svg
}

/// Label every n-th column so labels (about 7 px a character) do not overlap.
fn label_every(label: &str, slot: f64) -> usize {
    let needed = label.chars().count() as f64 * 7.0 + 8.0;
    ((needed / slot.max(1.0)).ceil() as usize).max(1)
}

fn axis(svg: &mut String, left: f64, top: f64, width: f64, height: f64, max: f64) {
    for step in 0..=4 {
        let value = max * f64::from(step) / 4.0;
        let y = top + height - height * f64::from(step) / 4.0;
        let _ = write!(
            svg,
            "<line class=\"grid\" x1=\"{left}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>\
             <text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            left + width,
            left - 6.0,
            y + 4.0,
            number(value)
        );
    }
}

fn legend<'a>(svg: &mut String, names: impl Iterator<Item = &'a str>, top: f64) {
    for (i, name) in names.enumerate() {
        let x = 48.0 + (i % 2) as f64 * 336.0;
        let y = top + (i / 2) as f64 * 20.0;
        let _ = write!(
            svg,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"{}\"/>\
             <text class=\"legend\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            y - 10.0,
            PALETTE[i % PALETTE.len()],
            x + 18.0,
            y,
            escape(name)
        );
    }
}

/// One horizontal bar.
pub struct Bar {
    pub label: String,
    /// `None`: hidden; drawn empty with the text `shown`.
    pub value: Option<f64>,
    /// The value as text (`12`, `<5`, `87 %`).
    pub shown: String,
}

/// Horizontal bars with their values written at the end; `max` fixes the scale (e.g. 100 %).
pub fn bars(id: &str, title: &str, desc: &str, bars: &[Bar], max: Option<f64>) -> String {
    let width = 720u32;
    let row = 28.0;
    let height = (bars.len() as f64 * row + 16.0) as u32;
    let label_width = 230.0;
    let plot = f64::from(width) - label_width - 80.0;
    let max =
        max.unwrap_or_else(|| nice_max(bars.iter().filter_map(|b| b.value).fold(0.0, f64::max)));
    let mut svg = open(id, title, desc, width, height);
    for (i, b) in bars.iter().enumerate() {
        let y = 8.0 + i as f64 * row;
        let w = b.value.map_or(0.0, |v| (v / max).clamp(0.0, 1.0) * plot);
        let _ = write!(
            svg,
            "<text class=\"label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\
             <rect x=\"{label_width}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"18\" fill=\"{}\"/>\
             <text class=\"value\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            label_width - 8.0,
            y + 14.0,
            escape(&b.label),
            PALETTE[0],
            label_width + w + 6.0,
            y + 14.0,
            escape(&b.shown)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A line over periods; `None` points (hidden or undefined) break the line.
pub fn line(
    id: &str,
    title: &str,
    desc: &str,
    points: &[(String, Option<f64>)],
    max: f64,
) -> String {
    let (width, height) = (720u32, 260u32);
    let (left, top, plot_height) = (48.0, 12.0, 200.0);
    let plot_width = f64::from(width) - left - 16.0;
    let mut svg = open(id, title, desc, width, height);
    axis(&mut svg, left, top, plot_width, plot_height, max);
    let step = plot_width / (points.len().max(2) - 1) as f64;
    let mut path = String::new();
    let mut pen_down = false;
    for (i, (label, value)) in points.iter().enumerate() {
        let x = left + step * i as f64;
        match value {
            Some(v) => {
                let y = top + plot_height - (v / max).clamp(0.0, 1.0) * plot_height;
                let _ = write!(path, "{}{x:.1} {y:.1} ", if pen_down { "L" } else { "M" });
                pen_down = true;
                let _ = write!(
                    svg,
                    "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3\" fill=\"{}\"/>",
                    PALETTE[4]
                );
            }
            None => pen_down = false,
        }
        if i % label_every(label, step) == 0 {
            let _ = write!(
                svg,
                "<text class=\"tick\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                top + plot_height + 16.0,
                escape(label)
            );
        }
    }
    if !path.is_empty() {
        let _ = write!(
            svg,
            "<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>",
            path.trim_end(),
            PALETTE[4]
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Where each län sits on the tile map (column, row): roughly its place in Sweden.
pub const LAN_GRID: [(&str, &str, u32, u32); 21] = [
    ("25", "BD", 3, 0),
    ("24", "AC", 2, 1),
    ("23", "Z", 1, 2),
    ("22", "Y", 2, 2),
    ("20", "W", 1, 3),
    ("21", "X", 2, 3),
    ("17", "S", 0, 4),
    ("18", "T", 1, 4),
    ("19", "U", 2, 4),
    ("03", "C", 3, 4),
    ("14", "O", 0, 5),
    ("05", "E", 1, 5),
    ("04", "D", 2, 5),
    ("01", "AB", 3, 5),
    ("13", "N", 0, 6),
    ("06", "F", 1, 6),
    ("08", "H", 2, 6),
    ("09", "I", 3, 6),
    ("07", "G", 1, 7),
    ("10", "K", 2, 7),
    ("12", "M", 1, 8),
];

/// A län's tile.
pub struct Tile {
    pub code: String,
    pub name: String,
    pub value: Option<i64>,
    pub shown: String,
}

/// The tile map: one square per län, shaded in five steps of its count; the count and the
/// län's letter code are written on it.
pub fn tile_map(id: &str, title: &str, desc: &str, tiles: &[Tile]) -> String {
    const SHADES: [(&str, &str); 5] = [
        ("#e8f0f8", "#1a1a1a"),
        ("#b9d1ea", "#1a1a1a"),
        ("#7aa7d6", "#1a1a1a"),
        ("#2f6db3", "#ffffff"),
        ("#163d6b", "#ffffff"),
    ];
    let size = 64.0;
    let gap = 6.0;
    let (width, height) = (4.0 * (size + gap) + gap, 9.0 * (size + gap) + gap);
    let max = tiles.iter().filter_map(|t| t.value).max().unwrap_or(0);
    let mut svg = open(id, title, desc, width as u32, height as u32);
    for (code, letters, col, row) in LAN_GRID {
        let tile = tiles.iter().find(|t| t.code == code);
        let x = gap + f64::from(col) * (size + gap);
        let y = gap + f64::from(row) * (size + gap);
        let (fill, ink) = match tile.and_then(|t| t.value) {
            Some(v) if max > 0 && v > 0 => {
                let step = ((v as f64 / max as f64) * 4.0).ceil() as usize;
                SHADES[step.min(4)]
            }
            Some(_) => SHADES[0],
            None => ("#d9d9d9", "#1a1a1a"),
        };
        let shown = tile.map_or("0".to_owned(), |t| t.shown.clone());
        let name = tile.map_or(code.to_owned(), |t| t.name.clone());
        let _ = write!(
            svg,
            "<g><title>{}: {}</title>\
             <rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{size}\" height=\"{size}\" rx=\"4\" fill=\"{fill}\"/>\
             <text class=\"tile-code\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"{ink}\">{}</text>\
             <text class=\"tile-value\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"{ink}\">{}</text></g>",
            escape(&name),
            escape(&shown),
            x + size / 2.0,
            y + 24.0,
            escape(letters),
            x + size / 2.0,
            y + 48.0,
            escape(&shown)
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_chart_is_an_image_with_title_and_description() {
        let charts = [
            stacked_columns(
                "a",
                "Tips per vecka",
                "Staplar",
                &["2026-W47".into(), "2026-W48".into()],
                &[Series {
                    name: "Bemanning & <kompetens>".into(),
                    values: vec![3, 4],
                }],
            ),
            bars(
                "b",
                "Prioritet",
                "Staplar",
                &[Bar {
                    label: "Hög".into(),
                    value: None,
                    shown: "<5".into(),
                }],
                None,
            ),
            line(
                "c",
                "Andel",
                "Linje",
                &[("v1".into(), Some(3.0)), ("v2".into(), None)],
                100.0,
            ),
            tile_map("d", "Län", "Karta", &[]),
        ];
        for svg in charts {
            assert!(svg.starts_with("<svg"), "{svg}");
            assert!(svg.contains("role=\"img\""));
            assert!(svg.contains("<title id="));
            assert!(svg.contains("<desc id="));
            assert!(!svg.contains("<kompetens>"), "text is escaped");
            assert!(!svg.contains("style="), "no inline style (CSP)");
        }
    }

    #[test]
    fn the_tile_map_has_every_lan_once() {
        let mut codes: Vec<&str> = LAN_GRID.iter().map(|(c, ..)| *c).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), 21);
        let mut cells: Vec<(u32, u32)> = LAN_GRID.iter().map(|(_, _, c, r)| (*c, *r)).collect();
        cells.sort();
        cells.dedup();
        assert_eq!(cells.len(), 21, "no two län share a tile");
    }

    #[test]
    fn axes_end_at_round_numbers() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(13.0), 20.0);
        assert_eq!(nice_max(420.0), 500.0);
    }
}
