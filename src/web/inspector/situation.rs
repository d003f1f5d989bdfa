//! The situation report page (lägesbild, `/inspektor/lagesbild`): a dashboard of server-rendered
//! SVG charts, each with its numbers in a table beside it, over the same selection and with
//! the same disclosure control as `GET /api/v1/stats`. In the person's language, like the
//! rest of the workspace.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::Utc;

use super::{
    Chrome, Filter, Section, SignedIn, code_labels, forbidden, query_string, region_labels,
    signed_in, text_labels,
};
use crate::auth::policy::{self, Action, Decision};
use crate::domain::{Outcome, Priority};
use crate::state::{AppState, today_in_sweden};
use crate::stats::charts::{self, Bar, Series, Tile};
use crate::stats::export::code_label;
use crate::stats::facilities::{self, FacilitySignal};
use crate::stats::trends::{self, change_percent};
use crate::stats::{self, Dimension, Period, Selection, Table, deadlines, query};
use crate::web::i18n::Texts;
use crate::web::views::Choice;
use crate::web::{csrf, html, unavailable};

pub const PATH: &str = "/inspektor/lagesbild";

/// A chart and its table.
pub struct Chart {
    pub id: String,
    pub heading: String,
    pub svg: String,
    pub caption: String,
    pub head: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

pub struct TrendView {
    pub label: String,
    pub current: String,
    pub previous: String,
    pub previous_change: String,
    pub year_ago: String,
    pub year_change: String,
}

pub struct FacilityView {
    pub rank: usize,
    pub name: String,
    pub place: String,
    pub tips: String,
    pub priorities: String,
    pub clusters: i64,
}

#[derive(Template)]
#[template(path = "inspector/situation.html")]
pub struct SituationPage<'a> {
    pub chrome: Chrome<'a>,
    pub t: &'a Texts,
    pub title: String,
    pub errors: Vec<String>,
    pub filters: Vec<Filter>,
    pub from: String,
    pub to: String,
    pub suppression_note: String,
    pub total: String,
    pub range: String,
    pub charts: Vec<Chart>,
    pub trends: Vec<TrendView>,
    pub facilities: Vec<FacilityView>,
    pub export_links: Vec<(String, String)>,
}

fn percent(value: Option<f64>) -> String {
    value.map_or("–".to_owned(), |v| format!("{v:.0} %"))
}

fn signed_percent(value: Option<f64>) -> String {
    value.map_or("–".to_owned(), |v| format!("{v:+.0} %"))
}

fn shown(value: Option<i64>, threshold: i64) -> String {
    value.map_or(format!("<{threshold}"), |n| n.to_string())
}

