//! Arrow record batches to the text the engines bulk-load: PostgreSQL's `COPY ... FROM STDIN`
//! text format and MySQL's `LOAD DATA` with tab-separated fields and backslash escapes. Every
//! value is written so that the engine's own input function gives back the original: digits,
//! instants and bytes unchanged, NULL distinct from the empty string.

use std::fmt::Write as _;

use arrow::array::{
    Array, ArrayRef, BinaryArray, BinaryViewArray, BooleanArray, Date32Array, Date64Array, Decimal128Array,
    Decimal256Array, FixedSizeBinaryArray, Float32Array, Float64Array, Int8Array, Int16Array, Int32Array, Int64Array,
    LargeBinaryArray, LargeStringArray, StringArray, StringViewArray, Time32MillisecondArray, Time32SecondArray,
    Time64MicrosecondArray, Time64NanosecondArray, TimestampMicrosecondArray, TimestampMillisecondArray,
    TimestampNanosecondArray, TimestampSecondArray, UInt8Array, UInt16Array, UInt32Array, UInt64Array,
};
use arrow::datatypes::{DataType, TimeUnit, i256};
use arrow::record_batch::RecordBatch;
use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Timelike};

use crate::Engine;

/// How one column's values are written, beyond what their Arrow type says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnRule {
    /// Binary values: PostgreSQL's `\x` hex; for MySQL, hex that the load unhexes.
    pub binary: bool,
    /// A timestamp column whose SQL type keeps the zone (PostgreSQL `timestamp with time
    /// zone`): instants are written with `+00`. Otherwise the UTC wall time is written.
    pub zoned: bool,
    /// The fractional-second digits the column keeps, for Parquet timestamps and times and
    /// for times, timestamps and intervals given as text: a finer value is refused rather than
    /// rounded by the engine (`10:00:00.5` into `timestamp(0)` would become `10:00:01`).
    pub fraction_digits: Option<u32>,
    /// A single-precision column (PostgreSQL `real`, MySQL `FLOAT`): a double that is neither
    /// a single-precision value nor the shortest text of one is refused, as the engine would
    /// round it (`16777217` to `16777216`).
    pub single: bool,
    /// MySQL `YEAR`: written with four digits, as `0` and `00` read as the year 2000.
    pub year: bool,
    /// The characters a `char(n)`/`varchar(n)` column holds: a longer value is refused, as the
    /// engines cut excess trailing spaces without an error.
    pub max_chars: Option<u32>,
}

impl ColumnRule {
    /// Values written as they are, with no rule beyond their Arrow type.
    pub const PLAIN: Self =
        Self { binary: false, zoned: false, fraction_digits: None, single: false, year: false, max_chars: None };
}

/// A value the target engine cannot hold, named with its column and row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column `{column}`, row {row}: {why}")]
pub struct EncodeError {
    pub column: String,
    /// The row, counted from 1 in the batch (the load adds the rows of earlier batches, so
    /// it counts from the table's first row in part-file order).
    pub row: u64,
    pub why: String,
}

