//! A MySQL-flavoured export: one snapshot of `maxonevams-stack-prod`, database `maxone`, with
//! MySQL's types as RDS writes them to Parquet: DATETIME and TIMESTAMP as INT64
//! TIMESTAMP_MICROS, DECIMAL as Parquet decimals (INT32, INT64 or FIXED_LEN_BYTE_ARRAY by
//! precision; text above 38), BIGINT UNSIGNED as DECIMAL(20,0), INT UNSIGNED as INT64,
//! TINYINT/SMALLINT/YEAR as INT32, DATE and TIME as text, CHAR, BIT and BLOB as bytes, FLOAT
//! as DOUBLE. Values are a pure function of the row id; the edges (the largest unsigned
//! values, 838:59:59, a zero date, bytes that need escaping, NULL beside empty) sit in the
//! first rows.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, Decimal128Builder, Float64Builder, Int32Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::record_batch::RecordBatch;
use s3exports_rds::layout::TypeMapping;

use crate::export_writer::{ExportSpec, TableSpec, column, write_export};
use crate::sample::mix;

pub const INSTANCE: &str = "maxonevams-stack-prod";
pub const DATABASE: &str = "maxone";
pub const BUCKET: &str = "maxonevams-db-snapshots-export";
/// Rows per part file, so a sample of some size has several.
const PART_ROWS: u64 = 50_000;

/// What the MySQL sample holds, to check a load against.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct MySqlFacts {
    pub export_id: String,
    pub rows: BTreeMap<String, u64>,
    /// Sum of `orders.total` (DECIMAL(12,2)) in cents.
    pub total_cents: i64,
    pub null_notes: u64,
    pub empty_notes: u64,
    /// Sum of the lengths of `orders.raw` (a BLOB), NULLs aside.
    pub raw_bytes: u64,
    pub null_raw: u64,
}

fn sized(mut m: TypeMapping, length: Option<i64>, precision: Option<i64>, fraction: Option<i64>) -> TypeMapping {
    m.original_char_max_length = length;
    m.original_num_precision = precision;
    m.original_date_time_precision = fraction;
    m
}

fn orders_columns() -> Vec<TypeMapping> {
    vec![
        column("id", "bigint", "INT64"),
        column("customer_id", "int unsigned", "INT64"),
        sized(column("status", "enum", "STRING"), Some(9), None, None),
        sized(column("total", "decimal", "DECIMAL(12,2)"), None, Some(12), None),
        sized(column("big_total", "decimal", "STRING"), None, Some(40), None),
        sized(column("placed_at", "datetime", "TIMESTAMP_MICROS"), None, None, Some(0)),
        sized(column("paid_at", "datetime", "TIMESTAMP_MICROS"), None, None, Some(6)),
        sized(column("updated", "timestamp", "TIMESTAMP_MICROS"), None, None, Some(0)),
        column("shipped_on", "date", "STRING"),
        column("slot", "time", "STRING"),
        column("gift", "tinyint(1)", "INT32"),
        column("tiny", "tinyint unsigned", "INT32"),
        column("delta", "smallint", "INT32"),
        sized(column("note", "varchar", "STRING"), Some(200), None, None),
        sized(column("code", "char", "BINARY"), Some(8), None, None),
        column("payload", "json", "STRING"),
        column("raw", "blob", "BINARY"),
        column("serial", "bigint unsigned", "DECIMAL(20,0)"),
        column("score", "double", "DOUBLE"),
        column("ratio", "float", "DOUBLE"),
        column("yr", "year", "INT32"),
        sized(column("flags", "bit", "BINARY"), None, Some(8), None),
    ]
}

const NOTES: [&str; 6] = ["tab\there", "line\nbreak", "back\\slash", "\\N is not NULL", "Grüße, 東京 🎁", "order"];

