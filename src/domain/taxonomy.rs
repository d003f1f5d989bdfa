//! The code lists a tip is classified by (categories, care sectors, reporter roles, regions,
//! municipalities, outbreaks), loaded once at start and used to validate submissions.

use std::collections::HashMap;

use serde::Serialize;
use utoipa::ToSchema;

/// A code with its Swedish and English labels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Label {
    #[schema(example = "patient_safety")]
    pub code: String,
    #[schema(example = "Patientsäkerhet")]
    pub label_sv: String,
    #[schema(example = "Patient safety")]
    pub label_en: String,
}

/// A län (county) with the healthcare region responsible for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Region {
    /// Two-digit SCB länskod.
    #[schema(example = "01")]
    pub code: String,
    #[schema(example = "Stockholms län")]
    pub name: String,
    #[schema(example = "Region Stockholm")]
    pub region_name: String,
}

/// A kommun (municipality).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Municipality {
    /// Four-digit SCB kommunkod.
    #[schema(example = "0114")]
    pub code: String,
    #[schema(example = "Upplands Väsby")]
    pub name: String,
    #[schema(example = "01")]
    pub region_code: String,
}

/// Every code list, as served by `GET /api/v1/taxonomy`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Taxonomy {
    pub categories: Vec<Label>,
    pub care_sectors: Vec<Label>,
    pub reporter_roles: Vec<Label>,
    pub regions: Vec<Region>,
    pub municipalities: Vec<Municipality>,
    /// Outbreaks a tip may be tagged with (from configuration).
    pub outbreaks: Vec<Label>,
    #[serde(skip)]
    municipality_region: HashMap<String, String>,
}

impl Taxonomy {
    pub fn new(
        categories: Vec<Label>,
        care_sectors: Vec<Label>,
        reporter_roles: Vec<Label>,
        regions: Vec<Region>,
        municipalities: Vec<Municipality>,
        outbreaks: Vec<Label>,
    ) -> Self {
        let municipality_region = municipalities
            .iter()
            .map(|m| (m.code.clone(), m.region_code.clone()))
            .collect();
        Taxonomy {
            categories,
            care_sectors,
            reporter_roles,
            regions,
            municipalities,
            outbreaks,
            municipality_region,
        }
    }

    fn label_of(list: &[Label], code: &str, english: bool) -> String {
        list.iter()
            .find(|l| l.code == code)
            .map(|l| if english { &l.label_en } else { &l.label_sv })
            .cloned()
            .unwrap_or_else(|| code.to_owned())
    }

    /// A category's label in Swedish or English (the code itself if unknown).
    pub fn category_label(&self, code: &str, english: bool) -> String {
        Self::label_of(&self.categories, code, english)
    }

    pub fn care_sector_label(&self, code: &str, english: bool) -> String {
        Self::label_of(&self.care_sectors, code, english)
    }

    pub fn reporter_role_label(&self, code: &str, english: bool) -> String {
        Self::label_of(&self.reporter_roles, code, english)
    }

    pub fn outbreak_label(&self, code: &str, english: bool) -> String {
        Self::label_of(&self.outbreaks, code, english)
    }

    pub fn region_name(&self, code: &str) -> String {
        self.regions
            .iter()
            .find(|r| r.code == code)
            .map_or_else(|| code.to_owned(), |r| r.name.clone())
    }

    pub fn municipality_name(&self, code: &str) -> String {
        self.municipalities
            .iter()
            .find(|m| m.code == code)
            .map_or_else(|| code.to_owned(), |m| m.name.clone())
    }

    pub fn has_category(&self, code: &str) -> bool {
        self.categories.iter().any(|l| l.code == code)
    }

    pub fn has_care_sector(&self, code: &str) -> bool {
        self.care_sectors.iter().any(|l| l.code == code)
    }

    pub fn has_reporter_role(&self, code: &str) -> bool {
        self.reporter_roles.iter().any(|l| l.code == code)
    }

    pub fn has_region(&self, code: &str) -> bool {
        self.regions.iter().any(|r| r.code == code)
    }

    pub fn has_outbreak(&self, code: &str) -> bool {
        self.outbreaks.iter().any(|l| l.code == code)
    }

    /// The region code of a municipality, if the municipality exists.
    pub fn region_of_municipality(&self, code: &str) -> Option<&str> {
        self.municipality_region.get(code).map(String::as_str)
    }
}