/// One batch column, downcast once.
enum Values<'a> {
    Utf8(&'a StringArray),
    LargeUtf8(&'a LargeStringArray),
    Utf8View(&'a StringViewArray),
    Binary(&'a BinaryArray),
    LargeBinary(&'a LargeBinaryArray),
    BinaryView(&'a BinaryViewArray),
    FixedBinary(&'a FixedSizeBinaryArray),
    Bool(&'a BooleanArray),
    I8(&'a Int8Array),
    I16(&'a Int16Array),
    I32(&'a Int32Array),
    I64(&'a Int64Array),
    U8(&'a UInt8Array),
    U16(&'a UInt16Array),
    U32(&'a UInt32Array),
    U64(&'a UInt64Array),
    F32(&'a Float32Array),
    F64(&'a Float64Array),
    Decimal128(&'a Decimal128Array, i8),
    Decimal256(&'a Decimal256Array, i8),
    Date32(&'a Date32Array),
    Date64(&'a Date64Array),
    /// Microseconds since the epoch, from any unit (nanoseconds kept separately when present).
    Timestamp(Timestamps<'a>),
    Time(Times<'a>),
}

enum Timestamps<'a> {
    S(&'a TimestampSecondArray),
    Ms(&'a TimestampMillisecondArray),
    Us(&'a TimestampMicrosecondArray),
    Ns(&'a TimestampNanosecondArray),
}

enum Times<'a> {
    S(&'a Time32SecondArray),
    Ms(&'a Time32MillisecondArray),
    Us(&'a Time64MicrosecondArray),
    Ns(&'a Time64NanosecondArray),
}

/// Whether the encoder can write a column of this Arrow type.
pub fn supported(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
            | DataType::Binary
            | DataType::LargeBinary
            | DataType::BinaryView
            | DataType::FixedSizeBinary(_)
            | DataType::Boolean
            | DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Float32
            | DataType::Float64
            | DataType::Decimal128(_, _)
            | DataType::Decimal256(_, _)
            | DataType::Date32
            | DataType::Date64
            | DataType::Timestamp(_, _)
            | DataType::Time32(TimeUnit::Second | TimeUnit::Millisecond)
            | DataType::Time64(TimeUnit::Microsecond | TimeUnit::Nanosecond)
    )
}

fn values(array: &ArrayRef) -> Option<Values<'_>> {
    macro_rules! down {
        ($t:ty) => {
            array.as_any().downcast_ref::<$t>()?
        };
    }
    Some(match array.data_type() {
        DataType::Utf8 => Values::Utf8(down!(StringArray)),
        DataType::LargeUtf8 => Values::LargeUtf8(down!(LargeStringArray)),
        DataType::Utf8View => Values::Utf8View(down!(StringViewArray)),
        DataType::Binary => Values::Binary(down!(BinaryArray)),
        DataType::LargeBinary => Values::LargeBinary(down!(LargeBinaryArray)),
        DataType::BinaryView => Values::BinaryView(down!(BinaryViewArray)),
        DataType::FixedSizeBinary(_) => Values::FixedBinary(down!(FixedSizeBinaryArray)),
        DataType::Boolean => Values::Bool(down!(BooleanArray)),
        DataType::Int8 => Values::I8(down!(Int8Array)),
        DataType::Int16 => Values::I16(down!(Int16Array)),
        DataType::Int32 => Values::I32(down!(Int32Array)),
        DataType::Int64 => Values::I64(down!(Int64Array)),
        DataType::UInt8 => Values::U8(down!(UInt8Array)),
        DataType::UInt16 => Values::U16(down!(UInt16Array)),
        DataType::UInt32 => Values::U32(down!(UInt32Array)),
        DataType::UInt64 => Values::U64(down!(UInt64Array)),
        DataType::Float32 => Values::F32(down!(Float32Array)),
        DataType::Float64 => Values::F64(down!(Float64Array)),
        DataType::Decimal128(_, s) => Values::Decimal128(down!(Decimal128Array), *s),
        DataType::Decimal256(_, s) => Values::Decimal256(down!(Decimal256Array), *s),
        DataType::Date32 => Values::Date32(down!(Date32Array)),
        DataType::Date64 => Values::Date64(down!(Date64Array)),
        DataType::Timestamp(TimeUnit::Second, _) => Values::Timestamp(Timestamps::S(down!(TimestampSecondArray))),
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            Values::Timestamp(Timestamps::Ms(down!(TimestampMillisecondArray)))
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            Values::Timestamp(Timestamps::Us(down!(TimestampMicrosecondArray)))
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            Values::Timestamp(Timestamps::Ns(down!(TimestampNanosecondArray)))
        }
        DataType::Time32(TimeUnit::Second) => Values::Time(Times::S(down!(Time32SecondArray))),
        DataType::Time32(TimeUnit::Millisecond) => Values::Time(Times::Ms(down!(Time32MillisecondArray))),
        DataType::Time64(TimeUnit::Microsecond) => Values::Time(Times::Us(down!(Time64MicrosecondArray))),
        DataType::Time64(TimeUnit::Nanosecond) => Values::Time(Times::Ns(down!(Time64NanosecondArray))),
        _ => return None,
    })
}

/// Writes `batch`'s rows to `out` as the engine's bulk-load text: fields separated by tabs, rows
/// ended by newlines, NULL as `\N`. `rules` and `names` are per column, in the batch's order.
pub fn write_batch(
    engine: Engine,
    batch: &RecordBatch,
    rules: &[ColumnRule],
    names: &[String],
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let columns: Vec<Values<'_>> = batch
        .columns()
        .iter()
        .zip(names)
        .map(|(c, name)| {
            values(c).ok_or_else(|| EncodeError {
                column: name.clone(),
                row: 1,
                why: format!("values of Parquet/Arrow type {} cannot be loaded", c.data_type()),
            })
        })
        .collect::<Result<_, _>>()?;
    let arrays = batch.columns();
    for row in 0..batch.num_rows() {
        for (i, values) in columns.iter().enumerate() {
            if i > 0 {
                out.push(b'\t');
            }
            if arrays[i].is_null(row) {
                out.extend_from_slice(b"\\N");
                continue;
            }
            write_value(engine, values, row, rules[i], out).map_err(|why| EncodeError {
                column: names[i].clone(),
                row: row as u64 + 1,
                why,
            })?;
        }
        out.push(b'\n');
    }
    Ok(())
}

fn write_value(
    engine: Engine,
    values: &Values<'_>,
    row: usize,
    rule: ColumnRule,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    match values {
        Values::Utf8(a) => checked_text(engine, a.value(row).as_bytes(), rule, out)?,
        Values::LargeUtf8(a) => checked_text(engine, a.value(row).as_bytes(), rule, out)?,
        Values::Utf8View(a) => checked_text(engine, a.value(row).as_bytes(), rule, out)?,
        Values::Binary(a) => bytes(engine, a.value(row), rule, out)?,
        Values::LargeBinary(a) => bytes(engine, a.value(row), rule, out)?,
        Values::BinaryView(a) => bytes(engine, a.value(row), rule, out)?,
        Values::FixedBinary(a) => bytes(engine, a.value(row), rule, out)?,
        Values::Bool(a) => out.extend_from_slice(match (engine, a.value(row)) {
            (Engine::Postgres, true) => b"t",
            (Engine::Postgres, false) => b"f",
            (Engine::MySql, true) => b"1",
            (Engine::MySql, false) => b"0",
        }),
        Values::I8(a) => integer(a.value(row), rule, out),
        Values::I16(a) => integer(a.value(row), rule, out),
        Values::I32(a) => integer(a.value(row), rule, out),
        Values::I64(a) => integer(a.value(row), rule, out),
        Values::U8(a) => integer(a.value(row), rule, out),
        Values::U16(a) => integer(a.value(row), rule, out),
        Values::U32(a) => integer(a.value(row), rule, out),
        Values::U64(a) => integer(a.value(row), rule, out),
        Values::F32(a) => float(engine, f64::from(a.value(row)), &format!("{:?}", a.value(row)), out)?,
        Values::F64(a) if rule.single => {
            let value = a.value(row);
            let single = as_single(value).ok_or_else(|| {
                format!(
                    "{value:?} is not a single-precision value (the column's type, which the source held): it would \
                     be stored as {:?}, so it is refused",
                    value as f32
                )
            })?;
            float(engine, f64::from(single), &format!("{single:?}"), out)?
        }
        Values::F64(a) => float(engine, a.value(row), &format!("{:?}", a.value(row)), out)?,
        Values::Decimal128(a, scale) => decimal(&a.value(row).to_string(), *scale, out),
        Values::Decimal256(a, scale) => decimal(&i256::to_string(&a.value(row)), *scale, out),
        Values::Date32(a) => {
            let day =
                NaiveDate::from_num_days_from_ce_opt(a.value(row).checked_add(719_163).ok_or("date out of range")?)
                    .ok_or_else(|| {
                        format!("day {} since 1970 is outside the dates this tool can write", a.value(row))
                    })?;
            date(engine, day, out)?;
        }
        Values::Date64(a) => {
            let t = DateTime::from_timestamp_millis(a.value(row)).ok_or("date out of range")?;
            date(engine, t.date_naive(), out)?;
        }
        Values::Timestamp(ts) => {
            let (secs, nanos) = match ts {
                Timestamps::S(a) => (a.value(row), 0),
                Timestamps::Ms(a) => (a.value(row).div_euclid(1_000), a.value(row).rem_euclid(1_000) * 1_000_000),
                Timestamps::Us(a) => (a.value(row).div_euclid(1_000_000), a.value(row).rem_euclid(1_000_000) * 1_000),
                Timestamps::Ns(a) => (a.value(row).div_euclid(1_000_000_000), a.value(row).rem_euclid(1_000_000_000)),
            };
            let nanos = u32::try_from(nanos).map_err(|_| "timestamp out of range")?;
            let t = DateTime::from_timestamp(secs, nanos).ok_or("timestamp outside the range this tool can write")?;
            fits(nanos, rule)?;
            date(engine, t.date_naive(), out)?;
            out.push(b' ');
            clock(t.time(), out)?;
            if rule.zoned {
                out.extend_from_slice(b"+00");
            }
        }
        Values::Time(times) => {
            let nanos: i64 = match times {
                Times::S(a) => i64::from(a.value(row)) * 1_000_000_000,
                Times::Ms(a) => i64::from(a.value(row)) * 1_000_000,
                Times::Us(a) => a.value(row) * 1_000,
                Times::Ns(a) => a.value(row),
            };
            fits(u32::try_from(nanos.rem_euclid(1_000_000_000)).unwrap_or(0), rule)?;
            // 24:00:00 is a valid time of day for both engines; chrono has no such time.
            if nanos == 86_400_000_000_000 {
                out.extend_from_slice(b"24:00:00");
            } else {
                let secs = u32::try_from(nanos.div_euclid(1_000_000_000)).map_err(|_| "time out of range")?;
                let frac = u32::try_from(nanos.rem_euclid(1_000_000_000)).map_err(|_| "time out of range")?;
                let t = NaiveTime::from_num_seconds_from_midnight_opt(secs, frac).ok_or("time out of range")?;
                clock(t, out)?;
            }
        }
    }
    Ok(())
}

/// Refuses a fraction of a second finer than the column keeps: the engine would round it.
fn fits(nanos: u32, rule: ColumnRule) -> Result<(), String> {
    let Some(digits) = rule.fraction_digits else { return Ok(()) };
    let unit = 10u32.pow(9 - digits.min(9));
    if nanos % unit != 0 {
        return Err(format!(
            "a fraction of a second ({nanos} ns) finer than the column's {digits} digit(s): it would be rounded, so it is refused"
        ));
    }
    Ok(())
}

/// A double a single-precision column holds as it is: a single-precision value widened, or
/// the shortest text of one read as a double (how a reader of the text protocol gets `0.1`).
pub fn as_single(value: f64) -> Option<f32> {
    let single = value as f32;
    if f64::from(single) == value || value.is_nan() {
        return Some(single);
    }
    let shortest: f64 = format!("{single:?}").parse().ok()?;
    (single.is_finite() && shortest == value).then_some(single)
}

/// The significant fractional-second digits in a time, timestamp or interval written as
/// text (`10:00:00.50` has 1): the digits after each `:SS.`.
pub fn text_fraction_digits(value: &[u8]) -> usize {
    let mut most = 0;
    for (i, _) in value.iter().enumerate().filter(|(_, b)| **b == b'.') {
        let seconds = i >= 3 && value[i - 3] == b':' && value[i - 2].is_ascii_digit() && value[i - 1].is_ascii_digit();
        if !seconds {
            continue;
        }
        let digits = &value[i + 1..];
        let len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
        let significant = digits[..len].iter().rposition(|b| *b != b'0').map_or(0, |p| p + 1);
        most = most.max(significant);
    }
    most
}

/// Text, after the column's rules: no more characters than a `char(n)`/`varchar(n)` holds, no
/// finer fraction of a second than a time or timestamp keeps.
fn checked_text(engine: Engine, value: &[u8], rule: ColumnRule, out: &mut Vec<u8>) -> Result<(), String> {
    if let Some(max) = rule.max_chars {
        let chars = String::from_utf8_lossy(value).chars().count();
        if chars > max as usize {
            let trailing = value.iter().rev().take_while(|b| **b == b' ').count();
            let spaces = if trailing > 0 { format!(" ({trailing} of them trailing spaces)") } else { String::new() };
            return Err(format!(
                "{chars} characters{spaces}, more than the column's {max}: the engine would cut it, so it is refused"
            ));
        }
    }
    if let Some(digits) = rule.fraction_digits {
        let have = text_fraction_digits(value);
        if have > digits as usize {
            return Err(format!(
                "`{}` has {have} fractional-second digit(s), finer than the column's {digits}: it would be rounded, \
                 so it is refused",
                String::from_utf8_lossy(value)
            ));
        }
    }
    text(engine, value, out);
    Ok(())
}

/// Text with the bulk-load format's escapes: backslash, tab, newline, carriage return (and
/// NUL for MySQL; PostgreSQL text cannot hold one).
fn text(engine: Engine, value: &[u8], out: &mut Vec<u8>) {
    let special = |b: &u8| matches!(b, b'\\' | b'\t' | b'\n' | b'\r' | 0);
    if !value.iter().any(special) {
        out.extend_from_slice(value);
        return;
    }
    for &b in value {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0 if engine == Engine::MySql => out.extend_from_slice(b"\\0"),
            _ => out.push(b),
        }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Bytes: PostgreSQL's bytea hex input (`\x...`, its backslash escaped for COPY); for MySQL
/// plain hex, which the load passes through `UNHEX`. Byte for byte either way.
fn bytes(engine: Engine, value: &[u8], rule: ColumnRule, out: &mut Vec<u8>) -> Result<(), String> {
    if !rule.binary {
        // Bytes loaded into a text column: only valid UTF-8 is text.
        return checked_text(engine, value, rule, out);
    }
    if engine == Engine::Postgres {
        out.extend_from_slice(b"\\\\x");
    }
    out.reserve(value.len() * 2);
    for b in value {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 15)]);
    }
    Ok(())
}

fn integer(value: impl std::fmt::Display, rule: ColumnRule, out: &mut Vec<u8>) {
    let mut buf = String::new();
    let _ = write!(buf, "{value}");
    if rule.year && !buf.starts_with('-') {
        // MySQL reads the text `0` (and 1 to 99) as a two-digit year: 0 would load as 2000.
        out.extend(std::iter::repeat_n(b'0', 4usize.saturating_sub(buf.len())));
    }
    out.extend_from_slice(buf.as_bytes());
}

/// The shortest text that reads back as the same float (Rust's `{:?}`); PostgreSQL spells the
/// specials its own way, and MySQL has none.
fn float(engine: Engine, value: f64, shortest: &str, out: &mut Vec<u8>) -> Result<(), String> {
    if value.is_finite() {
        out.extend_from_slice(shortest.as_bytes());
        return Ok(());
    }
    match engine {
        Engine::Postgres if value.is_nan() => out.extend_from_slice(b"NaN"),
        Engine::Postgres if value > 0.0 => out.extend_from_slice(b"Infinity"),
        Engine::Postgres => out.extend_from_slice(b"-Infinity"),
        Engine::MySql => {
            return Err(format!("{shortest}: MySQL has no NaN or infinity, so this value cannot be stored"));
        }
    }
    Ok(())
}

/// An unscaled integer's digits with the decimal point `scale` places from the right.
fn decimal(digits: &str, scale: i8, out: &mut Vec<u8>) {
    let (sign, digits) = digits.strip_prefix('-').map_or(("", digits), |d| ("-", d));
    out.extend_from_slice(sign.as_bytes());
    if scale <= 0 {
        out.extend_from_slice(digits.as_bytes());
        if digits != "0" {
            out.extend(std::iter::repeat_n(b'0', usize::from(scale.unsigned_abs())));
        }
        return;
    }
    let scale = usize::from(scale.unsigned_abs());
    if digits.len() > scale {
        let (whole, frac) = digits.split_at(digits.len() - scale);
        out.extend_from_slice(whole.as_bytes());
        out.push(b'.');
        out.extend_from_slice(frac.as_bytes());
    } else {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', scale - digits.len()));
        out.extend_from_slice(digits.as_bytes());
    }
}

/// `YYYY-MM-DD`; years before 1 as PostgreSQL's `BC` (year 0 is 1 BC). MySQL keeps 0000-9999.
fn date(engine: Engine, day: NaiveDate, out: &mut Vec<u8>) -> Result<(), String> {
    let year = day.year();
    let mut buf = String::with_capacity(16);
    match engine {
        Engine::Postgres if year <= 0 => {
            let _ = write!(buf, "{:04}-{:02}-{:02} BC", 1 - year, day.month(), day.day());
            // `BC` must follow the time for timestamps; callers add the time after a space, so
            // keep the era last by writing it when the value is a date only.
        }
        Engine::MySql if !(0..=9999).contains(&year) => {
            return Err(format!("{day}: MySQL dates run from year 0000 to 9999"));
        }
        _ => {
            let _ = write!(buf, "{:04}-{:02}-{:02}", year, day.month(), day.day());
        }
    }
    out.extend_from_slice(buf.as_bytes());
    Ok(())
}

/// `HH:MM:SS` with the fraction's significant digits (at most nanoseconds; PostgreSQL and MySQL
/// keep microseconds, which is what the sources held).
fn clock(t: NaiveTime, out: &mut Vec<u8>) -> Result<(), String> {
    let mut buf = String::with_capacity(18);
    let _ = write!(buf, "{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second());
    let nanos = t.nanosecond();
    if nanos >= 1_000_000_000 {
        return Err("a leap second cannot be stored".into());
    }
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        let _ = write!(buf, ".{}", frac.trim_end_matches('0'));
    }
    out.extend_from_slice(buf.as_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, TimestampMicrosecondArray};
    use arrow::datatypes::{Field, Schema};

    use super::*;

    fn encode(engine: Engine, columns: Vec<ArrayRef>, rules: &[ColumnRule]) -> Result<String, EncodeError> {
        let fields: Vec<Field> =
            columns.iter().enumerate().map(|(i, c)| Field::new(format!("c{i}"), c.data_type().clone(), true)).collect();
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
        let names: Vec<String> = (0..batch.num_columns()).map(|i| format!("c{i}")).collect();
        let mut out = Vec::new();
        write_batch(engine, &batch, rules, &names, &mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    const PLAIN: ColumnRule = ColumnRule::PLAIN;
    const BINARY: ColumnRule = ColumnRule { binary: true, ..ColumnRule::PLAIN };

    #[test]
    fn null_stays_distinct_from_the_empty_string_and_text_is_escaped() {
        let text: ArrayRef = Arc::new(StringArray::from(vec![Some(""), None, Some("a\tb\nc\\d\re"), Some("Zoë ✓")]));
        assert_eq!(
            encode(Engine::Postgres, vec![text.clone()], &[PLAIN]).unwrap(),
            "\n\\N\na\\tb\\nc\\\\d\\re\nZoë ✓\n"
        );
        let nul: ArrayRef = Arc::new(StringArray::from(vec!["a\0b"]));
        assert_eq!(encode(Engine::MySql, vec![nul], &[PLAIN]).unwrap(), "a\\0b\n");
    }

    #[test]
    fn bytes_round_trip_as_hex() {
        let raw: ArrayRef = Arc::new(BinaryArray::from(vec![Some(&[0u8, 9, 10, 92, 255][..]), Some(&[][..]), None]));
        assert_eq!(encode(Engine::Postgres, vec![raw.clone()], &[BINARY]).unwrap(), "\\\\x00090a5cff\n\\\\x\n\\N\n");
        assert_eq!(encode(Engine::MySql, vec![raw], &[BINARY]).unwrap(), "00090a5cff\n\n\\N\n");
    }

    #[test]
    fn decimals_keep_every_digit_at_their_scale() {
        let d: ArrayRef = Arc::new(
            Decimal128Array::from(vec![12345, -5, 0, i128::MAX, -100]).with_precision_and_scale(38, 3).unwrap(),
        );
        assert_eq!(
            encode(Engine::Postgres, vec![d], &[PLAIN]).unwrap(),
            "12.345\n-0.005\n0.000\n170141183460469231731687303715884105.727\n-0.100\n"
        );
        let whole: ArrayRef =
            Arc::new(Decimal128Array::from(vec![18446744073709551615_i128]).with_precision_and_scale(20, 0).unwrap());
        assert_eq!(encode(Engine::MySql, vec![whole], &[PLAIN]).unwrap(), "18446744073709551615\n");
    }

    #[test]
    fn floats_are_the_shortest_text_that_reads_back_the_same() {
        let f: ArrayRef = Arc::new(Float64Array::from(vec![0.1, 1e300, -2.5e-310, f64::NAN, f64::NEG_INFINITY]));
        assert_eq!(
            encode(Engine::Postgres, vec![f.clone()], &[PLAIN]).unwrap(),
            "0.1\n1e300\n-2.5e-310\nNaN\n-Infinity\n"
        );
        for text in ["0.1", "1e300", "-2.5e-310"] {
            assert_eq!(text.parse::<f64>().unwrap().to_string().parse::<f64>().unwrap(), text.parse::<f64>().unwrap());
        }
        let e = encode(Engine::MySql, vec![f], &[PLAIN]).unwrap_err();
        assert_eq!((e.column.as_str(), e.row), ("c0", 4), "rows count from 1");
        assert!(e.why.contains("MySQL has no NaN"), "{e}");
    }

    #[test]
    fn timestamps_keep_their_instant_and_microseconds() {
        // 2026-11-24 03:10:00.000123 UTC, and one before the epoch.
        let ts: ArrayRef =
            Arc::new(TimestampMicrosecondArray::from(vec![1_795_489_800_000_123, -1]).with_timezone("UTC"));
        assert_eq!(
            encode(Engine::Postgres, vec![ts.clone()], &[ColumnRule { zoned: true, ..PLAIN }]).unwrap(),
            "2026-11-24 03:10:00.000123+00\n1969-12-31 23:59:59.999999+00\n"
        );
        assert_eq!(
            encode(Engine::MySql, vec![ts], &[PLAIN]).unwrap(),
            "2026-11-24 03:10:00.000123\n1969-12-31 23:59:59.999999\n"
        );
        let whole_seconds = ColumnRule { fraction_digits: Some(0), ..PLAIN };
        let e =
            encode(Engine::MySql, vec![Arc::new(TimestampMicrosecondArray::from(vec![1_500_000]))], &[whole_seconds])
                .unwrap_err();
        assert!(e.why.contains("would be rounded"), "{e}");
        let days: ArrayRef = Arc::new(Date32Array::from(vec![0, -719_528]));
        assert_eq!(encode(Engine::Postgres, vec![days.clone()], &[PLAIN]).unwrap(), "1970-01-01\n0001-01-01 BC\n");
        assert!(encode(Engine::MySql, vec![Arc::new(Date32Array::from(vec![-800_000]))], &[PLAIN]).is_err());
        let time: ArrayRef = Arc::new(Time64MicrosecondArray::from(vec![3_600_000_001, 86_400_000_000]));
        assert_eq!(encode(Engine::MySql, vec![time], &[PLAIN]).unwrap(), "01:00:00.000001\n24:00:00\n");
    }

    #[test]
    fn values_that_do_not_fit_the_column_are_refused_not_changed() {
        // real / FLOAT given doubles: a single-precision value (widened, or its shortest text
        // read as a double) loads as that value; anything else would be rounded.
        let single = ColumnRule { single: true, ..PLAIN };
        let fits: ArrayRef = Arc::new(Float64Array::from(vec![0.1, f64::from(0.1f32), 16_777_216.0, 0.25]));
        for engine in [Engine::Postgres, Engine::MySql] {
            assert_eq!(encode(engine, vec![fits.clone()], &[single]).unwrap(), "0.1\n0.1\n16777216.0\n0.25\n");
        }
        for value in [0.123_456_789_012_3, 16_777_217.0, 1e300] {
            let e =
                encode(Engine::Postgres, vec![Arc::new(Float64Array::from(vec![1.0, value]))], &[single]).unwrap_err();
            assert_eq!(e.row, 2);
            assert!(e.why.contains("not a single-precision value"), "{e}");
        }
        // YEAR: four digits, so 0 is year 0000 (MySQL reads the text `0` as 2000).
        let years: ArrayRef = Arc::new(Int32Array::from(vec![0, 1901, 2155, 5]));
        assert_eq!(
            encode(Engine::MySql, vec![years], &[ColumnRule { year: true, ..PLAIN }]).unwrap(),
            "0000\n1901\n2155\n0005\n"
        );
        // varchar(3) / char(3): a longer value, trailing spaces too, is refused.
        let three = ColumnRule { max_chars: Some(3), ..PLAIN };
        let short: ArrayRef = Arc::new(StringArray::from(vec!["abc", "äöü", "a "]));
        assert_eq!(encode(Engine::Postgres, vec![short], &[three]).unwrap(), "abc\näöü\na \n");
        let e = encode(Engine::Postgres, vec![Arc::new(StringArray::from(vec!["ab   "]))], &[three]).unwrap_err();
        assert!(e.why.contains("5 characters (3 of them trailing spaces)"), "{e}");
        let e = encode(Engine::MySql, vec![Arc::new(BinaryArray::from(vec![&b"abcd"[..]]))], &[three]).unwrap_err();
        assert!(e.why.contains("more than the column's 3"), "{e}");
        // Times and timestamps as text: no finer fraction than the column keeps.
        let whole = ColumnRule { fraction_digits: Some(0), ..PLAIN };
        for value in ["2026-11-20 10:00:00.5", "23:59:59.9", "1 day 02:03:04.25"] {
            let e = encode(Engine::Postgres, vec![Arc::new(StringArray::from(vec![value]))], &[whole]).unwrap_err();
            assert!(e.why.contains("would be rounded"), "{value}: {e}");
        }
        let kept: ArrayRef = Arc::new(StringArray::from(vec!["2026-11-20 10:00:00", "10:00:00.000", "838:59:59"]));
        assert!(encode(Engine::MySql, vec![kept], &[whole]).is_ok());
        assert_eq!(text_fraction_digits(b"2026-11-20 10:00:00.120+05:30"), 2);
        assert_eq!(text_fraction_digits(b"2026-11-20"), 0);
    }

    #[test]
    fn booleans_as_each_engine_reads_them_and_columns_are_tab_separated() {
        let b: ArrayRef = Arc::new(BooleanArray::from(vec![Some(true), Some(false), None]));
        let n: ArrayRef = Arc::new(Int64Array::from(vec![Some(-9_223_372_036_854_775_808), None, Some(7)]));
        assert_eq!(
            encode(Engine::Postgres, vec![b.clone(), n.clone()], &[PLAIN, PLAIN]).unwrap(),
            "t\t-9223372036854775808\nf\t\\N\n\\N\t7\n"
        );
        assert_eq!(
            encode(Engine::MySql, vec![b, n], &[PLAIN, PLAIN]).unwrap(),
            "1\t-9223372036854775808\n0\t\\N\n\\N\t7\n"
        );
    }
}
