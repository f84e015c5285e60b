//! A realistic RDS export of a PostgreSQL database, written in the layout RDS uses: for tests,
//! examples, the quick start and the benchmarks.
//!
//! Database `pams` (instance `pams-stack-prod`), schema `public`, two snapshots a day apart:
//! - customers, orders, order_items, events, with PostgreSQL types as RDS maps them (int8 ->
//!   INT64, int4 and smallint -> INT32, bool, float8, bytea -> BINARY; numeric, date,
//!   timestamp(tz), json, uuid and arrays -> UTF-8 strings), NULLs, empty strings and unicode;
//! - the second snapshot has more orders, some shipped since, and a new `orders.channel` column;
//! - the first is gzip-compressed in the older flat layout, the second snappy in batch folders.
//!
//! Values are a pure function of the row id, so both snapshots agree where they overlap.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, StringBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, GzipLevel};
use parquet::file::properties::WriterProperties;
use serde_json::json;

use s3exports_rds::layout::{SchemaMetadata, TableStatus, TablesInfo, TypeMapping};

pub const DB_INSTANCE: &str = "pams-stack-prod";
pub const DATABASE: &str = "pams";
pub const BUCKET: &str = "pams-db-snapshots-export";
const BATCH_ROWS: usize = 65_536;
/// Rows per part file in the batch layout, so large samples have several parts.
const PART_ROWS: u64 = 1_000_000;
const STATUSES: [&str; 4] = ["pending", "paid", "shipped", "cancelled"];
const COUNTRIES: [&str; 6] = ["DE", "FR", "JP", "BR", "US", "ÖSTERREICH"];
const NAMES: [&str; 8] =
    ["Zoë Müller", "José Álvarez", "李小龙", "Ана Петрова", "Ólafur Þór", "Amélie Dupont", "山田 太郎", "O'Brien"];

#[derive(Debug, Clone, Copy)]
pub struct SampleSpec {
    /// Orders in the second snapshot; the first has 90% of them.
    pub orders: u64,
    pub customers: u64,
}

impl Default for SampleSpec {
    fn default() -> Self {
        Self { orders: 1_000, customers: 50 }
    }
}

/// What was written, to check queries against.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct SnapshotFacts {
    pub export_id: String,
    pub snapshot_date: String,
    pub rows: BTreeMap<String, u64>,
    pub orders_by_status: BTreeMap<String, u64>,
    /// Sum of `orders.total` in cents (numeric arrives as a string).
    pub orders_total_cents: i64,
    pub orders_with_null_note: u64,
    pub orders_with_empty_note: u64,
    /// Order items joined to orders of customers in `DE`.
    pub de_order_items: u64,
    /// Orders pending in the previous snapshot and shipped in this one.
    pub shipped_since_previous: u64,
}

/// splitmix64: a fast, well-mixed pure function of the seed.
pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn pick<T: Copy>(items: &[T], seed: u64) -> T {
    items[(seed % items.len() as u64) as usize]
}

struct Order {
    id: i64,
    customer_id: i64,
    status: &'static str,
    total_cents: i64,
    placed_at: String,
    note: Option<String>,
    channel: &'static str,
    items: u64,
}

fn order(id: u64, customers: u64, second: bool) -> Order {
    let r = mix(id);
    let mut status = pick(&STATUSES, r >> 8);
    // Between the snapshots every tenth pending order shipped.
    if second && status == "pending" && id % 10 == 0 {
        status = "shipped";
    }
    let note = match r % 7 {
        0 => None,
        1 => Some(String::new()),
        2 => Some("Geschenk verpacken, bitte 🎁".to_owned()),
        3 => Some("leave at the door; \"fragile\"".to_owned()),
        _ => Some(format!("order {id}")),
    };
    Order {
        id: id as i64,
        customer_id: (1 + (r >> 16) % customers) as i64,
        status,
        total_cents: (500 + (r >> 24) % 100_000) as i64,
        placed_at: format!(
            "2026-{:02}-{:02} {:02}:{:02}:00",
            1 + (r >> 32) % 10,
            1 + (r >> 36) % 28,
            (r >> 40) % 24,
            (r >> 44) % 60
        ),
        note,
        channel: pick(&["web", "app", "phone"], r >> 48),
        items: 1 + (r >> 52) % 4,
    }
}

fn customer_country(id: u64) -> &'static str {
    pick(&COUNTRIES, mix(id ^ 0xC0FFEE))
}

fn cents(c: i64) -> String {
    format!("{}.{:02}", c / 100, c % 100)
}

fn string_field(name: &str) -> Field {
    Field::new(name, DataType::Utf8, true)
}

