//! Result rows and their three renderings: a readable table, CSV and JSON (one object a row).
//! NULL stays distinct from the empty string in all three.
//!
//! Also `println!`, `print!`, `eprintln!` and `eprint!` for the whole crate (lib.rs takes them in
//! first, so they shadow std's in every module): std's panic when the stream is closed
//! (`athenaq ... 2>&1 | head`, a closed terminal), which ended a command at its first warning
//! with exit status 101. These use `s3exports_cli::output`: a reader of stdout that went away
//! ends the command quietly (exit 0), any other stdout failure exits 1, and a lost warning on
//! stderr never stops the command.

/// [`std::println`] that never panics: a closed stdout ends the command quietly, as `main` does.
#[allow(unused_macros)]
macro_rules! println {
    () => { ::s3exports_cli::output::write_stdout(format_args!("\n")) };
    ($($arg:tt)*) => { ::s3exports_cli::output::write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

/// [`std::print`] that never panics.
#[allow(unused_macros)]
macro_rules! print {
    ($($arg:tt)*) => { ::s3exports_cli::output::write_stdout(format_args!($($arg)*)) };
}

/// [`std::eprintln`] that never panics: a closed stderr loses the warning, the command goes on.
macro_rules! eprintln {
    () => { ::s3exports_cli::output::write_stderr(format_args!("\n")) };
    ($($arg:tt)*) => { ::s3exports_cli::output::write_stderr(format_args!("{}\n", format_args!($($arg)*))) };
}

/// [`std::eprint`] that never panics.
macro_rules! eprint {
    ($($arg:tt)*) => { ::s3exports_cli::output::write_stderr(format_args!($($arg)*)) };
}

use std::io::Write;

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use datafusion::arrow::array::Array;
use datafusion::arrow::datatypes::Schema;
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

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
                table
                    .load_style(UTF8_FULL_CONDENSED)
                    .set_header(self.columns.iter().map(|c| table_cell(Some(&c.name))));
                for row in &self.rows {
                    table.add_row(row.iter().map(|v| table_cell(v.as_deref())));
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
                if let Some(name) = self.duplicate_column() {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        format!(
                            "the result has two columns named `{name}`, which one JSON object cannot hold: \
                             give them distinct names (`... AS {name}_2`), or use --format csv"
                        ),
                    ));
                }
                let keys: Vec<String> = self.columns.iter().map(|c| json_string(&c.name)).collect();
                for row in &self.rows {
                    let fields: Vec<String> = keys
                        .iter()
                        .zip(&self.columns)
                        .zip(row)
                        .map(|((key, c), v)| format!("{key}:{}", json_value(v.as_deref(), c.numeric)))
                        .collect();
                    writeln!(out, "{{{}}}", fields.join(","))?;
                }
                Ok(())
            }
        }
    }

    fn duplicate_column(&self) -> Option<&str> {
        let mut seen = std::collections::HashSet::new();
        self.columns.iter().map(|c| c.name.as_str()).find(|name| !seen.insert(*name))
    }
}

/// A table cell: NULL shows as `NULL`, the text `NULL` in quotes, control characters escaped,
/// so what is shown can be told apart.
fn table_cell(value: Option<&str>) -> String {
    match value {
        None => "NULL".to_owned(),
        Some("NULL") => "\"NULL\"".to_owned(),
        Some(v) if v.chars().any(char::is_control) => {
            v.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
        }
        Some(v) => v.to_owned(),
    }
}

/// A JSON string; U+2028 and U+2029 escaped too, so a line is safe in JavaScript as well.
fn json_string(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string().replace('\u{2028}', "\\u2028").replace('\u{2029}', "\\u2029")
}

/// A value of a numeric column is written with every digit it has (a DECIMAL(38,2) is not
/// rounded through a float); NaN and infinities, which JSON has no number for, as strings.
fn json_value(value: Option<&str>, numeric: bool) -> String {
    match value {
        None => "null".to_owned(),
        Some(text) if numeric && is_json_number(text) => text.to_owned(),
        Some(text) => json_string(text),
    }
}

/// JSON's number grammar: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
fn is_json_number(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
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

/// Bytes for people: KB under a megabyte, MB under a gigabyte, else GB (powers of ten).
pub fn human_bytes(bytes: i64) -> String {
    let b = bytes as f64;
    if bytes < 1_000_000 {
        format!("{:.1} KB", b / 1e3)
    } else if bytes < 1_000_000_000 {
        format!("{:.1} MB", b / 1e6)
    } else {
        format!("{:.2} GB", b / 1e9)
    }
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

    #[test]
    fn json_keeps_every_digit_and_encodes_oddities_one_way() {
        let mut r = Rows::new(&[("d", true), ("f", true), ("s", false)]);
        r.rows.push(vec![Some("123456789012345678.99".into()), Some("NaN".into()), Some("a\u{2028}b".into())]);
        r.rows.push(vec![Some("-0.5e-3".into()), Some("inf".into()), Some("NULL".into())]);
        let mut json = Vec::new();
        r.render(Format::Json, &mut json).unwrap();
        assert_eq!(
            String::from_utf8(json).unwrap(),
            "{\"d\":123456789012345678.99,\"f\":\"NaN\",\"s\":\"a\\u2028b\"}\n\
             {\"d\":-0.5e-3,\"f\":\"inf\",\"s\":\"NULL\"}\n"
        );
        for bad in ["", "-", "01", "1.", ".5", "1e", "1e+", "0x10", "1 "] {
            assert!(!is_json_number(bad), "{bad:?}");
        }
    }

    #[test]
    fn duplicate_column_names_are_refused_in_json_only() {
        let mut r = Rows::new(&[("id", true), ("id", true)]);
        r.rows.push(vec![Some("1".into()), Some("2".into())]);
        let err = r.render(Format::Json, &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("two columns named `id`"), "{err}");
        assert!(r.render(Format::Csv, &mut Vec::new()).is_ok());
    }

    #[test]
    fn table_cells_tell_null_from_the_text_null() {
        assert_eq!(table_cell(None), "NULL");
        assert_eq!(table_cell(Some("NULL")), "\"NULL\"");
        assert_eq!(table_cell(Some("a\tb\u{1b}")), "a\\tb\\u{1b}");
    }
}
