//! Exports of a counted selection (pure): CSV for spreadsheets (UTF-8 with a byte-order mark
//! so Excel reads å, ä and ö; Swedish headers with `;` as Swedish Excel expects, or English
//! headers with `,`) and the JSON the API answers with. Suppressed cells read `<5`.

use serde::Serialize;
use utoipa::ToSchema;

use super::{Dimension, Table};
use crate::domain::Taxonomy;

/// The byte-order mark that makes Excel read the file as UTF-8.
pub const BOM: &str = "\u{feff}";

/// Header language of a CSV export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Headers {
    Swedish,
    English,
}

impl Headers {
    pub fn parse(text: &str) -> Option<Headers> {
        match text {
            "sv" => Some(Headers::Swedish),
            "en" => Some(Headers::English),
            _ => None,
        }
    }

    fn separator(self) -> char {
        match self {
            Headers::Swedish => ';',
            Headers::English => ',',
        }
    }

    fn english(self) -> bool {
        self == Headers::English
    }
}

/// A dimension's column heading.
pub fn dimension_heading(dimension: Dimension, english: bool) -> &'static str {
    match (dimension, english) {
        (Dimension::Region, false) => "Län",
        (Dimension::Region, true) => "County (län)",
        (Dimension::Municipality, false) => "Kommun",
        (Dimension::Municipality, true) => "Municipality",
        (Dimension::Category, false) => "Kategori",
        (Dimension::Category, true) => "Category",
        (Dimension::CareSector, false) => "Vård- och omsorgsområde",
        (Dimension::CareSector, true) => "Care sector",
        (Dimension::Priority, false) => "Prioritet",
        (Dimension::Priority, true) => "Priority",
        (Dimension::Outcome, false) => "Utfall",
        (Dimension::Outcome, true) => "Outcome",
        (Dimension::Outbreak, false) => "Utbrott",
        (Dimension::Outbreak, true) => "Outbreak",
        (Dimension::Channel, false) => "Kanal",
        (Dimension::Channel, true) => "Channel",
        (Dimension::ReporterRole, false) => "Uppgiftslämnarens roll",
        (Dimension::ReporterRole, true) => "Reporter role",
    }
}

/// A code's name in the given language (the code itself when it has no name).
pub fn code_label(taxonomy: &Taxonomy, dimension: Dimension, code: &str, english: bool) -> String {
    match dimension {
        Dimension::Region => taxonomy.region_name(code),
        Dimension::Municipality => taxonomy.municipality_name(code),
        Dimension::Category => taxonomy.category_label(code, english),
        Dimension::CareSector => taxonomy.care_sector_label(code, english),
        Dimension::ReporterRole => taxonomy.reporter_role_label(code, english),
        Dimension::Outbreak => taxonomy.outbreak_label(code, english),
        Dimension::Priority => match (code, english) {
            ("critical", false) => "Akut".into(),
            ("high", false) => "Hög".into(),
            ("normal", false) => "Normal".into(),
            ("low", false) => "Låg".into(),
            ("critical", true) => "Critical".into(),
            ("high", true) => "High".into(),
            ("normal", true) => "Normal".into(),
            ("low", true) => "Low".into(),
            _ => code.to_owned(),
        },
        Dimension::Outcome => match (code, english) {
            ("case_opened", false) => "Tillsynsärende öppnat".into(),
            ("risk_signal", false) => "Risksignal".into(),
            ("referred", false) => "Hänvisat".into(),
            ("no_action", false) => "Ingen åtgärd".into(),
            ("duplicate", false) => "Dubblett".into(),
            ("case_opened", true) => "Case opened".into(),
            ("risk_signal", true) => "Risk signal".into(),
            ("referred", true) => "Referred".into(),
            ("no_action", true) => "No action".into(),
            ("duplicate", true) => "Duplicate".into(),
            _ => code.to_owned(),
        },
        Dimension::Channel => match (code, english) {
            ("web", false) => "Webbformulär".into(),
            ("api", false) => "Annat system (API)".into(),
            ("web", true) => "Web form".into(),
            ("api", true) => "Another system (API)".into(),
            _ => code.to_owned(),
        },
    }
}