fn orders_schema(with_channel: bool) -> SchemaRef {
    let mut fields = vec![
        Field::new("id", DataType::Int64, false),
        Field::new("customer_id", DataType::Int64, true),
        string_field("status"),
        string_field("total"),
        string_field("placed_at"),
        string_field("note"),
    ];
    if with_channel {
        fields.push(string_field("channel"));
    }
    Arc::new(Schema::new(fields))
}

/// Writes one Parquet part file at a time, rolling over every `PART_ROWS` rows.
struct PartWriter {
    dir: PathBuf,
    schema: SchemaRef,
    props: WriterProperties,
    suffix: &'static str,
    batch_folder: bool,
    part: u32,
    rows_in_part: u64,
    writer: Option<ArrowWriter<File>>,
}

impl PartWriter {
    fn new(dir: PathBuf, schema: SchemaRef, second: bool) -> Self {
        let compression = if second { Compression::SNAPPY } else { Compression::GZIP(GzipLevel::default()) };
        Self {
            dir,
            schema,
            props: WriterProperties::builder().set_compression(compression).build(),
            suffix: if second { "snappy" } else { "gz" },
            batch_folder: second,
            part: 0,
            rows_in_part: 0,
            writer: None,
        }
    }

    fn write(&mut self, batch: &RecordBatch) -> anyhow::Result<()> {
        if self.writer.is_none() || self.rows_in_part >= PART_ROWS {
            self.finish_part()?;
            // Batch layout: <table>/<batch>/part-*; older flat layout: <table>/part-*.
            let dir = if self.batch_folder { self.dir.join((self.part + 1).to_string()) } else { self.dir.clone() };
            std::fs::create_dir_all(&dir)?;
            let name =
                format!("part-{:05}-{:016x}.{}.parquet", self.part, mix(u64::from(self.part) ^ 0xA11CE), self.suffix);
            let file = File::create(dir.join(name))?;
            self.writer = Some(ArrowWriter::try_new(file, self.schema.clone(), Some(self.props.clone()))?);
            self.part += 1;
            self.rows_in_part = 0;
        }
        if let Some(w) = self.writer.as_mut() {
            w.write(batch)?;
        }
        self.rows_in_part += batch.num_rows() as u64;
        Ok(())
    }

    fn finish_part(&mut self) -> anyhow::Result<()> {
        if let Some(w) = self.writer.take() {
            w.close()?;
        }
        Ok(())
    }
}

fn mapping(columns: &[(&str, &str, &str)]) -> Option<SchemaMetadata> {
    Some(SchemaMetadata {
        original_type_mappings: columns
            .iter()
            .map(|(c, pg, exported)| TypeMapping {
                column_name: (*c).into(),
                original_type: (*pg).into(),
                expected_exported_type: (*exported).into(),
                ..TypeMapping::default()
            })
            .collect(),
    })
}

/// Writes both snapshots under `out` and returns what each holds.
pub fn write_sample(out: &Path, spec: SampleSpec) -> anyhow::Result<Vec<SnapshotFacts>> {
    let snapshots = [("2026-11-23", spec.orders * 9 / 10, false), ("2026-11-24", spec.orders, true)];
    let mut facts = Vec::new();
    for (date, orders, second) in snapshots {
        facts.push(write_snapshot(out, date, orders, spec.customers, second)?);
    }
    let previous = snapshots[0].1;
    facts[1].shipped_since_previous = (1..=previous)
        .filter(|&n| {
            order(n, spec.customers, false).status == "pending" && order(n, spec.customers, true).status == "shipped"
        })
        .count() as u64;
    Ok(facts)
}

