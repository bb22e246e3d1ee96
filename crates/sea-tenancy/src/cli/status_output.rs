//! `status` output: an aligned table for people, JSON for machines.

use serde_json::json;

use crate::migrate::TenantStatus;

pub(super) fn table(statuses: &[TenantStatus]) -> String {
    let mut rows = vec![[
        "tenant".to_owned(),
        "applied".to_owned(),
        "pending".to_owned(),
        "state".to_owned(),
        "last version".to_owned(),
    ]];
    for s in statuses {
        rows.push([
            s.tenant.schema().to_owned(),
            s.applied.to_string(),
            s.pending.to_string(),
            s.state.as_str().to_owned(),
            s.last.clone().unwrap_or_else(|| "-".to_owned()),
        ]);
    }
    let widths: Vec<usize> = (0..5)
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
    let behind = statuses
        .iter()
        .filter(|s| s.state.as_str() != "current")
        .count();
    out.push_str(&format!(
        "{} tenants, {} not current\n",
        statuses.len(),
        behind
    ));
    out
}

pub(super) fn json(statuses: &[TenantStatus]) -> String {
    let tenants: Vec<_> = statuses
        .iter()
        .map(|s| {
            json!({
                "tenant": s.tenant.schema(),
                "key": s.tenant.key(),
                "applied": s.applied,
                "pending": s.pending,
                "state": s.state.as_str(),
                "last_version": s.last,
                "problem": s.blocker(),
            })
        })
        .collect();
    serde_json::to_string_pretty(&json!({ "tenants": tenants })).expect("JSON of plain values")
}
