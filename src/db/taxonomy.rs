//! Loads the taxonomy tables (categories, sectors, roles, regions, municipalities).

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::{care_sectors, categories, municipalities, regions, reporter_roles};
use crate::domain::taxonomy::{Label, Municipality, Region, Taxonomy};

type LabelRow = (String, String, String);

fn labels(rows: Vec<LabelRow>) -> Vec<Label> {
    rows.into_iter()
        .map(|(code, label_sv, label_en)| Label {
            code,
            label_sv,
            label_en,
        })
        .collect()
}

/// Reads every code list; `outbreaks` come from configuration.
pub async fn load(conn: &mut AsyncPgConnection, outbreaks: Vec<Label>) -> QueryResult<Taxonomy> {
    let category_rows = categories::table
        .order(categories::sort_order)
        .select((categories::code, categories::label_sv, categories::label_en))
        .load::<LabelRow>(conn)
        .await?;
    let sector_rows = care_sectors::table
        .order(care_sectors::sort_order)
        .select((
            care_sectors::code,
            care_sectors::label_sv,
            care_sectors::label_en,
        ))
        .load::<LabelRow>(conn)
        .await?;
    let role_rows = reporter_roles::table
        .order(reporter_roles::sort_order)
        .select((
            reporter_roles::code,
            reporter_roles::label_sv,
            reporter_roles::label_en,
        ))
        .load::<LabelRow>(conn)
        .await?;
    let region_rows = regions::table
        .order(regions::code)
        .select((regions::code, regions::name, regions::region_name))
        .load::<(String, String, String)>(conn)
        .await?;
    let municipality_rows = municipalities::table
        .order(municipalities::code)
        .select((
            municipalities::code,
            municipalities::name,
            municipalities::region_code,
        ))
        .load::<(String, String, String)>(conn)
        .await?;
    Ok(Taxonomy::new(
        labels(category_rows),
        labels(sector_rows),
        labels(role_rows),
        region_rows
            .into_iter()
            .map(|(code, name, region_name)| Region {
                code,
                name,
                region_name,
            })
            .collect(),
        municipality_rows
            .into_iter()
            .map(|(code, name, region_code)| Municipality {
                code,
                name,
                region_code,
            })
            .collect(),
        outbreaks,
    ))
}
