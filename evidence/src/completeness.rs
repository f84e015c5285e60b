//! Whether an export holds what the previous one did, from the two manifests: a table gone, a
//! table RDS skipped, rows that fell by more than the configured share; and, when the previous
//! manifest cannot be read, a finding that says the comparison was not made, and why.

use crate::manifest::Manifest;
use crate::text::shown;

/// The finding when the previous manifest (of export `previous`) cannot be compared with.
pub fn not_compared(previous: &str, why: &str) -> String {
    format!(
        "completeness not checked: the previous manifest (export {}) cannot be compared with: {why}; tables gone \
         or rows fallen since then cannot be seen",
        shown(previous)
    )
}

/// One finding, naming the table.
pub fn warnings(current: &Manifest, previous: Option<&Manifest>, row_drop_warn_pct: u32) -> Vec<String> {
    let mut out = Vec::new();
    for left in current.left_out.iter().filter(|l| !l.status.is_empty()) {
        let message = left.message.as_deref().map(|m| format!(": {}", shown(m))).unwrap_or_default();
        out.push(format!("RDS did not export table {} ({}){message}", shown(&left.target), shown(&left.status)));
    }
    let Some(previous) = previous else { return out };
    for before in &previous.tables {
        let Some(now) = current.tables.iter().find(|t| t.target == before.target) else {
            if !current.left_out.iter().any(|l| l.target == before.target) {
                out.push(format!(
                    "table {} was in export {} and is absent from this one",
                    shown(&before.target),
                    shown(&previous.export.id)
                ));
            }
            continue;
        };
        if let (Some(was), Some(is)) = (before.rows, now.rows) {
            // More than `row_drop_warn_pct` percent fewer rows: is * 100 < was * (100 - pct).
            let floor = u128::from(was) * u128::from(100 - row_drop_warn_pct.min(100));
            if was > 0 && u128::from(is) * 100 < floor {
                let drop = (was - is) as f64 * 100.0 / was as f64;
                out.push(format!(
                    "table {}: rows fell from {was} to {is} ({drop:.0}% fewer) since export {}",
                    shown(&now.target),
                    shown(&previous.export.id)
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{LeftOut, sample};

    #[test]
    fn gone_skipped_and_shrunk_tables_are_named() {
        let previous = sample("e1", None);
        let mut now = sample("e2", None);
        assert!(warnings(&now, Some(&previous), 50).is_empty(), "the same export: nothing to say");
        assert!(warnings(&now, None, 50).is_empty());

        now.tables[0].rows = Some(40);
        let w = warnings(&now, Some(&previous), 50);
        assert_eq!(w, ["table pams.public.orders: rows fell from 100 to 40 (60% fewer) since export e1"]);
        now.tables[0].rows = Some(50);
        assert!(warnings(&now, Some(&previous), 50).is_empty(), "exactly half is not more than half");

        now.tables.clear();
        let w = warnings(&now, Some(&previous), 50);
        assert_eq!(w, ["table pams.public.orders was in export e1 and is absent from this one"]);

        now.left_out.push(LeftOut {
            target: "pams.public.orders".into(),
            status: "SKIPPED".into(),
            message: Some("PERMISSIONS_DO_NOT_EXIST".into()),
        });
        let w = warnings(&now, Some(&previous), 50);
        assert_eq!(w, ["RDS did not export table pams.public.orders (SKIPPED): PERMISSIONS_DO_NOT_EXIST"]);
    }
}
