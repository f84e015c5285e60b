//! What cataloguing one export changes: plain functions over plain data.

use s3exports_config::names;

/// A Glue column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlueColumn {
    pub name: String,
    pub glue_type: String,
}

impl GlueColumn {
    pub fn new(name: impl Into<String>, glue_type: impl Into<String>) -> Self {
        Self { name: name.into(), glue_type: glue_type.into() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TablePlan {
    Create(Vec<GlueColumn>),
    /// The table's columns plus those this export added, in that order.
    Widen {
        columns: Vec<GlueColumn>,
        added: Vec<String>,
    },
    Unchanged,
}

/// Create the table, widen it with columns the export added, or leave it. Columns are never
/// dropped or retyped on the table: every partition carries its own export's columns, so old
/// snapshots stay readable as they were written.
pub fn plan_table(existing: Option<&[GlueColumn]>, exported: &[GlueColumn]) -> TablePlan {
    let exported: Vec<GlueColumn> =
        exported.iter().filter(|c| !names::PARTITION_KEYS.contains(&c.name.as_str())).cloned().collect();
    let Some(existing) = existing else { return TablePlan::Create(exported) };
    let added: Vec<GlueColumn> =
        exported.iter().filter(|c| !existing.iter().any(|e| e.name.eq_ignore_ascii_case(&c.name))).cloned().collect();
    if added.is_empty() {
        return TablePlan::Unchanged;
    }
    let mut columns = existing.to_vec();
    columns.extend(added.iter().cloned());
    TablePlan::Widen { columns, added: added.into_iter().map(|c| c.name).collect() }
}

/// `s3://bucket/prefix/export-id/database/schema.table/`: the partition of one table of one export.
pub fn table_location(bucket: &str, prefix: &str, export_id: &str, folder: &str) -> String {
    format!("s3://{bucket}/{}{folder}/", s3exports_rds::layout::export_folder(prefix, export_id))
}

/// Glue takes at most 100 partitions per BatchCreatePartition.
pub const PARTITIONS_PER_BATCH: usize = 100;

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(list: &[(&str, &str)]) -> Vec<GlueColumn> {
        list.iter().map(|(n, t)| GlueColumn::new(*n, *t)).collect()
    }

    #[test]
    fn create_widen_or_leave() {
        let v1 = cols(&[("id", "bigint"), ("status", "string")]);
        assert_eq!(plan_table(None, &v1), TablePlan::Create(v1.clone()));
        assert_eq!(plan_table(Some(&v1), &v1), TablePlan::Unchanged);
        let v2 = cols(&[("id", "bigint"), ("channel", "string"), ("status", "string")]);
        assert_eq!(
            plan_table(Some(&v1), &v2),
            TablePlan::Widen {
                columns: cols(&[("id", "bigint"), ("status", "string"), ("channel", "string")]),
                added: vec!["channel".into()]
            }
        );
        // An older export with fewer columns never narrows the table.
        assert_eq!(plan_table(Some(&v2), &v1), TablePlan::Unchanged);
        // A source column named like a partition key is not duplicated.
        let clash = cols(&[("id", "bigint"), ("snapshot_date", "string")]);
        assert_eq!(plan_table(None, &clash), TablePlan::Create(cols(&[("id", "bigint")])));
    }

    #[test]
    fn locations() {
        assert_eq!(table_location("b", "", "e1", "pams/public.orders"), "s3://b/e1/pams/public.orders/");
        assert_eq!(table_location("b", "/rds/", "e1", "pams/public.orders"), "s3://b/rds/e1/pams/public.orders/");
    }
}
