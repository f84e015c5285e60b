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

/// The smallest a Parquet file can be: `PAR1`, then the 8-byte tail.
pub const MIN_FILE_LEN: u64 = 4 + TAIL_LEN as u64;

/// Checks a Parquet file's framing from its length, its first 4 bytes and its last 8, wherever
/// they were read: a reader trusts the footer's length field, so a damaged one (0 bytes,
/// truncated, or a length past the file) must be found before a reader sees the file. The error
/// says what is wrong, for the caller to name the file.
pub fn check_framing(len: u64, head: &[u8], tail: &[u8]) -> Result<(), String> {
    if len < MIN_FILE_LEN || head.len() != 4 || tail.len() != TAIL_LEN {
        return Err(format!("{len} bytes, too short for a Parquet file"));
    }
    if head != b"PAR1" || &tail[4..] != b"PAR1" {
        return Err("not a Parquet file (no PAR1 magic at both ends)".into());
    }
    let metadata_len = metadata_len(tail)? as u64;
    if metadata_len == 0 || metadata_len > len - MIN_FILE_LEN {
        return Err(format!("footer claims {metadata_len} bytes of metadata in a {len}-byte file"));
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn tail(metadata_len: u32) -> Vec<u8> {
        [metadata_len.to_le_bytes().as_slice(), b"PAR1"].concat()
    }

    #[test]
    fn framing_of_whole_and_damaged_files() {
        // 4 bytes of `PAR1`, 10 of metadata, then the tail: 22 bytes.
        assert_eq!(check_framing(22, b"PAR1", &tail(10)), Ok(()));
        assert_eq!(check_framing(22, b"PAR1", &tail(1)), Ok(()));
        let short = "11 bytes, too short for a Parquet file";
        assert_eq!(check_framing(11, b"PAR1", &tail(1)).unwrap_err(), short);
        assert_eq!(check_framing(0, &[], &[]).unwrap_err(), "0 bytes, too short for a Parquet file");
        // Head or tail not read whole is never taken for a file.
        assert!(check_framing(22, b"PAR", &tail(10)).unwrap_err().contains("too short"));
        assert!(check_framing(22, b"PAR1", &tail(10)[1..]).unwrap_err().contains("too short"));
        let no_magic = "not a Parquet file (no PAR1 magic at both ends)";
        assert_eq!(check_framing(22, b"PAR2", &tail(10)).unwrap_err(), no_magic);
        assert_eq!(check_framing(22, b"PAR1", b"\x0a\0\0\0PAR2").unwrap_err(), no_magic);
        let past = "footer claims 11 bytes of metadata in a 22-byte file";
        assert_eq!(check_framing(22, b"PAR1", &tail(11)).unwrap_err(), past);
        let none = "footer claims 0 bytes of metadata in a 22-byte file";
        assert_eq!(check_framing(22, b"PAR1", &tail(0)).unwrap_err(), none);
        let huge = check_framing(22, b"PAR1", &tail(u32::MAX)).unwrap_err();
        assert_eq!(huge, format!("footer claims {} bytes of metadata in a 22-byte file", u32::MAX));
    }

    #[test]
    fn the_metadata_length_from_the_last_8_bytes() {
        assert_eq!(metadata_len(&tail(300)), Ok(300));
        assert_eq!(metadata_len(&[b"xyz".as_slice(), &tail(7)].concat()), Ok(7));
        assert_eq!(metadata_len(b"PAR1").unwrap_err(), "shorter than a Parquet footer");
        assert!(metadata_len(b"\0\0\0\0PAR2").unwrap_err().contains("no PAR1"));
    }
}