fn field(text: &str, separator: char) -> String {
    if text.contains([separator, '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// The table as CSV: BOM, a header row, one row per cell (codes and names side by side).
pub fn csv(table: &Table, taxonomy: &Taxonomy, headers: Headers) -> String {
    let english = headers.english();
    let sep = headers.separator();
    let mut heading: Vec<String> = Vec::new();
    if table.selection.period.is_some() {
        heading.push("Period".into());
        heading.push(
            if english {
                "Period start"
            } else {
                "Periodens första dag"
            }
            .into(),
        );
    }
    for dimension in &table.selection.group_by {
        let name = dimension_heading(*dimension, english);
        heading.push(format!("{name} ({})", if english { "code" } else { "kod" }));
        heading.push(name.to_owned());
    }
    heading.push(if english { "Tips" } else { "Antal tips" }.into());
    let mut out = String::from(BOM);
    let join = |fields: Vec<String>| {
        fields
            .iter()
            .map(|f| field(f, sep))
            .collect::<Vec<_>>()
            .join(&sep.to_string())
    };
    out.push_str(&join(heading));
    out.push_str("\r\n");
    for cell in &table.cells {
        let mut row = Vec::new();
        if let Some(period) = table.selection.period {
            let start = cell.period_start.map(|d| d.to_string()).unwrap_or_default();
            row.push(
                cell.period_start
                    .map(|d| period.label(d))
                    .unwrap_or_default(),
            );
            row.push(start);
        }
        for (dimension, key) in table.selection.group_by.iter().zip(&cell.keys) {
            let code = key.clone().unwrap_or_default();
            let label = key
                .as_deref()
                .map(|c| code_label(taxonomy, *dimension, c, english))
                .unwrap_or_else(|| if english { "(none)" } else { "(ingen)" }.into());
            row.push(code);
            row.push(label);
        }
        row.push(table.display(cell));
        out.push_str(&join(row));
        out.push_str("\r\n");
    }
    out
}

/// One cell in the API's answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatsCell {
    /// The period's label (`2026-W48`, `2026-11`, `2026-11-23`); absent without `period`.
    pub period: Option<String>,
    /// First day of the period.
    pub period_start: Option<String>,
    /// The group: one entry per `group_by` dimension (null: no value, e.g. no outbreak tag).
    #[schema(value_type = Object, example = json!({"region_code": "01", "category": "staffing"}))]
    pub dimensions: serde_json::Map<String, serde_json::Value>,
    /// Tips in the group; null when suppressed.
    pub tips: Option<i64>,
    pub suppressed: bool,
    /// The count as shown: `12`, or `<5` when suppressed.
    pub display: String,
}

/// The API's answer for a counted selection.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatsResponse {
    /// First day (inclusive, Swedish calendar).
    pub from: String,
    /// Last day (inclusive).
    pub to: String,
    pub period: Option<String>,
    pub group_by: Vec<String>,
    /// The filters applied: dimension → codes.
    #[schema(value_type = Object)]
    pub filters: serde_json::Map<String, serde_json::Value>,
    /// Cells counting 1 to threshold-1 are suppressed (unless `suppression_applied` is false).
    pub threshold: i64,
    /// False only for triage leads.
    pub suppression_applied: bool,
    /// Whether the daily rollup answered (else the tips table's covering index).
    pub source: String,
    pub cells: Vec<StatsCell>,
    /// All tips in the selection; null when suppressed.
    pub total: Option<i64>,
    /// With `trend=true`: each group in the range, the range before and a year earlier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trend: Option<Vec<TrendEntry>>,
}

/// A group's counts in three ranges (null: suppressed).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TrendEntry {
    #[schema(value_type = Object)]
    pub dimensions: serde_json::Map<String, serde_json::Value>,
    pub current: Option<i64>,
    pub previous: Option<i64>,
    pub year_ago: Option<i64>,
}

fn dimensions_map(
    group_by: &[Dimension],
    keys: &[Option<String>],
) -> serde_json::Map<String, serde_json::Value> {
    group_by
        .iter()
        .zip(keys)
        .map(|(d, k)| {
            (
                d.as_str().to_owned(),
                k.clone()
                    .map_or(serde_json::Value::Null, serde_json::Value::String),
            )
        })
        .collect()
}

/// The table (and optionally its trend) as the API's JSON.
pub fn json(table: &Table, trend: Option<&[super::trends::TrendRow]>) -> StatsResponse {
    let selection = &table.selection;
    StatsResponse {
        from: selection.from.to_string(),
        to: selection.to.to_string(),
        period: selection.period.map(|p| p.as_str().to_owned()),
        group_by: selection
            .group_by
            .iter()
            .map(|d| d.as_str().to_owned())
            .collect(),
        filters: selection
            .filters
            .iter()
            .map(|(d, codes)| (d.as_str().to_owned(), serde_json::json!(codes)))
            .collect(),
        threshold: table.threshold,
        suppression_applied: table.suppressed,
        source: if selection.uses_rollup() {
            "rollup".into()
        } else {
            "tips".into()
        },
        cells: table
            .cells
            .iter()
            .map(|cell| StatsCell {
                period: selection
                    .period
                    .zip(cell.period_start)
                    .map(|(p, d)| p.label(d)),
                period_start: cell.period_start.map(|d| d.to_string()),
                dimensions: dimensions_map(&selection.group_by, &cell.keys),
                tips: Table::shown(cell),
                suppressed: cell.hidden,
                display: table.display(cell),
            })
            .collect(),
        total: (!table.total_hidden).then_some(table.total),
        trend: trend.map(|rows| {
            rows.iter()
                .map(|row| TrendEntry {
                    dimensions: dimensions_map(&selection.group_by, &row.keys),
                    current: row.current,
                    previous: row.previous,
                    year_ago: row.year_ago,
                })
                .collect()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_with_separators_or_quotes_are_quoted() {
        assert_eq!(
            field("Avdelning 12, lasarettet", ','),
            "\"Avdelning 12, lasarettet\""
        );
        assert_eq!(
            field("Avdelning 12, lasarettet", ';'),
            "Avdelning 12, lasarettet"
        );
        assert_eq!(field("a \"b\"", ';'), "\"a \"\"b\"\"\"");
    }
}