fn write_snapshot(out: &Path, date: &str, orders: u64, customers: u64, second: bool) -> anyhow::Result<SnapshotFacts> {
    let snapshot_id = format!("rds:{DB_INSTANCE}-{date}-03-10");
    let arn = format!("arn:aws:rds:eu-west-1:123456789012:snapshot:{snapshot_id}");
    let time = chrono::DateTime::parse_from_rfc3339(&format!("{date}T03:10:00Z"))?.with_timezone(&chrono::Utc);
    let export_id = s3exports_rds::export_id::export_task_identifier(DB_INSTANCE, time, &arn);
    let root = out.join(&export_id);
    let table_dir = |t: &str| root.join(DATABASE).join(format!("public.{t}"));
    let mut facts =
        SnapshotFacts { export_id: export_id.clone(), snapshot_date: date.to_owned(), ..Default::default() };

    // customers
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        string_field("name"),
        string_field("email"),
        string_field("country"),
        string_field("created_at"),
        Field::new("vip", DataType::Boolean, true),
        Field::new("score", DataType::Float64, true),
    ]));
    let mut w = PartWriter::new(table_dir("customers"), schema.clone(), second);
    let (mut id, mut name, mut email, mut country, mut created, mut vip, mut score) = (
        Int64Builder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
        BooleanBuilder::new(),
        Float64Builder::new(),
    );
    for c in 1..=customers {
        let r = mix(c ^ 0xC0FFEE);
        id.append_value(c as i64);
        name.append_value(format!("{} #{c}", pick(&NAMES, r >> 3)));
        if r % 5 == 0 {
            email.append_null()
        } else {
            email.append_value(format!("customer{c}@example.com"))
        }
        country.append_value(customer_country(c));
        created.append_value(format!("2024-{:02}-{:02} 08:00:00+00", 1 + (r >> 20) % 12, 1 + (r >> 24) % 28));
        if r % 3 == 0 {
            vip.append_null()
        } else {
            vip.append_value(r % 3 == 1)
        }
        score.append_value(((r >> 28) % 1000) as f64 / 10.0);
    }
    let cols: Vec<ArrayRef> = vec![
        Arc::new(id.finish()),
        Arc::new(name.finish()),
        Arc::new(email.finish()),
        Arc::new(country.finish()),
        Arc::new(created.finish()),
        Arc::new(vip.finish()),
        Arc::new(score.finish()),
    ];
    w.write(&RecordBatch::try_new(schema, cols)?)?;
    w.finish_part()?;
    facts.rows.insert("customers".into(), customers);

    // orders and order_items, streamed in batches.
    let orders_schema = orders_schema(second);
    let items_schema = Arc::new(Schema::new(vec![
        Field::new("order_id", DataType::Int64, false),
        Field::new("line", DataType::Int32, false),
        string_field("sku"),
        Field::new("quantity", DataType::Int32, true),
        string_field("unit_price"),
    ]));
    let mut ow = PartWriter::new(table_dir("orders"), orders_schema.clone(), second);
    let mut iw = PartWriter::new(table_dir("order_items"), items_schema.clone(), second);
    let mut item_rows = 0u64;
    let mut start = 1u64;
    while start <= orders {
        let end = (start + BATCH_ROWS as u64 - 1).min(orders);
        let (mut id, mut cust, mut status, mut total, mut placed, mut note, mut channel) = (
            Int64Builder::new(),
            Int64Builder::new(),
            StringBuilder::new(),
            StringBuilder::new(),
            StringBuilder::new(),
            StringBuilder::new(),
            StringBuilder::new(),
        );
        let (mut oid, mut line, mut sku, mut qty, mut price) =
            (Int64Builder::new(), Int32Builder::new(), StringBuilder::new(), Int32Builder::new(), StringBuilder::new());
        for n in start..=end {
            let o = order(n, customers, second);
            id.append_value(o.id);
            cust.append_value(o.customer_id);
            status.append_value(o.status);
            total.append_value(cents(o.total_cents));
            placed.append_value(&o.placed_at);
            match &o.note {
                None => {
                    note.append_null();
                    facts.orders_with_null_note += 1;
                }
                Some(text) => {
                    if text.is_empty() {
                        facts.orders_with_empty_note += 1;
                    }
                    note.append_value(text);
                }
            }
            channel.append_value(o.channel);
            *facts.orders_by_status.entry(o.status.to_owned()).or_default() += 1;
            facts.orders_total_cents += o.total_cents;
            let de = customer_country(o.customer_id as u64) == "DE";
            for l in 1..=o.items {
                let r = mix(n * 8 + l);
                oid.append_value(o.id);
                line.append_value(l as i32);
                sku.append_value(format!("SKU-{:04}", r % 500));
                if r % 11 == 0 {
                    qty.append_null()
                } else {
                    qty.append_value(1 + (r % 5) as i32)
                }
                price.append_value(cents((100 + r % 9_900) as i64));
                item_rows += 1;
                if de {
                    facts.de_order_items += 1;
                }
            }
        }
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(id.finish()),
            Arc::new(cust.finish()),
            Arc::new(status.finish()),
            Arc::new(total.finish()),
            Arc::new(placed.finish()),
            Arc::new(note.finish()),
        ];
        if second {
            cols.push(Arc::new(channel.finish()));
        }
        ow.write(&RecordBatch::try_new(orders_schema.clone(), cols)?)?;
        let cols: Vec<ArrayRef> = vec![
            Arc::new(oid.finish()),
            Arc::new(line.finish()),
            Arc::new(sku.finish()),
            Arc::new(qty.finish()),
            Arc::new(price.finish()),
        ];
        iw.write(&RecordBatch::try_new(items_schema.clone(), cols)?)?;
        start = end + 1;
    }
    ow.finish_part()?;
    iw.finish_part()?;
    facts.rows.insert("orders".into(), orders);
    facts.rows.insert("order_items".into(), item_rows);

    // events: uuid, json, array and bytea columns.
    let schema = Arc::new(Schema::new(vec![
        string_field("id"),
        string_field("payload"),
        string_field("tags"),
        Field::new("raw", DataType::Binary, true),
        string_field("happened_on"),
    ]));
    let events = 20u64;
    let (mut id, mut payload, mut tags, mut raw, mut on) =
        (StringBuilder::new(), StringBuilder::new(), StringBuilder::new(), BinaryBuilder::new(), StringBuilder::new());
    for e in 1..=events {
        let r = mix(e ^ 0xE7E7);
        id.append_value(format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            r as u32,
            (r >> 32) as u16,
            r % 0xfff,
            (r >> 12) % 0xfff,
            r >> 16 & 0xffff_ffff_ffff
        ));
        payload.append_value(
            json!({"kind": pick(&["login", "logout", "refund"], r), "ok": r % 2 == 0, "note": "ü"}).to_string(),
        );
        tags.append_value(format!("{{{},{}}}", pick(&["a", "b", "c"], r), pick(&["x", "y"], r >> 4)));
        if r % 4 == 0 {
            raw.append_null()
        } else {
            raw.append_value(r.to_le_bytes())
        }
        on.append_value(format!("2026-11-{:02}", 1 + r % 22));
    }
    let cols: Vec<ArrayRef> = vec![
        Arc::new(id.finish()),
        Arc::new(payload.finish()),
        Arc::new(tags.finish()),
        Arc::new(raw.finish()),
        Arc::new(on.finish()),
    ];
    let mut w = PartWriter::new(table_dir("events"), schema.clone(), second);
    w.write(&RecordBatch::try_new(schema, cols)?)?;
    w.finish_part()?;
    facts.rows.insert("events".into(), events);

    write_info_files(&root, &export_id, &arn, date, second)?;
    Ok(facts)
}

