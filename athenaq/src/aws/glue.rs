//! `tables` on AWS: the Glue tables of the environment's databases with their snapshots.

use aws_sdk_glue::Client;
use s3exports_rds::error::error_text;

use crate::output::Rows;

#[derive(Debug, Clone, PartialEq)]
pub struct TableRow {
    pub database: String,
    pub table: String,
    pub columns: usize,
    pub snapshots: usize,
    pub latest_snapshot: Option<String>,
}

/// The tables of one Glue database; `None` when the database does not exist (its stack is not
/// deployed yet).
pub async fn tables(glue: &Client, database: &str) -> Result<Option<Vec<TableRow>>, String> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = match glue.get_tables().database_name(database).set_next_token(token).send().await {
            Ok(page) => page,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_entity_not_found_exception()) => return Ok(None),
            Err(e) => return Err(error_text(e)),
        };
        for t in page.table_list() {
            let (snapshots, latest) = partitions(glue, database, t.name()).await?;
            out.push(TableRow {
                database: database.to_owned(),
                table: t.name().to_owned(),
                columns: t.storage_descriptor().map_or(0, |sd| sd.columns().len()),
                snapshots,
                latest_snapshot: latest,
            });
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return Ok(Some(out));
        }
    }
}

/// Partitions of a table and the latest `snapshot_date` among them.
async fn partitions(glue: &Client, database: &str, table: &str) -> Result<(usize, Option<String>), String> {
    let values = partition_values(glue, database, table).await?;
    let latest = values.iter().filter_map(|v| v.first()).max().cloned();
    Ok((values.len(), latest))
}

/// The values of every partition of a table (GetPartitions, all pages), in Glue's order:
/// `[snapshot_date, export_id]` for ours.
pub async fn partition_values(glue: &Client, database: &str, table: &str) -> Result<Vec<Vec<String>>, String> {
    let mut out = Vec::new();
    let mut pages = glue.get_partitions().database_name(database).table_name(table).into_paginator().send();
    while let Some(page) = pages.next().await {
        out.extend(page.map_err(error_text)?.partitions().iter().map(|p| p.values().to_vec()));
    }
    Ok(out)
}

pub fn to_rows(rows: &[TableRow]) -> Rows {
    let mut out = Rows::new(&[
        ("database", false),
        ("table", false),
        ("columns", true),
        ("snapshots", true),
        ("latest_snapshot", false),
    ]);
    for r in rows {
        out.rows.push(vec![
            Some(r.database.clone()),
            Some(r.table.clone()),
            Some(r.columns.to_string()),
            Some(r.snapshots.to_string()),
            r.latest_snapshot.clone(),
        ]);
    }
    out
}
