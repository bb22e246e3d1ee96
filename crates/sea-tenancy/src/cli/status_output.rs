//! `status` output: an aligned table for people, JSON for machines; one row per tenant, with
//! the database it lives in.

use serde_json::json;

use crate::migrate::{PublicStatus, TenantStatus};
use crate::placement::run::PerDatabase;

/// `status` of the tenants of every database.
pub(super) type Statuses = [PerDatabase<Vec<TenantStatus>>];

/// Everything `status` shows.
pub(super) struct Shown<'a> {
    /// The public set of the app's database.
    pub public: &'a PublicStatus,
    /// The tenants, by database.
    pub groups: &'a Statuses,
    /// Tenant schemas of the app's database that no tenant list names.
    pub orphans: &'a [String],
}

/// Tenants that are not current, unreachable ones included.
pub(super) fn lagging(groups: &Statuses) -> usize {
    groups
        .iter()
        .map(|g| match &g.result {
            Ok(statuses) => statuses
                .iter()
                .filter(|s| s.state != crate::migrate::State::Current)
                .count(),
            Err(_) => g.tenants.len(),
        })
        .sum()
}

pub(super) fn table(shown: &Shown<'_>) -> String {
    let (groups, public) = (shown.groups, shown.public);
    let mut rows = vec![[
        "tenant".to_owned(),
        "database".to_owned(),
        "applied".to_owned(),
        "pending".to_owned(),
        "state".to_owned(),
        "last version".to_owned(),
    ]];
    rows.push([
        "public".to_owned(),
        crate::placement::DEFAULT_DATABASE.to_owned(),
        public.applied.to_string(),
        public.pending.to_string(),
        public.state.as_str().to_owned(),
        public.last.clone().unwrap_or_else(|| "-".to_owned()),
    ]);
    let mut problems = Vec::new();
    for group in groups {
        match &group.result {
            Ok(statuses) => {
                for s in statuses {
                    rows.push([
                        s.tenant.schema().to_owned(),
                        group.name().to_owned(),
                        s.applied.to_string(),
                        s.pending.to_string(),
                        s.state.as_str().to_owned(),
                        s.last.clone().unwrap_or_else(|| "-".to_owned()),
                    ]);
                }
            }
            Err(e) => {
                problems.push(format!("database {}: {e}", group.name()));
                for t in &group.tenants {
                    rows.push([
                        t.schema().to_owned(),
                        group.name().to_owned(),
                        "-".to_owned(),
                        "-".to_owned(),
                        "unreachable".to_owned(),
                        "-".to_owned(),
                    ]);
                }
            }
        }
    }
    let widths: Vec<usize> = (0..6)
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    for p in problems {
        out.push_str(&p);
        out.push('\n');
    }
    if !shown.orphans.is_empty() {
        out.push_str(&format!(
            "orphan schemas (no tenant names them; `tenants prune` drops or archives them): {}\n",
            shown.orphans.join(", ")
        ));
    }
    let total: usize = groups.iter().map(|g| g.tenants.len()).sum();
    out.push_str(&format!("{total} tenants, {} not current", lagging(groups)));
    if groups.len() > 1 {
        out.push_str(&format!(", in {} databases", groups.len()));
    }
    out.push('\n');
    out
}

pub(super) fn json(shown: &Shown<'_>) -> String {
    let (groups, public) = (shown.groups, shown.public);
    let mut tenants = Vec::new();
    let mut databases = Vec::new();
    for group in groups {
        databases.push(json!({
            "database": group.name(),
            "tenants": group.tenants.len(),
            "problem": group.result.as_ref().err(),
        }));
        match &group.result {
            Ok(statuses) => tenants.extend(statuses.iter().map(|s| {
                json!({
                    "tenant": s.tenant.schema(),
                    "key": s.tenant.key(),
                    "database": group.name(),
                    "applied": s.applied,
                    "pending": s.pending,
                    "state": s.state.as_str(),
                    "last_version": s.last,
                    "problem": s.blocker(),
                })
            })),
            Err(e) => tenants.extend(group.tenants.iter().map(|t| {
                json!({
                    "tenant": t.schema(),
                    "key": t.key(),
                    "database": group.name(),
                    "applied": null,
                    "pending": null,
                    "state": "unreachable",
                    "last_version": null,
                    "problem": e,
                })
            })),
        }
    }
    let public = json!({
        "database": crate::placement::DEFAULT_DATABASE,
        "applied": public.applied,
        "pending": public.pending,
        "state": public.state.as_str(),
        "last_version": public.last,
    });
    serde_json::to_string_pretty(&json!({
        "public": public,
        "databases": databases,
        "tenants": tenants,
        "orphans": shown.orphans,
    }))
    .expect("JSON of plain values")
}
