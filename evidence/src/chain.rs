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
/// last (no successor), every previous present with the SHA-256 it names, no manifest followed
/// by two, and one version of each manifest key.
pub fn check(heads: &[ManifestHead]) -> HashMap<String, Link> {
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
            versions: 1,
        }
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
        let links = check(&[head("e1", None), head("e2", Some("e1")), head("e3", Some("e2"))]);
        assert!(broken(&links).is_empty(), "{links:?}");
        assert!(check(&[]).is_empty());
        assert_eq!(check(&[head("e1", None)])["e1"], Link::Ok);
    }

    #[test]
    fn a_removed_manifest_is_a_gap_naming_both_ends() {
        let links = check(&[head("e1", None), head("e3", Some("e2"))]);
        let b = broken(&links);
        assert!(
            b.iter().any(|(id, why)| id == "e3" && why.contains("gap: e3 names e2") && why.contains("not there")),
            "{b:?}"
        );
        assert!(b.iter().any(|(id, why)| id == "e1" && why.contains("no manifest follows e1")), "{b:?}");
    }

    #[test]
    fn an_altered_manifest_no_longer_matches_its_link() {
        let mut e1 = head("e1", None);
        e1.sha256 = Some("other".into());
        let b = broken(&check(&[e1, head("e2", Some("e1"))]));
        assert_eq!(b.len(), 1);
        assert!(b[0].1.contains("names e1 with SHA-256 sha-e1, and e1's manifest has other: altered"), "{b:?}");
    }

    #[test]
    fn forks_and_replaced_manifests_are_broken() {
        let b = broken(&check(&[head("e1", None), head("e2", Some("e1")), head("e3", Some("e1"))]));
        assert!(b.iter().any(|(id, why)| id == "e1" && why.contains("fork: e2 and e3 both follow e1")), "{b:?}");
        let b = broken(&check(&[head("e1", None), head("e2", None)]));
        assert!(b.iter().any(|(_, why)| why.contains("2 chains start here")), "{b:?}");
        let mut twice = head("e1", None);
        twice.versions = 2;
        assert!(broken(&check(&[twice]))[0].1.contains("has 2 versions: the manifest was replaced"));
    }
}
