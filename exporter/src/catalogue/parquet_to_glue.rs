//! Parquet column types as Glue/Athena (Hive DDL) types, from the physical type and its logical
//! (or legacy converted) annotation, as RDS writes them.

use parquet::basic::{ConvertedType, DecimalType, IntType, LogicalType, Repetition, Type as Physical};
use parquet::schema::types::Type;

/// The Glue type of one Parquet field.
pub fn glue_type(field: &Type) -> String {
    match field {
        Type::PrimitiveType { basic_info, physical_type, precision, scale, .. } => {
            primitive(*physical_type, basic_info.logical_type_ref(), basic_info.converted_type(), *precision, *scale)
        }
        Type::GroupType { basic_info, fields } => {
            let list = matches!(basic_info.logical_type_ref(), Some(LogicalType::List))
                || basic_info.converted_type() == ConvertedType::LIST;
            let map = matches!(basic_info.logical_type_ref(), Some(LogicalType::Map))
                || matches!(basic_info.converted_type(), ConvertedType::MAP | ConvertedType::MAP_KEY_VALUE);
            if list {
                // LIST -> repeated group (one element field), or legacy repeated primitive.
                let element = match fields.first().map(|f| f.as_ref()) {
                    Some(Type::GroupType { fields: inner, .. }) if inner.len() == 1 => glue_type(&inner[0]),
                    Some(f) => glue_type(f),
                    None => "string".to_owned(),
                };
                format!("array<{element}>")
            } else if map {
                match fields.first().map(|f| f.as_ref()) {
                    Some(Type::GroupType { fields: kv, .. }) if kv.len() == 2 => {
                        format!("map<{},{}>", glue_type(&kv[0]), glue_type(&kv[1]))
                    }
                    _ => "map<string,string>".to_owned(),
                }
            } else {
                let members: Vec<String> = fields.iter().map(|f| format!("{}:{}", f.name(), glue_type(f))).collect();
                format!("struct<{}>", members.join(","))
            }
        }
    }
}

fn primitive(
    physical: Physical,
    logical: Option<&LogicalType>,
    converted: ConvertedType,
    precision: i32,
    scale: i32,
) -> String {
    use LogicalType as L;
    match logical {
        Some(L::String | L::Enum | L::Json | L::Uuid) => return "string".into(),
        Some(L::Decimal(DecimalType { precision, scale })) => return format!("decimal({precision},{scale})"),
        Some(L::Date) => return "date".into(),
        Some(L::Timestamp { .. }) => return "timestamp".into(),
        Some(L::Integer(IntType { bit_width, is_signed })) => {
            return match (bit_width, is_signed) {
                (8, true) => "tinyint",
                (16, true) => "smallint",
                (32, true) | (8 | 16, false) => "int",
                (64, true) | (32, false) => "bigint",
                _ => "decimal(20,0)",
            }
            .into();
        }
        Some(L::Float16) => return "float".into(),
        _ => {}
    }
    match converted {
        ConvertedType::UTF8 | ConvertedType::ENUM | ConvertedType::JSON => return "string".into(),
        ConvertedType::DECIMAL => return format!("decimal({precision},{scale})"),
        ConvertedType::DATE => return "date".into(),
        ConvertedType::TIMESTAMP_MILLIS | ConvertedType::TIMESTAMP_MICROS => return "timestamp".into(),
        ConvertedType::INT_8 => return "tinyint".into(),
        ConvertedType::INT_16 => return "smallint".into(),
        ConvertedType::UINT_8 | ConvertedType::UINT_16 | ConvertedType::INT_32 => return "int".into(),
        ConvertedType::UINT_32 | ConvertedType::INT_64 => return "bigint".into(),
        ConvertedType::UINT_64 => return "decimal(20,0)".into(),
        _ => {}
    }
    match physical {
        Physical::BOOLEAN => "boolean",
        // RDS writes PostgreSQL smallint and integer as plain INT32.
        Physical::INT32 => "int",
        Physical::INT64 => "bigint",
        Physical::INT96 => "timestamp",
        Physical::FLOAT => "float",
        Physical::DOUBLE => "double",
        Physical::BYTE_ARRAY | Physical::FIXED_LEN_BYTE_ARRAY => "binary",
    }
    .into()
}

