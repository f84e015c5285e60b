//! Tables as the source database had them, from the export's own metadata: each column's
//! original type (`export_tables_info`'s `originalTypeMappings`: type name, character length,
//! numeric precision, datetime precision) and the Parquet type RDS wrote. Where the metadata
//! does not say enough to be exact, the column gets the type that loses nothing, with a note
//! saying so; an unknown type becomes text, with a note naming the column. A column the
//! metadata lists but RDS wrote no data for (PostgreSQL's object identifier types are "N/A" in
//! AWS's data conversion table) is left out of the table, with a note.

use arrow::datatypes::{DataType, Schema};
use s3exports_rds::layout::TypeMapping;

use crate::Engine;
use crate::encode::{self, ColumnRule};

/// One column to create and load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnPlan {
    pub name: String,
    /// The type in the target's DDL, spelled as the engine reports it back
    /// (PostgreSQL's `format_type`, MySQL's `COLUMN_TYPE`), so a rerun recognises its table.
    pub sql_type: String,
    pub rule: ColumnRule,
    /// Why the type differs from the original, when it does.
    pub note: Option<String>,
}

/// The columns of one table, and notes on the table's columns that are not loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TablePlan {
    pub columns: Vec<ColumnPlan>,
    /// Columns of the source table left out, each with why (`column: why`).
    pub left_out: Vec<String>,
}

/// Why a table cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("the export's metadata lists no columns for this table (no originalTypeMappings)")]
    NoColumns,
    #[error(
        "none of the columns the export's metadata lists ({0}) is in its Parquet files: RDS exported no data for \
         this table's columns"
    )]
    NoneInParquet(String),
    #[error("column `{0}` is in the Parquet files but not in the export's metadata")]
    NotInMetadata(String),
    #[error("column `{column}` has Parquet/Arrow type {data_type}, which cannot be loaded")]
    Unsupported { column: String, data_type: String },
}

