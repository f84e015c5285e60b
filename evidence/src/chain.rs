//! The chain of one database's manifests, checked as plain data: every manifest names the one
//! written before it by export id and SHA-256, so that a manifest removed (a gap), altered (a
//! hash that no longer matches), replaced (a second version of its key) or added beside the
//! chain (a fork) shows.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// What is known of one manifest without reading it: from the listing and HeadObject (S3's
/// SHA-256 of it and the metadata it was written with), or from its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestHead {
    pub export_id: String,
    pub key: String,
    /// Hex SHA-256 of its bytes; `None` when it could not be learnt.
    pub sha256: Option<String>,
    pub snapshot_time: Option<DateTime<Utc>>,
    /// The manifest it names as previous: (export id, hex SHA-256).
    pub previous: Option<(String, String)>,
    /// From when that previous manifest may be gone by the lifecycle (see `manifest::Link`).
    pub previous_lapses: Option<DateTime<Utc>>,
    /// Versions of its key in the bucket (1 when never replaced).
    pub versions: usize,
}

/// One manifest's place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "chain", content = "why")]
pub enum Link {
    Ok,
    Broken(String),
}

impl Link {
    pub fn text(&self) -> String {
        match self {
            Self::Ok => "ok".to_owned(),
            Self::Broken(why) => format!("broken: {why}"),
        }
    }
}

/// Each manifest's link, by export id. A whole chain has one first manifest (no previous), one
/// last (no successor), every previous present with the SHA-256 it names (or gone after the
/// lifecycle's expiry, as configured), no manifest followed by two, and one version of each
/// manifest key.
pub fn check(heads: &[ManifestHead], now: DateTime<Utc>) -> HashMap<String, Link> {
    let by_id: HashMap<&str, &ManifestHead> = heads.iter().map(|h| (h.export_id.as_str(), h)).collect();
    let mut followers: HashMap<&str, Vec<&str>> = HashMap::new();
    for h in heads {
        if let Some((previous, _)) = &h.previous {
            followers.entry(previous.as_str()).or_default().push(h.export_id.as_str());
        }
    }
    let roots: Vec<&str> = heads.iter().filter(|h| h.previous.is_none()).map(|h| h.export_id.as_str()).collect();
    let tips: Vec<&str> =
        heads.iter().filter(|h| !followers.contains_key(h.export_id.as_str())).map(|h| h.export_id.as_str()).collect();
    let mut out = HashMap::new();
    for h in heads {
        let mut problems = Vec::new();
        if h.versions > 1 {
            problems.push(format!("{} has {} versions: the manifest was replaced", h.key, h.versions));
        }
        match &h.previous {
            Some((previous, sha)) => match by_id.get(previous.as_str()) {
                // The oldest manifests age out with their exports.
                None if h.previous_lapses.is_some_and(|l| l <= now) => {}
                None => problems.push(format!(
                    "gap: {} names {previous} as previous, and {previous}'s manifest is not there",
                    h.export_id
                )),
                Some(p) if p.sha256.as_deref() != Some(sha.as_str()) => problems.push(format!(
                    "{} names {previous} with SHA-256 {sha}, and {previous}'s manifest has {}: altered",
                    h.export_id,
                    p.sha256.as_deref().unwrap_or("an unknown SHA-256")
                )),
                Some(_) => {}
            },
            None if roots.len() > 1 => problems.push(format!(
                "fork: {} chains start here and at {}",
                roots.len(),
                others(&roots, &h.export_id)
            )),
            None => {}
        }
        if let Some(next) = followers.get(h.export_id.as_str()).filter(|f| f.len() > 1) {
            problems.push(format!("fork: {} and {} both follow {}", next[0], next[1], h.export_id));
        }
        if tips.len() > 1 && tips.contains(&h.export_id.as_str()) {
            problems.push(format!(
                "fork or gap: no manifest follows {}, nor {}",
                h.export_id,
                others(&tips, &h.export_id)
            ));
        }
        let link = if problems.is_empty() { Link::Ok } else { Link::Broken(problems.join("; ")) };
        out.insert(h.export_id.clone(), link);
    }
    out
}

fn others(ids: &[&str], me: &str) -> String {
    ids.iter().filter(|i| **i != me).copied().collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(id: &str, previous: Option<&str>) -> ManifestHead {
        ManifestHead {
            export_id: id.into(),
            key: format!("_evidence/db/{id}.json"),
            sha256: Some(format!("sha-{id}")),
            snapshot_time: None,
            previous: previous.map(|p| (p.to_owned(), format!("sha-{p}"))),
            previous_lapses: None,
            versions: 1,
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2027-12-01T00:00:00Z").unwrap().to_utc()
    }

    fn broken(links: &HashMap<String, Link>) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = links
            .iter()
            .filter_map(|(id, l)| match l {
                Link::Broken(why) => Some((id.clone(), why.clone())),
                Link::Ok => None,
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn a_whole_chain_is_ok() {
        let links = check(&[head("e1", None), head("e2", Some("e1")), head("e3", Some("e2"))], now());
        assert!(broken(&links).is_empty(), "{links:?}");
        assert!(check(&[], now()).is_empty());
        assert_eq!(check(&[head("e1", None)], now())["e1"], Link::Ok);
    }

    #[test]
    fn a_removed_manifest_is_a_gap_naming_both_ends() {
        let links = check(&[head("e1", None), head("e3", Some("e2"))], now());
        let b = broken(&links);
        assert!(
            b.iter().any(|(id, why)| id == "e3" && why.contains("gap: e3 names e2") && why.contains("not there")),
            "{b:?}"
        );
        assert!(b.iter().any(|(id, why)| id == "e1" && why.contains("no manifest follows e1")), "{b:?}");
    }

    #[test]
    fn the_oldest_manifest_ages_out_with_its_export_not_before() {
        let mut e2 = head("e2", Some("e1"));
        e2.previous_lapses = DateTime::parse_from_rfc3339("2027-11-24T00:00:00Z").ok().map(|t| t.to_utc());
        let chain = [e2.clone(), head("e3", Some("e2"))];
        assert!(broken(&check(&chain, now())).is_empty(), "gone after the lifecycle's expiry: no gap");
        let before = DateTime::parse_from_rfc3339("2027-11-23T23:59:59Z").unwrap().to_utc();
        let b = broken(&check(&chain, before));
        assert!(b.iter().any(|(id, why)| id == "e2" && why.contains("gap: e2 names e1")), "{b:?}");
    }

    #[test]
    fn an_altered_manifest_no_longer_matches_its_link() {
        let mut e1 = head("e1", None);
        e1.sha256 = Some("other".into());
        let b = broken(&check(&[e1, head("e2", Some("e1"))], now()));
        assert_eq!(b.len(), 1);
        assert!(b[0].1.contains("names e1 with SHA-256 sha-e1, and e1's manifest has other: altered"), "{b:?}");
    }

    #[test]
    fn forks_and_replaced_manifests_are_broken() {
        let b = broken(&check(&[head("e1", None), head("e2", Some("e1")), head("e3", Some("e1"))], now()));
        assert!(b.iter().any(|(id, why)| id == "e1" && why.contains("fork: e2 and e3 both follow e1")), "{b:?}");
        let b = broken(&check(&[head("e1", None), head("e2", None)], now()));
        assert!(b.iter().any(|(_, why)| why.contains("2 chains start here")), "{b:?}");
        let mut twice = head("e1", None);
        twice.versions = 2;
        assert!(broken(&check(&[twice], now()))[0].1.contains("has 2 versions: the manifest was replaced"));
    }
}