/// Columns of a file's schema, in order, as `(name, glue type)`.
pub fn columns(schema: &Type) -> Vec<(String, String)> {
    match schema {
        Type::GroupType { fields, .. } => fields.iter().map(|f| (f.name().to_owned(), glue_type(f))).collect(),
        Type::PrimitiveType { .. } => Vec::new(),
    }
}

/// Whether a field may be NULL (for reports; Glue columns are always nullable).
pub fn nullable(field: &Type) -> bool {
    field.get_basic_info().repetition() != Repetition::REQUIRED
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::schema::parser::parse_message_type;

    #[test]
    fn every_type_rds_writes() {
        let schema = parse_message_type(
            "message m {
                required int64 id;
                optional int32 small_as_rds_writes_it;
                optional int32 small (INTEGER(16,true));
                optional int32 tiny (INTEGER(8,true));
                optional int32 plain_int (INTEGER(32,true));
                optional int64 big (INTEGER(64,true));
                optional int32 unsigned_int (INTEGER(32,false));
                optional boolean flag;
                optional float f;
                optional double d;
                optional binary name (STRING);
                optional binary legacy_name (UTF8);
                optional binary numeric_as_string (STRING);
                optional binary json_doc (JSON);
                optional fixed_len_byte_array(16) id_uuid (UUID);
                optional binary raw;
                optional fixed_len_byte_array(8) fixed_raw;
                optional int32 dec32 (DECIMAL(9,2));
                optional int64 dec64 (DECIMAL(18,4));
                optional fixed_len_byte_array(16) dec_fixed (DECIMAL(38,10));
                optional int32 day (DATE);
                optional int64 ts_micros (TIMESTAMP(MICROS,true));
                optional int64 ts_millis (TIMESTAMP(MILLIS,false));
                optional int64 ts_legacy (TIMESTAMP_MICROS);
                optional int96 ts_int96;
                optional group tags (LIST) { repeated group list { optional binary element (STRING); } }
                optional group attrs (MAP) { repeated group key_value { required binary key (STRING); optional int32 value; } }
                optional group address { optional binary city (STRING); optional int32 zip; }
            }",
        )
        .unwrap();
        let got = columns(&schema);
        let want = [
            ("id", "bigint"),
            ("small_as_rds_writes_it", "int"),
            ("small", "smallint"),
            ("tiny", "tinyint"),
            ("plain_int", "int"),
            ("big", "bigint"),
            ("unsigned_int", "bigint"),
            ("flag", "boolean"),
            ("f", "float"),
            ("d", "double"),
            ("name", "string"),
            ("legacy_name", "string"),
            ("numeric_as_string", "string"),
            ("json_doc", "string"),
            ("id_uuid", "string"),
            ("raw", "binary"),
            ("fixed_raw", "binary"),
            ("dec32", "decimal(9,2)"),
            ("dec64", "decimal(18,4)"),
            ("dec_fixed", "decimal(38,10)"),
            ("day", "date"),
            ("ts_micros", "timestamp"),
            ("ts_millis", "timestamp"),
            ("ts_legacy", "timestamp"),
            ("ts_int96", "timestamp"),
            ("tags", "array<string>"),
            ("attrs", "map<string,int>"),
            ("address", "struct<city:string,zip:int>"),
        ];
        let want: Vec<(String, String)> = want.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect();
        assert_eq!(got, want);
        if let Type::GroupType { fields, .. } = &schema {
            assert!(!nullable(&fields[0]));
            assert!(nullable(&fields[1]));
        }
    }
}