fn orders_part(from: u64, to: u64, facts: &mut MySqlFacts) -> anyhow::Result<RecordBatch> {
    let mut id = Int64Builder::new();
    let mut customer = Int64Builder::new();
    let mut status = StringBuilder::new();
    let mut total = Decimal128Builder::new().with_precision_and_scale(12, 2)?;
    let mut big_total = StringBuilder::new();
    let mut placed = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    let mut paid = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    let mut updated = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    let mut shipped = StringBuilder::new();
    let mut slot = StringBuilder::new();
    let (mut gift, mut tiny, mut delta, mut yr) =
        (Int32Builder::new(), Int32Builder::new(), Int32Builder::new(), Int32Builder::new());
    let mut note = StringBuilder::new();
    let mut code = BinaryBuilder::new();
    let mut payload = StringBuilder::new();
    let mut raw = BinaryBuilder::new();
    let mut serial = Decimal128Builder::new().with_precision_and_scale(20, 0)?;
    let (mut score, mut ratio) = (Float64Builder::new(), Float64Builder::new());
    let mut flags = BinaryBuilder::new();
    // 2026-01-01T00:00:00Z in microseconds.
    const YEAR_START: i64 = 1_767_225_600_000_000;
    for n in from..=to {
        let r = mix(n ^ 0x5EED);
        id.append_value(n as i64);
        customer.append_value(if n == 1 { i64::from(u32::MAX) } else { (1 + r % 1000) as i64 });
        status.append_value(["pending", "paid", "shipped", "cancelled"][(r >> 8) as usize % 4]);
        let cents = (r >> 12) as i64 % 10_000_000 - 1_000_000;
        total.append_value(i128::from(cents));
        facts.total_cents += cents;
        big_total.append_value(format!(
            "{}.{:010}",
            u128::from(r >> 4) * 1000 + u128::from(n % 1000),
            r % 10_000_000_000
        ));
        let second = YEAR_START + ((r >> 20) % (300 * 86_400)) as i64 * 1_000_000;
        placed.append_value(second);
        if r % 6 == 0 {
            paid.append_null()
        } else {
            paid.append_value(second + 3_600_000_000 + (r % 1_000_000) as i64)
        }
        updated.append_value(second + 60_000_000);
        if n == 3 {
            // MySQL's zero date, which RDS writes as the text MySQL shows.
            shipped.append_value("0000-00-00")
        } else if r % 5 == 0 {
            shipped.append_null()
        } else {
            shipped.append_value(format!("2026-{:02}-{:02}", 1 + (r >> 30) % 12, 1 + (r >> 34) % 28))
        }
        slot.append_value(if n == 2 {
            "838:59:59".to_owned()
        } else {
            format!("{:02}:{:02}:{:02}", (r >> 40) % 24, (r >> 44) % 60, (r >> 48) % 60)
        });
        gift.append_value((r % 2) as i32);
        tiny.append_value(if n == 1 { 255 } else { ((r >> 3) % 256) as i32 });
        delta.append_value(if n == 1 { -32_768 } else { ((r >> 5) % 2000) as i32 - 1000 });
        yr.append_value(if n == 2 { 1901 } else { 2026 });
        match r % 8 {
            0 => {
                note.append_null();
                facts.null_notes += 1;
            }
            1 => {
                note.append_value("");
                facts.empty_notes += 1;
            }
            k => note.append_value(format!("{} {n}", NOTES[k as usize - 2])),
        }
        code.append_value(format!("C-{:06}", n % 1_000_000).as_bytes());
        payload.append_value(format!("{{\"n\": {n}, \"ok\": {}, \"tag\": \"é\"}}", r % 2 == 0));
        let blob: Vec<u8> = match r % 4 {
            0 => {
                raw.append_null();
                facts.null_raw += 1;
                Vec::new()
            }
            1 => Vec::new(),
            _ => [0u8, b'\t', b'\n', b'\\', 0xFF, b'N'].iter().chain(&r.to_le_bytes()).copied().collect(),
        };
        if r % 4 != 0 {
            facts.raw_bytes += blob.len() as u64;
            raw.append_value(&blob);
        }
        serial.append_value(if n == 1 { i128::from(u64::MAX) } else { i128::from(r >> 1) });
        score.append_value(if n == 2 { 1e300 } else { (r % 100_000) as f64 / 7.0 });
        ratio.append_value(f64::from(((r >> 9) % 1000) as f32 / 8.0));
        flags.append_value([(r >> 17) as u8]);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(id.finish()),
        Arc::new(customer.finish()),
        Arc::new(status.finish()),
        Arc::new(total.finish()),
        Arc::new(big_total.finish()),
        Arc::new(placed.finish()),
        Arc::new(paid.finish()),
        Arc::new(updated.finish()),
        Arc::new(shipped.finish()),
        Arc::new(slot.finish()),
        Arc::new(gift.finish()),
        Arc::new(tiny.finish()),
        Arc::new(delta.finish()),
        Arc::new(note.finish()),
        Arc::new(code.finish()),
        Arc::new(payload.finish()),
        Arc::new(raw.finish()),
        Arc::new(serial.finish()),
        Arc::new(score.finish()),
        Arc::new(ratio.finish()),
        Arc::new(yr.finish()),
        Arc::new(flags.finish()),
    ];
    let names = orders_columns();
    let batch = RecordBatch::try_from_iter(names.iter().map(|m| m.column_name.clone()).zip(columns))?;
    Ok(batch)
}

/// Writes the MySQL sample with `orders` rows under `out` and returns what it holds.
pub fn write_mysql_sample(out: &Path, orders: u64) -> anyhow::Result<MySqlFacts> {
    let mut facts = MySqlFacts::default();
    let mut parts = Vec::new();
    let mut from = 1;
    while from <= orders {
        let to = (from + PART_ROWS - 1).min(orders);
        parts.push(orders_part(from, to, &mut facts)?);
        from = to + 1;
    }
    let tables = vec![
        TableSpec { target: format!("{DATABASE}.orders"), columns: orders_columns(), parts },
        TableSpec {
            target: format!("{DATABASE}.archived_orders"),
            columns: vec![
                column("id", "bigint", "INT64"),
                sized(column("why", "varchar", "STRING"), Some(40), None, None),
            ],
            parts: Vec::new(),
        },
    ];
    let snapshot_time = chrono::DateTime::parse_from_rfc3339("2026-11-24T04:00:00Z")?.with_timezone(&chrono::Utc);
    let spec =
        ExportSpec { instance: INSTANCE.into(), bucket: BUCKET.into(), snapshot_time, tables, notes: Vec::new() };
    let written = write_export(out, &spec)?;
    facts.export_id = written.export_id;
    facts.rows = BTreeMap::from([("orders".to_owned(), orders), ("archived_orders".to_owned(), 0)]);
    Ok(facts)
}