/// GET /inspektor/lagesbild.
pub async fn show(
    request: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<Vec<(String, String)>>,
) -> HttpResponse {
    let who: SignedIn = match signed_in(&request, &state).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    if who.may(Action::ReadStats) != Decision::Allow {
        return forbidden(&state, &request, &who);
    }
    let t = state.translations.texts(who.lang);
    let english = who.lang.code() == "en";
    // Empty fields of the form mean "any"; the page sets the period itself.
    let pairs: Vec<(String, String)> = query
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .cloned()
        .collect();
    let today = today_in_sweden();
    let (selection, errors) = match query::parse(&state, &pairs, today, &[]) {
        Ok(selection) => (selection, Vec::new()),
        Err(errors) => (
            Selection::default_for(today),
            errors
                .iter()
                .map(|e| {
                    let field = format!("stats_filter.{}", e.field);
                    let code = format!("stats_error.{}", e.code);
                    format!("{}: {}", t.get(&field), t.get(&code))
                })
                .collect(),
        ),
    };
    let period = selection.period.unwrap_or(Period::Week);
    let base = selection.grouped(&[], None);
    let disclosure = policy::stats_disclosure(&who.principal);
    let suppress = disclosure.suppress;
    let threshold = state.settings.stats.suppression_threshold;
    let taxonomy = &state.taxonomy;
    let label = |d: Dimension, code: &Option<String>| match code {
        Some(code) => code_label(taxonomy, d, code, english),
        None => t.get("stats_page.none").to_owned(),
    };
    let mut tagged_selection = base.grouped(&[], Some(period));
    let codes: Vec<String> = taxonomy.outbreaks.iter().map(|o| o.code.clone()).collect();
    if !codes.is_empty() {
        tagged_selection
            .filters
            .entry(Dimension::Outbreak)
            .or_insert(codes);
    }

    // Three groups of queries, each on its own connection, at the same time: the rollup's
    // series, the priority mix and deadlines, and the facility ranking.
    let failed = |error: &dyn std::fmt::Display| {
        tracing::warn!(error = %error, "reading the situation report failed");
    };
    let rollup_part = async {
        let mut conn = state.connection().await.map_err(|e| failed(&e))?;
        let conn = &mut conn;
        let by_category = stats::table(
            conn,
            &base.grouped(&[Dimension::Category], Some(period)),
            suppress,
            threshold,
        )
        .await
        .map_err(|e| failed(&e))?;
        let by_region = stats::table(
            conn,
            &base.grouped(&[Dimension::Region], None),
            suppress,
            threshold,
        )
        .await
        .map_err(|e| failed(&e))?;
        let per_period = stats::table(conn, &base.grouped(&[], Some(period)), suppress, threshold)
            .await
            .map_err(|e| failed(&e))?;
        let tagged = if tagged_selection.filters.contains_key(&Dimension::Outbreak) {
            Some(
                stats::table(conn, &tagged_selection, suppress, threshold)
                    .await
                    .map_err(|e| failed(&e))?,
            )
        } else {
            None
        };
        let trend_rows = trends::trends(
            conn,
            &base.grouped(&[Dimension::Category], None),
            suppress,
            threshold,
        )
        .await
        .map_err(|e| failed(&e))?;
        Ok::<_, ()>((by_category, by_region, per_period, tagged, trend_rows))
    };
    let index_part = async {
        let mut conn = state.connection().await.map_err(|e| failed(&e))?;
        let by_priority = stats::table(
            &mut conn,
            &base.grouped(&[Dimension::Priority], None),
            suppress,
            threshold,
        )
        .await
        .map_err(|e| failed(&e))?;
        let teams = deadlines::per_team(&mut conn, &base, Utc::now(), suppress, threshold)
            .await
            .map_err(|e| failed(&e))?;
        Ok::<_, ()>((by_priority, teams))
    };
    let facility_part = async {
        let mut conn = state.connection().await.map_err(|e| failed(&e))?;
        facilities::signals(&mut conn, &base, &disclosure, threshold)
            .await
            .map_err(|e| failed(&e))
    };
    let Ok((
        (by_category, by_region, per_period, tagged, trend_rows),
        (by_priority, teams),
        signals,
    )) = tokio::try_join!(rollup_part, index_part, facility_part)
    else {
        return unavailable();
    };

    let mut charts_out = Vec::new();
    let periods: Vec<chrono::NaiveDate> = {
        let mut list: Vec<_> = per_period
            .cells
            .iter()
            .filter_map(|c| c.period_start)
            .collect();
        list.sort();
        list.dedup();
        list
    };
    let period_labels: Vec<String> = periods.iter().map(|d| period.label(*d)).collect();

    // 1. Tips per period and category.
    {
        let mut categories: Vec<Option<String>> = by_category
            .cells
            .iter()
            .map(|c| c.keys.first().cloned().flatten())
            .collect();
        categories.sort();
        categories.dedup();
        let cell = |p: &chrono::NaiveDate, c: &Option<String>| {
            by_category
                .cells
                .iter()
                .find(|x| x.period_start.as_ref() == Some(p) && x.keys.first() == Some(c))
        };
        let series: Vec<Series> = categories
            .iter()
            .map(|c| Series {
                name: label(Dimension::Category, c),
                values: periods
                    .iter()
                    .map(|p| cell(p, c).and_then(Table::shown).unwrap_or(0))
                    .collect(),
            })
            .collect();
        let mut head = vec![t.get("stats_page.col_period").to_owned()];
        head.extend(categories.iter().map(|c| label(Dimension::Category, c)));
        let rows = periods
            .iter()
            .zip(&period_labels)
            .map(|(p, l)| {
                let mut row = vec![l.clone()];
                row.extend(
                    categories
                        .iter()
                        .map(|c| cell(p, c).map_or("0".to_owned(), |x| by_category.display(x))),
                );
                row
            })
            .collect();
        let heading = t
            .get(&format!("stats_chart.per_category_{}", period.as_str()))
            .to_owned();
        charts_out.push(Chart {
            id: "chart-category".into(),
            svg: charts::stacked_columns(
                "svg-category",
                &heading,
                t.get("stats_chart.per_category_desc"),
                &period_labels,
                &series,
            ),
            caption: heading.clone(),
            heading,
            head,
            rows,
        });
    }

    // 2. Tile map of the län.
    {
        let tiles: Vec<Tile> = taxonomy
            .regions
            .iter()
            .map(|r| {
                let cell = by_region
                    .cells
                    .iter()
                    .find(|c| c.keys.first().cloned().flatten().as_deref() == Some(&r.code));
                Tile {
                    code: r.code.clone(),
                    name: r.name.clone(),
                    value: cell.map_or(Some(0), Table::shown),
                    shown: cell.map_or("0".to_owned(), |c| by_region.display(c)),
                }
            })
            .collect();
        let heading = t.get("stats_chart.regions").to_owned();
        charts_out.push(Chart {
            id: "chart-regions".into(),
            svg: charts::tile_map(
                "svg-regions",
                &heading,
                t.get("stats_chart.regions_desc"),
                &tiles,
            ),
            caption: heading.clone(),
            heading,
            head: vec![
                t.get("stats_page.col_region").to_owned(),
                t.get("stats_page.col_tips").to_owned(),
            ],
            rows: tiles
                .iter()
                .map(|x| vec![x.name.clone(), x.shown.clone()])
                .collect(),
        });
    }

    // 3. Priority mix.
    {
        let bars: Vec<Bar> = Priority::ALL
            .iter()
            .map(|p| {
                let cell = by_priority
                    .cells
                    .iter()
                    .find(|c| c.keys.first().cloned().flatten().as_deref() == Some(p.as_str()));
                Bar {
                    label: t.get(&format!("priority.{}", p.as_str())).to_owned(),
                    value: cell.map_or(Some(0.0), |c| Table::shown(c).map(|n| n as f64)),
                    shown: cell.map_or("0".to_owned(), |c| by_priority.display(c)),
                }
            })
            .collect();
        let heading = t.get("stats_chart.priorities").to_owned();
        charts_out.push(Chart {
            id: "chart-priorities".into(),
            svg: charts::bars(
                "svg-priorities",
                &heading,
                t.get("stats_chart.priorities_desc"),
                &bars,
                None,
            ),
            caption: heading.clone(),
            heading,
            head: vec![
                t.get("stats_page.col_priority").to_owned(),
                t.get("stats_page.col_tips").to_owned(),
            ],
            rows: bars
                .iter()
                .map(|b| vec![b.label.clone(), b.shown.clone()])
                .collect(),
        });
    }

    // 4. Outbreak-tagged share over time.
    {
        let mut rows = Vec::new();
        let mut points = Vec::new();
        for (p, l) in periods.iter().zip(&period_labels) {
            let all = per_period
                .cells
                .iter()
                .find(|c| c.period_start.as_ref() == Some(p));
            let part = tagged.as_ref().and_then(|table| {
                table
                    .cells
                    .iter()
                    .find(|c| c.period_start.as_ref() == Some(p))
                    .map(|c| (table, c))
            });
            let all_n = all.and_then(Table::shown);
            let part_n = match part {
                Some((_, c)) => Table::shown(c),
                None => Some(0),
            };
            let share = match (part_n, all_n) {
                (Some(part), Some(all)) if all > 0 => Some(part as f64 * 100.0 / all as f64),
                _ => None,
            };
            points.push((l.clone(), share));
            rows.push(vec![
                l.clone(),
                part.map_or("0".to_owned(), |(table, c)| table.display(c)),
                all.map_or("0".to_owned(), |c| per_period.display(c)),
                percent(share),
            ]);
        }
        let max =
            charts::nice_max(points.iter().filter_map(|(_, v)| *v).fold(0.0, f64::max)).min(100.0);
        let heading = t.get("stats_chart.outbreak").to_owned();
        charts_out.push(Chart {
            id: "chart-outbreak".into(),
            svg: charts::line(
                "svg-outbreak",
                &heading,
                t.get("stats_chart.outbreak_desc"),
                &points,
                max,
            ),
            caption: heading.clone(),
            heading,
            head: vec![
                t.get("stats_page.col_period").to_owned(),
                t.get("stats_page.col_tagged").to_owned(),
                t.get("stats_page.col_tips").to_owned(),
                t.get("stats_page.col_share").to_owned(),
            ],
            rows,
        });
    }

    // 5. Deadline compliance per team.
    {
        let team_name = |code: &str| {
            state
                .triage
                .team(code)
                .map_or(code.to_owned(), |team| team.name.clone())
        };
        let bars: Vec<Bar> = teams
            .iter()
            .map(|team| Bar {
                label: team_name(&team.team),
                value: team.share_in_time,
                shown: percent(team.share_in_time),
            })
            .collect();
        let heading = t.get("stats_chart.deadlines").to_owned();
        charts_out.push(Chart {
            id: "chart-deadlines".into(),
            svg: charts::bars(
                "svg-deadlines",
                &heading,
                t.get("stats_chart.deadlines_desc"),
                &bars,
                Some(100.0),
            ),
            caption: heading.clone(),
            heading,
            head: vec![
                t.get("stats_page.col_team").to_owned(),
                t.get("stats_page.col_tips").to_owned(),
                t.get("stats_page.col_median").to_owned(),
                t.get("stats_page.col_in_time").to_owned(),
            ],
            rows: teams
                .iter()
                .map(|team| {
                    vec![
                        team_name(&team.team),
                        shown(team.tips, threshold),
                        team.median_hours
                            .map_or("–".to_owned(), |h| format!("{h:.1}")),
                        percent(team.share_in_time),
                    ]
                })
                .collect(),
        });
    }

    let trends_view = trend_rows
        .iter()
        .map(|row| TrendView {
            label: label(Dimension::Category, &row.keys.first().cloned().flatten()),
            current: shown(row.current, threshold),
            previous: shown(row.previous, threshold),
            previous_change: signed_percent(change_percent(row.current, row.previous)),
            year_ago: shown(row.year_ago, threshold),
            year_change: signed_percent(change_percent(row.current, row.year_ago)),
        })
        .collect();
    let facilities_view = signals
        .iter()
        .map(|f: &FacilitySignal| FacilityView {
            rank: f.rank,
            name: f
                .name
                .clone()
                .unwrap_or_else(|| t.get("stats_page.facility_hidden").to_owned()),
            place: match &f.municipality_code {
                Some(code) => format!(
                    "{}, {}",
                    taxonomy.municipality_name(code),
                    taxonomy.region_name(&f.region_code)
                ),
                None => taxonomy.region_name(&f.region_code),
            },
            tips: shown(f.tips, threshold),
            priorities: Priority::ALL
                .iter()
                .zip(f.priorities)
                .filter(|(_, n)| *n != Some(0))
                .map(|(p, n)| {
                    format!(
                        "{} {}",
                        t.get(&format!("priority.{}", p.as_str())),
                        shown(n, threshold)
                    )
                })
                .collect::<Vec<_>>()
                .join(", "),
            clusters: f.clusters,
        })
        .collect();

    // The form.
    let value = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    // Every select but the period: "any" first; labelled `stats_filter.{id}`.
    let select = |id: &'static str, options: Vec<(String, String)>| {
        Filter::select(
            id,
            t.get(&format!("stats_filter.{id}")),
            t.get("stats_page.any"),
            value(id),
            options,
        )
    };
    let filters = vec![
        Filter {
            id: "period",
            label: t.get("stats_filter.period").to_owned(),
            choices: [Period::Week, Period::Month, Period::Day]
                .iter()
                .map(|p| Choice {
                    code: p.as_str().to_owned(),
                    label: t
                        .get(&format!("stats_page.period_{}", p.as_str()))
                        .to_owned(),
                    selected: *p == period,
                })
                .collect(),
        },
        select("region_code", region_labels(taxonomy)),
        select("category", code_labels(&taxonomy.categories, english)),
        select("care_sector", code_labels(&taxonomy.care_sectors, english)),
        select(
            "priority",
            text_labels(t, "priority", Priority::ALL.iter().map(|p| p.as_str())),
        ),
        select(
            "outcome",
            text_labels(t, "outcome", Outcome::ALL.iter().map(|o| o.as_str())),
        ),
        select("outbreak", code_labels(&taxonomy.outbreaks, english)),
        select(
            "channel",
            ["web", "api"]
                .iter()
                .map(|c| {
                    (
                        c.to_string(),
                        code_label(taxonomy, Dimension::Channel, c, english),
                    )
                })
                .collect(),
        ),
        select(
            "reporter_role",
            code_labels(&taxonomy.reporter_roles, english),
        ),
    ];

    let export_selection = base.grouped(&[Dimension::Region, Dimension::Category], Some(period));
    let export_base = query_string(&export_selection.to_pairs());
    let export_links = vec![
        (
            format!("/api/v1/stats/export?{export_base}&format=csv&headers=sv"),
            t.get("stats_page.export_csv_sv").to_owned(),
        ),
        (
            format!("/api/v1/stats/export?{export_base}&format=csv&headers=en"),
            t.get("stats_page.export_csv_en").to_owned(),
        ),
        (
            format!("/api/v1/stats/export?{export_base}&format=json"),
            t.get("stats_page.export_json").to_owned(),
        ),
    ];
    let total = if by_region.total_hidden {
        format!("<{threshold}")
    } else {
        by_region.total.to_string()
    };
    let suppression_note = if suppress {
        t.get("stats_page.suppressed_note")
            .replace("{threshold}", &threshold.to_string())
            .replace("{below}", &(threshold - 1).to_string())
    } else {
        t.get("stats_page.unsuppressed_note").to_owned()
    };
    let (csrf_token, cookie) = csrf::token(&request);
    let chrome = Chrome::signed_in(&state, &request, &who, Section::Situation, csrf_token);
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = SituationPage {
        title: t.get("stats_page.title").to_owned(),
        errors,
        filters,
        from: selection.from.to_string(),
        to: selection.to.to_string(),
        suppression_note,
        total,
        range: format!("{} – {}", selection.from, selection.to),
        charts: charts_out,
        trends: trends_view,
        facilities: facilities_view,
        export_links,
        t,
        chrome,
    };
    html(status, &page, cookie)
}
