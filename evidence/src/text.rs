//! Stored values made fit to show: a manifest, a chain head or an object's metadata is input
//! anyone with write access to the bucket could have shaped, so whatever of it goes into a
//! finding, an alert or a table row is cut to a readable length, says how long it was, and
//! has its control characters escaped.

/// The most characters of one stored value shown.
pub const MAX_SHOWN: usize = 200;
/// The most items of one list shown in one finding; the rest are counted.
pub const MAX_LISTED: usize = 50;

/// `value` with control characters escaped, cut to [`MAX_SHOWN`] characters with an ellipsis
/// and its length in bytes when longer.
pub fn shown(value: &str) -> String {
    let (mut out, cut) = s3exports_rds::error::escaped_prefix(value, MAX_SHOWN);
    if cut {
        out.push_str(&format!("… ({} bytes in all)", value.len()));
    }
    out
}

/// The first [`MAX_LISTED`] items joined with `; `, and how many more there are.
pub fn listed(items: &[String]) -> String {
    let mut out = items.iter().take(MAX_LISTED).cloned().collect::<Vec<_>>().join("; ");
    if items.len() > MAX_LISTED {
        out.push_str(&format!("; and {} more", items.len() - MAX_LISTED));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_value_is_cut_and_says_how_long_it_was() {
        assert_eq!(shown("e1"), "e1");
        assert_eq!(shown("a\nb"), "a\\nb", "no line of its own in a table or a log");
        let huge = "x".repeat(100 * 1024 * 1024);
        let s = shown(&huge);
        assert!(s.len() < MAX_SHOWN + 40, "{}", s.len());
        assert!(s.ends_with("… (104857600 bytes in all)"), "{}", &s[s.len() - 40..]);
        assert!(shown(&"é".repeat(300)).starts_with(&"é".repeat(MAX_SHOWN)), "cut on a character boundary");
    }

    #[test]
    fn a_long_list_is_cut_and_counted() {
        let items: Vec<String> = (0..60).map(|i| format!("k{i}")).collect();
        let s = listed(&items);
        assert!(s.starts_with("k0; k1;") && s.ends_with("k49; and 10 more"), "{s}");
        assert_eq!(listed(&items[..2]), "k0; k1");
    }
}
