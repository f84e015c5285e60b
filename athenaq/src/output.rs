//! Result rows and their three renderings: a readable table, CSV and JSON (one object a row).
//! NULL stays distinct from the empty string in all three.

use std::io::Write;

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use datafusion::arrow::array::Array;
use datafusion::arrow::datatypes::Schema;
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    /// Rendered as a JSON number when it parses as one.
    pub numeric: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Option<String>>>,
}

impl Rows {
    pub fn new(columns: &[(&str, bool)]) -> Self {
        Self {
            columns: columns.iter().map(|(n, numeric)| Column { name: (*n).into(), numeric: *numeric }).collect(),
            rows: Vec::new(),
        }
    }

    pub fn from_batches(schema: &Schema, batches: &[RecordBatch]) -> Result<Self, ArrowError> {
        let columns = schema
            .fields()
            .iter()
            .map(|f| Column { name: f.name().clone(), numeric: f.data_type().is_numeric() })
            .collect();
        let mut rows = Vec::new();
        let options = FormatOptions::default();
        for batch in batches {
            let formatters = batch
                .columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
                .collect::<Result<Vec<_>, _>>()?;
            for i in 0..batch.num_rows() {
                rows.push(
                    batch
                        .columns()
                        .iter()
                        .zip(&formatters)
                        .map(|(c, f)| (!c.is_null(i)).then(|| f.value(i).to_string()))
                        .collect(),
                );
            }
        }
        Ok(Self { columns, rows })
    }

    pub fn render(&self, format: Format, out: &mut impl Write) -> std::io::Result<()> {
        match format {
            Format::Table => {
                let mut table = Table::new();
                table.load_style(UTF8_FULL_CONDENSED).set_header(self.columns.iter().map(|c| c.name.as_str()));
                for row in &self.rows {
                    table.add_row(row.iter().map(|v| v.as_deref().unwrap_or("NULL")));
                }
                writeln!(out, "{table}")?;
                writeln!(out, "({} row{})", self.rows.len(), if self.rows.len() == 1 { "" } else { "s" })
            }
            Format::Csv => {
                let header: Vec<String> = self.columns.iter().map(|c| csv_field(Some(&c.name))).collect();
                writeln!(out, "{}", header.join(","))?;
                for row in &self.rows {
                    let fields: Vec<String> = row.iter().map(|v| csv_field(v.as_deref())).collect();
                    writeln!(out, "{}", fields.join(","))?;
                }
                Ok(())
            }
            Format::Json => {
                for row in &self.rows {
                    let mut obj = Map::new();
                    for (c, v) in self.columns.iter().zip(row) {
                        let value = match v {
                            None => Value::Null,
                            Some(text) if c.numeric => text
                                .parse::<serde_json::Number>()
                                .map_or_else(|_| Value::String(text.clone()), Value::Number),
                            Some(text) => Value::String(text.clone()),
                        };
                        obj.insert(c.name.clone(), value);
                    }
                    writeln!(out, "{}", Value::Object(obj))?;
                }
                Ok(())
            }
        }
    }
}

/// RFC 4180, with NULL as an unquoted empty field and the empty string as `""` (the
/// convention of Athena's result files).
fn csv_field(value: Option<&str>) -> String {
    match value {
        None => String::new(),
        Some(v) if v.is_empty() || v.contains([',', '"', '\n', '\r']) || v.starts_with(' ') || v.ends_with(' ') => {
            format!("\"{}\"", v.replace('"', "\"\""))
        }
        Some(v) => v.to_owned(),
    }
}

/// Parses CSV where an unquoted empty field is NULL and `""` is the empty string, as Athena
/// writes its result files (a general CSV reader cannot tell the two apart).
pub fn parse_csv(text: &str) -> Vec<Vec<Option<String>>> {
    let mut rows = Vec::new();
    let mut row: Vec<Option<String>> = Vec::new();
    let mut field = String::new();
    let (mut quoted, mut in_quotes, mut any) = (false, false, false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        any = true;
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    field.push('"');
                    chars.next();
                }
                '"' => in_quotes = false,
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' => {
                in_quotes = true;
                quoted = true;
            }
            ',' => row.push(take(&mut field, &mut quoted)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                row.push(take(&mut field, &mut quoted));
                rows.push(std::mem::take(&mut row));
                any = false;
            }
            _ => field.push(c),
        }
    }
    if any {
        row.push(take(&mut field, &mut quoted));
        rows.push(row);
    }
    rows
}

fn take(field: &mut String, quoted: &mut bool) -> Option<String> {
    let value = std::mem::take(field);
    let was_quoted = std::mem::replace(quoted, false);
    if value.is_empty() && !was_quoted { None } else { Some(value) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_keeps_null_apart_from_empty() {
        let rows = parse_csv("\"a\",\"b\",\"c\"\n\"x\",,\"\"\n\"multi\nline\",\"q\"\"uote\",7\n");
        assert_eq!(rows[0], [Some("a".into()), Some("b".into()), Some("c".into())]);
        assert_eq!(rows[1], [Some("x".into()), None, Some(String::new())]);
        assert_eq!(rows[2], [Some("multi\nline".into()), Some("q\"uote".into()), Some("7".into())]);
        assert_eq!(rows.len(), 3);
    }

    #[test]
    fn renderings_round_trip_null_and_empty() {
        let mut r = Rows::new(&[("name", false), ("n", true)]);
        r.rows.push(vec![None, Some("1".into())]);
        r.rows.push(vec![Some(String::new()), None]);
        r.rows.push(vec![Some("a,\"b\"".into()), Some("2.5".into())]);
        let mut csv = Vec::new();
        r.render(Format::Csv, &mut csv).unwrap();
        let csv = String::from_utf8(csv).unwrap();
        assert_eq!(csv, "name,n\n,1\n\"\",\n\"a,\"\"b\"\"\",2.5\n");
        assert_eq!(parse_csv(&csv)[1..], r.rows[..]);
        let mut json = Vec::new();
        r.render(Format::Json, &mut json).unwrap();
        assert_eq!(
            String::from_utf8(json).unwrap(),
            "{\"name\":null,\"n\":1}\n{\"name\":\"\",\"n\":null}\n{\"name\":\"a,\\\"b\\\"\",\"n\":2.5}\n"
        );
    }
}