fn write_info_files(root: &Path, export_id: &str, arn: &str, date: &str, second: bool) -> anyhow::Result<()> {
    let times = ["03:10:00", "03:20:00", "03:41:00"].map(|t| format!("{date}T{t}Z"));
    let info = crate::export_writer::completed_info(export_id, arn, BUCKET, times);
    std::fs::write(root.join(format!("export_info_{export_id}.json")), serde_json::to_string_pretty(&info)?)?;
    let text = |c| (c, "text", "STRING");
    let mut orders_cols = vec![
        ("id", "bigint", "INT64"),
        ("customer_id", "bigint", "INT64"),
        text("status"),
        ("total", "numeric", "STRING"),
        ("placed_at", "timestamp without time zone", "STRING"),
        text("note"),
    ];
    if second {
        orders_cols.push(text("channel"));
    }
    let tables = [
        (
            "customers",
            mapping(&[
                ("id", "bigint", "INT64"),
                text("name"),
                text("email"),
                text("country"),
                ("created_at", "timestamp with time zone", "STRING"),
                ("vip", "boolean", "BOOLEAN"),
                ("score", "double precision", "DOUBLE"),
            ]),
        ),
        (
            "events",
            mapping(&[
                ("id", "uuid", "STRING"),
                ("payload", "jsonb", "STRING"),
                ("tags", "ARRAY", "STRING"),
                ("raw", "bytea", "BINARY"),
                ("happened_on", "date", "STRING"),
            ]),
        ),
        (
            "order_items",
            mapping(&[
                ("order_id", "bigint", "INT64"),
                ("line", "integer", "INT32"),
                text("sku"),
                ("quantity", "smallint", "INT32"),
                ("unit_price", "numeric", "STRING"),
            ]),
        ),
        ("orders", mapping(&orders_cols)),
    ];
    let mut per_table_status: Vec<TableStatus> = tables
        .into_iter()
        .map(|(t, schema_metadata)| TableStatus {
            target: format!("{DATABASE}.public.{t}"),
            status: "COMPLETE".to_owned(),
            size_gb: Some(0.0),
            schema_metadata,
            table_statistics: Some(json!({"extractionStartTime": format!("{date}T03:21:00Z"), "partitioningInfo": {"numberOfPartitions": 1}})),
            ..TableStatus::default()
        })
        .collect();
    // What RDS adds for a PostgreSQL instance's other databases: an entry that is no table
    // result, with a warning and no status (the message is representative, not RDS's own).
    per_table_status.push(TableStatus {
        target: "postgres".to_owned(),
        warning_message: Some("No tables found to export in database postgres".to_owned()),
        ..TableStatus::default()
    });
    let status = TablesInfo { per_table_status };
    std::fs::write(
        root.join(format!("export_tables_info_{export_id}_from_1_to_4.json")),
        serde_json::to_string_pretty(&status)?,
    )?;
    Ok(())
}