/// The columns of one table, in the metadata's order; `parquet` is the schema of all its part
/// files together. A column of the metadata that no part file has is left out with a note.
pub fn plan_columns(engine: Engine, mappings: &[TypeMapping], parquet: &Schema) -> Result<TablePlan, PlanError> {
    if mappings.is_empty() {
        return Err(PlanError::NoColumns);
    }
    if let Some(extra) =
        parquet.fields().iter().find(|f| !mappings.iter().any(|m| m.column_name == *f.name())).map(|f| f.name())
    {
        return Err(PlanError::NotInMetadata(extra.clone()));
    }
    let (present, absent): (Vec<&TypeMapping>, Vec<&TypeMapping>) =
        mappings.iter().partition(|m| parquet.field_with_name(&m.column_name).is_ok());
    if present.is_empty() {
        let names: Vec<&str> = mappings.iter().map(|m| m.column_name.as_str()).collect();
        return Err(PlanError::NoneInParquet(names.join(", ")));
    }
    let left_out = absent
        .iter()
        .map(|m| {
            format!(
                "{} ({}): in the export's metadata but in no part file (RDS exports no data for some types, such as \
                 PostgreSQL's object identifiers): the table is created without it",
                m.column_name, m.original_type
            )
        })
        .collect();
    let columns = present
        .into_iter()
        .map(|m| {
            let field = parquet.field_with_name(&m.column_name).map_err(|_| PlanError::NoColumns)?;
            if !encode::supported(field.data_type()) {
                return Err(PlanError::Unsupported {
                    column: m.column_name.clone(),
                    data_type: field.data_type().to_string(),
                });
            }
            Ok(match engine {
                Engine::Postgres => postgres_column(m, field.data_type()),
                Engine::MySql => mysql_column(m, field.data_type()),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(TablePlan { columns, left_out })
}

/// An original type as written: its name (lower case, modifiers removed), the arguments in
/// its parentheses, and whether it says `unsigned`. Both `information_schema`'s `DATA_TYPE`
/// (`character varying`, `int`) and full column types (`int(10) unsigned`, `tinyint(1)`) read.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Original {
    name: String,
    args: Option<String>,
    unsigned: bool,
}

fn original(text: &str) -> Original {
    let lower = text.trim().to_ascii_lowercase();
    let (args, rest) = match (lower.find('('), lower.rfind(')')) {
        (Some(open), Some(close)) if close > open => {
            (Some(lower[open + 1..close].to_owned()), format!("{} {}", &lower[..open], &lower[close + 1..]))
        }
        _ => (None, lower.clone()),
    };
    let words: Vec<&str> =
        rest.split_whitespace().filter(|w| !matches!(*w, "unsigned" | "zerofill" | "signed")).collect();
    Original { name: words.join(" "), args, unsigned: rest.split_whitespace().any(|w| w == "unsigned") }
}

/// A recorded length or precision: RDS writes 0 (or nothing) where none applies.
fn recorded(n: Option<i64>) -> Option<u32> {
    n.and_then(|n| u32::try_from(n).ok()).filter(|n| *n > 0)
}

fn plan(m: &TypeMapping, sql_type: impl Into<String>, rule: ColumnRule, note: Option<String>) -> ColumnPlan {
    ColumnPlan { name: m.column_name.clone(), sql_type: sql_type.into(), rule, note }
}

const TEXTUAL: ColumnRule = ColumnRule::PLAIN;
/// PostgreSQL keeps microseconds where a time or timestamp records no precision.
const POSTGRES_FRACTION: u32 = 6;

/// PostgreSQL: RDS writes numerics, dates, times, uuid, json and the rest as their text
/// output, which PostgreSQL reads back exactly into the original type.
fn postgres_column(m: &TypeMapping, arrow: &DataType) -> ColumnPlan {
    let o = original(&m.original_type);
    let length = recorded(m.original_char_max_length);
    let precision = m.original_date_time_precision.and_then(|p| u32::try_from(p).ok()).filter(|p| *p <= 6);
    let with_precision = |base: &str, zone: &str| match precision {
        Some(p) => format!("{base}({p}) {zone}"),
        None => format!("{base} {zone}"),
    };
    // Times and timestamps keep `precision` digits (6 when none is recorded), and round finer ones.
    let clock = ColumnRule { fraction_digits: Some(precision.unwrap_or(POSTGRES_FRACTION)), ..TEXTUAL };
    let sized = ColumnRule { max_chars: length, ..TEXTUAL };
    let name = o.name.as_str();
    let sql = match name {
        "smallint" | "int2" | "smallserial" | "serial2" => "smallint".to_owned(),
        "integer" | "int" | "int4" | "serial" | "serial4" => "integer".to_owned(),
        "bigint" | "int8" | "bigserial" | "serial8" => "bigint".to_owned(),
        "real" | "float4" => return plan(m, "real", ColumnRule { single: true, ..TEXTUAL }, None),
        "double precision" | "float8" | "float" => "double precision".to_owned(),
        "boolean" | "bool" => "boolean".to_owned(),
        "numeric" | "decimal" => {
            let note = recorded(m.original_num_precision).map(|p| {
                format!(
                    "numeric({p}) recorded without its scale: created as numeric, which keeps every digit of every value"
                )
            });
            return plan(m, "numeric", TEXTUAL, note);
        }
        "character varying" | "varchar" => {
            return plan(
                m,
                length.map_or("character varying".to_owned(), |n| format!("character varying({n})")),
                sized,
                None,
            );
        }
        "character" | "char" | "bpchar" => match length {
            Some(n) => return plan(m, format!("character({n})"), sized, None),
            None => return plan(m, "text", TEXTUAL, Some("character with no recorded length: created as text".into())),
        },
        "interval" => return plan(m, "interval", clock, None),
        "text" | "name" | "date" | "uuid" | "json" | "jsonb" | "xml" | "money" | "inet" | "cidr" | "macaddr"
        | "macaddr8" | "tsvector" | "tsquery" | "point" | "line" | "lseg" | "box" | "path" | "polygon" | "circle"
        | "pg_lsn" | "oid" | "int4range" | "int8range" | "numrange" | "tsrange" | "tstzrange" | "daterange" => {
            name.to_owned()
        }
        "bytea" => return plan(m, "bytea", ColumnRule { binary: true, ..TEXTUAL }, None),
        "bit" => recorded(m.original_char_max_length).map_or("bit".to_owned(), |n| format!("bit({n})")),
        "bit varying" | "varbit" => length.map_or("bit varying".to_owned(), |n| format!("bit varying({n})")),
        "time" | "time without time zone" => return plan(m, with_precision("time", "without time zone"), clock, None),
        "time with time zone" | "timetz" => return plan(m, with_precision("time", "with time zone"), clock, None),
        "timestamp" | "timestamp without time zone" => {
            return plan(m, with_precision("timestamp", "without time zone"), clock, None);
        }
        "timestamp with time zone" | "timestamptz" => {
            return plan(m, with_precision("timestamp", "with time zone"), ColumnRule { zoned: true, ..clock }, None);
        }
        "array" => {
            return plan(
                m,
                "text",
                TEXTUAL,
                Some("an array whose element type the export does not record: created as text holding PostgreSQL's array literal".into()),
            );
        }
        "user-defined" => {
            return plan(
                m,
                "text",
                TEXTUAL,
                Some(
                    "a user-defined type (enum, domain or extension type) the export does not name: created as text"
                        .into(),
                ),
            );
        }
        _ => {
            return plan(
                m,
                "text",
                text_rule(arrow),
                Some(format!("unknown type `{}`: created as text", m.original_type)),
            );
        }
    };
    plan(m, sql, TEXTUAL, None)
}

/// Bytes in a text column are written as the text they hold.
fn text_rule(_arrow: &DataType) -> ColumnRule {
    TEXTUAL
}

/// The width in bits of the integers an Arrow type holds, or 65 for DECIMAL(20,0) (BIGINT
/// UNSIGNED as RDS writes it).
fn integer_bits(arrow: &DataType) -> Option<u32> {
    Some(match arrow {
        DataType::Int8 => 8,
        DataType::Int16 | DataType::UInt8 => 16,
        DataType::Int32 | DataType::UInt16 => 32,
        DataType::Int64 | DataType::UInt32 => 64,
        DataType::UInt64 | DataType::Decimal128(_, 0) | DataType::Decimal256(_, 0) => 65,
        _ => return None,
    })
}

/// MySQL and MariaDB. RDS writes DATETIME and TIMESTAMP as microseconds since the epoch, DATE
/// and TIME as text, DECIMAL as Parquet decimals (text above precision 38), CHAR and BINARY
/// types as bytes, and TINYINT and SMALLINT as INT32 whether signed or not.
fn mysql_column(m: &TypeMapping, arrow: &DataType) -> ColumnPlan {
    let o = original(&m.original_type);
    let length = recorded(m.original_char_max_length);
    let args_or = |n: Option<u32>| o.args.clone().or(n.map(|n| n.to_string()));
    let fraction = m.original_date_time_precision.and_then(|p| u32::try_from(p).ok()).filter(|p| *p <= 6);
    let binary = ColumnRule { binary: true, ..TEXTUAL };
    let name = o.name.as_str();
    // Integers: signed unless the type says unsigned or RDS needed a wider Parquet type.
    let integer = |base: &str, bits: u32, wider: &str| -> ColumnPlan {
        let have = integer_bits(arrow);
        // MEDIUMINT is INT32 signed and INT64 unsigned; TINYINT and SMALLINT are INT32 either way.
        let unsigned = o.unsigned || have.is_some_and(|h| h > bits && !(bits <= 24 && h == 32));
        let ambiguous = !o.unsigned && bits <= 16 && have == Some(32);
        if ambiguous {
            return plan(
                m,
                wider,
                TEXTUAL,
                Some(format!("{base}: RDS writes signed and unsigned alike, so created as {wider}, which holds both")),
            );
        }
        let display = match (base, o.args.as_deref()) {
            ("tinyint", Some("1")) if !unsigned => "tinyint(1)".to_owned(),
            _ => base.to_owned(),
        };
        plan(m, if unsigned { format!("{display} unsigned") } else { display }, TEXTUAL, None)
    };
    match name {
        "tinyint" if o.args.as_deref() == Some("1") && !o.unsigned => plan(m, "tinyint(1)", TEXTUAL, None),
        "bool" | "boolean" => plan(m, "tinyint(1)", TEXTUAL, None),
        "tinyint" => integer("tinyint", 8, "smallint"),
        "smallint" => integer("smallint", 16, "mediumint"),
        "mediumint" => integer("mediumint", 24, "int"),
        "int" | "integer" => integer("int", 32, "bigint"),
        "bigint" => integer("bigint", 64, "decimal(20,0)"),
        "float" => plan(m, "float", ColumnRule { single: true, ..TEXTUAL }, None),
        "double" | "double precision" | "real" => plan(m, "double", TEXTUAL, None),
        "decimal" | "numeric" | "dec" | "fixed" => match arrow {
            DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => {
                plan(m, format!("decimal({p},{s})"), TEXTUAL, None)
            }
            _ => {
                let p = recorded(m.original_num_precision).unwrap_or(65);
                plan(
                    m,
                    format!("varchar({})", p + 2),
                    TEXTUAL,
                    Some(format!(
                        "decimal({p}) written as text (precision over 38) with no recorded scale: created as text holding every digit"
                    )),
                )
            }
        },
        "bit" => plan(
            m,
            args_or(recorded(m.original_num_precision)).map_or("bit(1)".to_owned(), |n| format!("bit({n})")),
            binary,
            None,
        ),
        "char" | "character" => {
            let n = length.unwrap_or(1);
            plan(m, format!("char({n})"), ColumnRule { max_chars: Some(n), ..TEXTUAL }, None)
        }
        "varchar" | "character varying" => match length {
            Some(n) => plan(m, format!("varchar({n})"), ColumnRule { max_chars: Some(n), ..TEXTUAL }, None),
            None => plan(m, "longtext", TEXTUAL, Some("varchar with no recorded length: created as longtext".into())),
        },
        "year" => plan(m, "year", ColumnRule { year: true, ..TEXTUAL }, None),
        "tinytext" | "text" | "mediumtext" | "longtext" | "json" | "date" => plan(m, name, TEXTUAL, None),
        "binary" => plan(m, format!("binary({})", length.unwrap_or(1)), binary, None),
        "varbinary" => match length {
            Some(n) => plan(m, format!("varbinary({n})"), binary, None),
            None => plan(m, "longblob", binary, Some("varbinary with no recorded length: created as longblob".into())),
        },
        "tinyblob" | "blob" | "mediumblob" | "longblob" => plan(m, name, binary, None),
        "enum" | "set" => {
            let width = length.unwrap_or(255);
            plan(
                m,
                format!("varchar({width})"),
                TEXTUAL,
                Some(format!(
                    "{name}: the export records its labels' values, not its member list: created as varchar({width})"
                )),
            )
        }
        "time" => {
            // TIME arrives as text; MySQL rounds a finer fraction without a warning.
            let rule = ColumnRule { fraction_digits: Some(fraction.unwrap_or(0)), ..TEXTUAL };
            plan(m, fraction.filter(|p| *p > 0).map_or("time".to_owned(), |p| format!("time({p})")), rule, None)
        }
        "datetime" | "timestamp" => {
            let rule = ColumnRule { fraction_digits: Some(fraction.unwrap_or(0)), ..TEXTUAL };
            let sql = fraction.filter(|p| *p > 0).map_or(name.to_owned(), |p| format!("{name}({p})"));
            plan(m, sql, rule, None)
        }
        "geometry" | "point" | "linestring" | "polygon" | "multipoint" | "multilinestring" | "multipolygon"
        | "geometrycollection" | "geomcollection" => plan(
            m,
            "longblob",
            binary,
            Some(format!("{name}: created as longblob holding the value's bytes as the export has them")),
        ),
        _ => {
            let rule = if matches!(arrow, DataType::Binary | DataType::LargeBinary | DataType::BinaryView) {
                binary
            } else {
                TEXTUAL
            };
            let sql = if rule.binary { "longblob" } else { "longtext" };
            plan(m, sql, rule, Some(format!("unknown type `{}`: created as {sql}", m.original_type)))
        }
    }
}

#[cfg(test)]
mod tests {
    use arrow::datatypes::Field;

    use super::*;

    fn mapping(name: &str, original: &str) -> TypeMapping {
        TypeMapping { column_name: name.into(), original_type: original.into(), ..TypeMapping::default() }
    }

    fn one(engine: Engine, m: TypeMapping, arrow: DataType) -> ColumnPlan {
        let schema = Schema::new(vec![Field::new(&m.column_name, arrow, true)]);
        plan_columns(engine, &[m], &schema).unwrap().columns.remove(0)
    }

    #[test]
    fn postgres_types_keep_their_names_lengths_and_precisions() {
        let pg = |original: &str, f: fn(&mut TypeMapping)| {
            let mut m = mapping("c", original);
            f(&mut m);
            one(Engine::Postgres, m, DataType::Utf8).sql_type
        };
        assert_eq!(pg("character varying", |m| m.original_char_max_length = Some(255)), "character varying(255)");
        assert_eq!(pg("character", |m| m.original_char_max_length = Some(3)), "character(3)");
        assert_eq!(
            pg("timestamp with time zone", |m| m.original_date_time_precision = Some(6)),
            "timestamp(6) with time zone"
        );
        assert_eq!(pg("timestamp without time zone", |_| {}), "timestamp without time zone");
        assert_eq!(pg("time", |m| m.original_date_time_precision = Some(3)), "time(3) without time zone");
        for same in ["uuid", "jsonb", "json", "date", "interval", "inet", "money", "text"] {
            assert_eq!(pg(same, |_| {}), same);
        }
        assert_eq!(pg("INTEGER", |_| {}), "integer");
    }

    #[test]
    fn numerics_never_round_and_unknown_types_become_text_with_a_note() {
        let mut m = mapping("total", "numeric");
        m.original_num_precision = Some(12);
        let c = one(Engine::Postgres, m, DataType::Utf8);
        assert_eq!(c.sql_type, "numeric");
        assert!(c.note.unwrap().contains("keeps every digit"));
        for (original, note) in
            [("ARRAY", "array"), ("USER-DEFINED", "user-defined"), ("hstore", "unknown type `hstore`")]
        {
            let c = one(Engine::Postgres, mapping("x", original), DataType::Utf8);
            assert_eq!(c.sql_type, "text", "{original}");
            assert!(c.note.unwrap().contains(note), "{original}");
        }
        let c = one(Engine::Postgres, mapping("raw", "bytea"), DataType::Binary);
        assert!(c.rule.binary && c.note.is_none());
    }

    #[test]
    fn mysql_integers_are_signed_or_unsigned_as_the_parquet_type_shows() {
        let my = |original: &str, arrow: DataType| one(Engine::MySql, mapping("n", original), arrow);
        assert_eq!(my("int", DataType::Int32).sql_type, "int");
        assert_eq!(my("int", DataType::Int64).sql_type, "int unsigned");
        assert_eq!(my("int(10) unsigned", DataType::Int64).sql_type, "int unsigned");
        assert_eq!(my("bigint", DataType::Decimal128(20, 0)).sql_type, "bigint unsigned");
        assert_eq!(my("mediumint", DataType::Int64).sql_type, "mediumint unsigned");
        assert_eq!(my("tinyint", DataType::Int16).sql_type, "tinyint unsigned");
        assert_eq!(my("tinyint(1)", DataType::Int32).sql_type, "tinyint(1)");
        let ambiguous = my("smallint", DataType::Int32);
        assert_eq!(ambiguous.sql_type, "mediumint");
        assert!(ambiguous.note.unwrap().contains("holds both"));
    }

    #[test]
    fn mysql_decimals_times_and_bytes() {
        let my = |m: TypeMapping, arrow: DataType| one(Engine::MySql, m, arrow);
        assert_eq!(my(mapping("d", "decimal"), DataType::Decimal128(12, 2)).sql_type, "decimal(12,2)");
        let mut wide = mapping("d", "decimal");
        wide.original_num_precision = Some(50);
        let c = my(wide, DataType::Utf8);
        assert_eq!(c.sql_type, "varchar(52)");
        assert!(c.note.is_some());
        let mut at = mapping("at", "datetime");
        at.original_date_time_precision = Some(3);
        let c = my(at, DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, None));
        assert_eq!((c.sql_type.as_str(), c.rule.fraction_digits), ("datetime(3)", Some(3)));
        assert_eq!(
            my(mapping("at", "timestamp"), DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, None))
                .rule
                .fraction_digits,
            Some(0)
        );
        let mut v = mapping("b", "varbinary");
        v.original_char_max_length = Some(16);
        let c = my(v, DataType::Binary);
        assert_eq!((c.sql_type.as_str(), c.rule.binary), ("varbinary(16)", true));
        let mut e = mapping("state", "enum");
        e.original_char_max_length = Some(9);
        assert_eq!(my(e, DataType::Utf8).sql_type, "varchar(9)");
        let c = my(mapping("g", "geometry"), DataType::Binary);
        assert_eq!((c.sql_type.as_str(), c.rule.binary), ("longblob", true));
    }

    #[test]
    fn columns_follow_the_metadata_and_must_match_the_parquet_files() {
        let schema = Schema::new(vec![Field::new("b", DataType::Int64, true), Field::new("a", DataType::Utf8, true)]);
        let cols =
            plan_columns(Engine::Postgres, &[mapping("a", "text"), mapping("b", "bigint")], &schema).unwrap().columns;
        assert_eq!(cols.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(
            plan_columns(Engine::Postgres, &[mapping("a", "text")], &schema),
            Err(PlanError::NotInMetadata("b".into()))
        );
        assert_eq!(plan_columns(Engine::Postgres, &[], &schema), Err(PlanError::NoColumns));
    }

    #[test]
    fn a_column_rds_wrote_no_data_for_is_left_out_with_a_note() {
        // AWS's "Data conversion when exporting to an Amazon S3 bucket for Amazon RDS" (RDS
        // user guide, PostgreSQL data type mapping to Parquet): object identifier types are
        // "N/A", so the metadata names the column and no part file has it.
        let schema = Schema::new(vec![Field::new("id", DataType::Int64, true)]);
        let planned =
            plan_columns(Engine::Postgres, &[mapping("id", "bigint"), mapping("owner", "oid")], &schema).unwrap();
        assert_eq!(planned.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["id"]);
        assert_eq!(planned.left_out.len(), 1);
        assert!(planned.left_out[0].starts_with("owner (oid): ") && planned.left_out[0].contains("without it"));
        let none = plan_columns(Engine::Postgres, &[mapping("owner", "oid")], &schema);
        assert!(matches!(none, Err(PlanError::NotInMetadata(_))), "{none:?}");
        let empty = Schema::new(Vec::<Field>::new());
        assert_eq!(
            plan_columns(Engine::Postgres, &[mapping("owner", "oid")], &empty),
            Err(PlanError::NoneInParquet("owner".into()))
        );
    }

    #[test]
    fn value_rules_follow_the_original_types() {
        let rule = |engine, original: &str, f: fn(&mut TypeMapping), arrow| {
            let mut m = mapping("c", original);
            f(&mut m);
            one(engine, m, arrow).rule
        };
        assert!(rule(Engine::Postgres, "real", |_| {}, DataType::Float64).single);
        assert!(rule(Engine::MySql, "float", |_| {}, DataType::Float64).single);
        assert!(!rule(Engine::MySql, "double", |_| {}, DataType::Float64).single);
        assert!(rule(Engine::MySql, "year", |_| {}, DataType::Int32).year);
        let varchar = |m: &mut TypeMapping| m.original_char_max_length = Some(3);
        assert_eq!(rule(Engine::Postgres, "character varying", varchar, DataType::Utf8).max_chars, Some(3));
        assert_eq!(rule(Engine::MySql, "varchar", varchar, DataType::Utf8).max_chars, Some(3));
        let whole = |m: &mut TypeMapping| m.original_date_time_precision = Some(0);
        assert_eq!(rule(Engine::Postgres, "timestamp", whole, DataType::Utf8).fraction_digits, Some(0));
        assert_eq!(rule(Engine::Postgres, "time", |_| {}, DataType::Utf8).fraction_digits, Some(6));
        assert_eq!(rule(Engine::MySql, "time", |_| {}, DataType::Utf8).fraction_digits, Some(0));
    }
}
