//! The Parquet footer, read with two ranged GETs instead of the whole file: the last 8 bytes
//! give the metadata length, the next read the metadata itself.

use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use parquet::schema::types::Type;

/// 4-byte little-endian metadata length, then the magic `PAR1`.
pub const TAIL_LEN: usize = 8;

pub fn metadata_len(tail: &[u8]) -> Result<usize, String> {
    let Some(tail) = tail.len().checked_sub(TAIL_LEN).map(|start| &tail[start..]) else {
        return Err("shorter than a Parquet footer".into());
    };
    if &tail[4..] != b"PAR1" {
        return Err("not a Parquet file (no PAR1 magic at the end)".into());
    }
    Ok(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]) as usize)
}

/// The file's metadata, from the bytes `[metadata][len][PAR1]` at its end.
pub fn metadata(footer: &[u8]) -> Result<ParquetMetaData, String> {
    let len = metadata_len(footer)?;
    let end = footer.len() - TAIL_LEN;
    let start = end.checked_sub(len).ok_or("footer shorter than its metadata length")?;
    ParquetMetaDataReader::decode_metadata(&footer[start..end]).map_err(|e| e.to_string())
}

/// The file's schema, from the bytes `[metadata][len][PAR1]` at its end.
pub fn schema(footer: &[u8]) -> Result<Type, String> {
    Ok(metadata(footer)?.file_metadata().schema().clone())
}
