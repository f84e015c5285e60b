//! The rules CloudFormation and S3 enforce on an `AWS::S3::Bucket` that its resource schema
//! states only in prose, so neither cfn-lint nor moto (which writes the lifecycle through the
//! S3 API and skips bucket properties in its CloudFormation) refuses them: a template breaking
//! one fails its stack create or update and rolls back. Synthesis and deploy refuse such a
//! template first, naming the bucket, the rule and what to change.
//!
//! Sources, per check:
//! - a lifecycle Rule needs one action besides ExpiredObjectDeleteMarker: the stack error
//!   quoted in cloudformation-coverage-roadmap #132 ("At least one of [ExpirationDate,
//!   ExpirationInDays, AbortIncompleteMultipartUpload, Transition, Transitions,
//!   NoncurrentVersionExpirationInDays, NoncurrentVersionTransition,
//!   NoncurrentVersionTransitions, NoncurrentVersionExpiration] needs to be specified") and #1124;
//!   the AWS::S3::Bucket Rule page ("You must specify at least one of the following properties");
//! - ExpiredObjectDeleteMarker "cannot be specified with Days or Date" (S3 API reference,
//!   LifecycleExpiration), nor with a tag or object-size filter (S3: "ExpiredObjectDeleteMarker
//!   cannot be specified with Tags." / "... with Object Size.");
//! - AbortIncompleteMultipartUpload not with a tag or object-size filter (S3: "... cannot be
//!   specified with Tags." / "... with Object Size.", cfn-lint #3554 quotes the stack error);
//! - Transition/Transitions and NoncurrentVersionTransition(s) exclude each other; expiry and
//!   transitions use the same unit (days or date) and expiry comes later (AWS::S3::Bucket Rule
//!   page);
//! - transition days ascend in storage-class order, STANDARD_IA and ONEZONE_IA at least 30 days
//!   (S3 API reference, Transition), DEEP_ARCHIVE at least 90 days after GLACIER in one rule (S3's
//!   InvalidArgument: "'Days' in the 'Transition' action for StorageClass 'DEEP_ARCHIVE' ... must
//!   be 90 days more than ... StorageClass 'GLACIER'");
//! - at most 1,000 rules, ids unique and at most 255 characters (S3 lifecycle configuration
//!   limits; AWS::S3::Bucket Rule page, Id);
//! - ObjectLockConfiguration goes with ObjectLockEnabled: true ("Enable ObjectLockEnabled when
//!   you apply ObjectLockConfiguration to a bucket", AWS::S3::Bucket ObjectLockConfiguration
//!   page), and Object Lock needs versioning (S3 User Guide, Configuring S3 Object Lock).

use serde_json::Value;

/// S3's limit on the rules of one lifecycle configuration.
pub const MAX_LIFECYCLE_RULES: usize = 1000;
/// The longest rule id S3 accepts.
pub const MAX_RULE_ID: usize = 255;

/// The actions of which a rule must hold at least one (roadmap #132's stack error).
const ACTIONS: [&str; 9] = [
    "AbortIncompleteMultipartUpload",
    "ExpirationDate",
    "ExpirationInDays",
    "NoncurrentVersionExpiration",
    "NoncurrentVersionExpirationInDays",
    "NoncurrentVersionTransition",
    "NoncurrentVersionTransitions",
    "Transition",
    "Transitions",
];

/// Storage classes in the order objects may move through them (S3's transition waterfall).
const CLASS_ORDER: [&str; 6] =
    ["STANDARD_IA", "INTELLIGENT_TIERING", "ONEZONE_IA", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"];

/// One rule broken: `resource` is the bucket's logical id, `rule` the lifecycle rule's id (or
/// its position) when the problem is in one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub resource: String,
    pub rule: Option<String>,
    pub problem: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.rule {
            Some(rule) => write!(f, "{} lifecycle rule {rule}: {}", self.resource, self.problem),
            None => write!(f, "{}: {}", self.resource, self.problem),
        }
    }
}

/// Every violation in a rendered template (`{"Resources": ...}`), buckets in logical-id order.
pub fn check_template(template: &Value) -> Vec<Violation> {
    let Some(resources) = template.get("Resources").and_then(Value::as_object) else {
        return Vec::new();
    };
    resources
        .iter()
        .filter(|(_, r)| r.get("Type").and_then(Value::as_str) == Some("AWS::S3::Bucket"))
        .flat_map(|(logical, r)| check_bucket(logical, r.get("Properties").unwrap_or(&Value::Null)))
        .collect()
}

/// Every violation in one bucket's properties.
pub fn check_bucket(logical: &str, props: &Value) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut say = |rule: Option<String>, problem: String| {
        out.push(Violation { resource: logical.to_owned(), rule, problem });
    };
    object_lock(props, &mut |p| say(None, p));
    let Some(lifecycle) = props.get("LifecycleConfiguration") else {
        return out;
    };
    let rules = lifecycle.get("Rules").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    if rules.is_empty() {
        say(None, "LifecycleConfiguration has no Rules: S3 needs at least one (or leave the property out)".into());
    }
    if rules.len() > MAX_LIFECYCLE_RULES {
        say(None, format!("{} lifecycle rules, over S3's {MAX_LIFECYCLE_RULES}", rules.len()));
    }
    let mut ids = std::collections::BTreeSet::new();
    for (i, rule) in rules.iter().enumerate() {
        let id = rule.get("Id").and_then(Value::as_str);
        let name = id.map_or_else(|| format!("#{}", i + 1), |id| format!("`{id}`"));
        if let Some(id) = id {
            if id.len() > MAX_RULE_ID {
                say(Some(name.clone()), format!("Id is {} characters, over {MAX_RULE_ID}", id.len()));
            }
            if !ids.insert(id) {
                say(Some(name.clone()), "Id is used by another rule of this bucket; S3 needs them unique".into());
            }
        }
        lifecycle_rule(rule, &mut |p| say(Some(name.clone()), p));
    }
    out
}

fn object_lock(props: &Value, say: &mut impl FnMut(String)) {
    let configured = props.get("ObjectLockConfiguration").is_some();
    let enabled = props.get("ObjectLockEnabled");
    if configured && enabled != Some(&Value::Bool(true)) {
        say(format!(
            "ObjectLockConfiguration without ObjectLockEnabled: true (found {}); AWS documents the two together",
            enabled.map_or_else(|| "none".to_owned(), Value::to_string)
        ));
    }
    let locked = configured || enabled == Some(&Value::Bool(true));
    let versioned = props.pointer("/VersioningConfiguration/Status").and_then(Value::as_str) == Some("Enabled");
    if locked && !versioned {
        // S3 turns versioning on by itself only for a bucket created with Object Lock; these
        // stacks enable it on buckets that exist, which needs versioning first (and a Suspended
        // status is refused either way).
        say("Object Lock without VersioningConfiguration Status: Enabled; enabling Object Lock on an \
             existing bucket needs versioning (S3 User Guide, Enabling Object Lock on an existing bucket)"
            .into());
    }
}

fn lifecycle_rule(rule: &Value, say: &mut impl FnMut(String)) {
    let has = |key: &str| rule.get(key).is_some_and(|v| !v.is_null());
    match rule.get("Status").and_then(Value::as_str) {
        Some("Enabled" | "Disabled") => {}
        other => say(format!("Status is {other:?}; it must be \"Enabled\" or \"Disabled\"")),
    }
    if !ACTIONS.iter().any(|a| has(a)) {
        say(format!(
            "no action CloudFormation counts (ExpiredObjectDeleteMarker alone is refused): add one of {}",
            ACTIONS.join(", ")
        ));
    }
    let tags = rule.get("TagFilters").and_then(Value::as_array).is_some_and(|t| !t.is_empty());
    let size = has("ObjectSizeGreaterThan") || has("ObjectSizeLessThan");
    if rule.get("ExpiredObjectDeleteMarker") == Some(&Value::Bool(true)) {
        for other in ["ExpirationInDays", "ExpirationDate"] {
            if has(other) {
                say(format!("ExpiredObjectDeleteMarker cannot be specified with {other}: put them in two rules"));
            }
        }
        if tags {
            say("ExpiredObjectDeleteMarker cannot be specified with TagFilters".into());
        }
        if size {
            say("ExpiredObjectDeleteMarker cannot be specified with an object-size filter".into());
        }
    }
    if has("AbortIncompleteMultipartUpload") {
        if tags {
            say("AbortIncompleteMultipartUpload cannot be specified with TagFilters".into());
        }
        if size {
            say("AbortIncompleteMultipartUpload cannot be specified with an object-size filter".into());
        }
    }
    for (one, many) in [("Transition", "Transitions"), ("NoncurrentVersionTransition", "NoncurrentVersionTransitions")]
    {
        if has(one) && has(many) {
            say(format!("{one} and {many} together; keep {many} only"));
        }
    }
    let transitions: Vec<&Value> = list(rule, "Transition", "Transitions");
    if has("ExpirationInDays") && has("ExpirationDate") {
        say("ExpirationInDays and ExpirationDate together; keep one".into());
    }
    let by_days = transitions.iter().any(|t| t.get("TransitionInDays").is_some());
    let by_date = transitions.iter().any(|t| t.get("TransitionDate").is_some());
    if (by_days && (by_date || has("ExpirationDate"))) || (by_date && has("ExpirationInDays")) {
        say("expiry and transitions mix days and dates; use one unit for all of them".into());
    }
    transition_days(&transitions, "TransitionInDays", rule.get("ExpirationInDays").and_then(Value::as_u64), say);
    let noncurrent = list(rule, "NoncurrentVersionTransition", "NoncurrentVersionTransitions");
    let noncurrent_expiry = rule
        .pointer("/NoncurrentVersionExpiration/NoncurrentDays")
        .or_else(|| rule.get("NoncurrentVersionExpirationInDays"))
        .and_then(Value::as_u64);
    transition_days(&noncurrent, "TransitionInDays", noncurrent_expiry, say);
}

/// The entries of the single (deprecated) and the list form of a transition property.
fn list<'a>(rule: &'a Value, one: &str, many: &str) -> Vec<&'a Value> {
    let mut out: Vec<&Value> = rule.get(one).into_iter().filter(|v| v.is_object()).collect();
    out.extend(rule.get(many).and_then(Value::as_array).into_iter().flatten());
    out
}

/// Days ascend with the storage class, the infrequent-access classes wait 30 days, Deep Archive
/// comes 90 days after Glacier, and expiry comes after every transition.
fn transition_days(transitions: &[&Value], field: &str, expiry: Option<u64>, say: &mut impl FnMut(String)) {
    let mut steps: Vec<(usize, &str, u64)> = Vec::new();
    for t in transitions {
        let class = t.get("StorageClass").and_then(Value::as_str).unwrap_or("");
        let Some(rank) = CLASS_ORDER.iter().position(|c| c.eq_ignore_ascii_case(class)) else {
            say(format!("transition to unknown storage class {class:?}"));
            continue;
        };
        let Some(days) = t.get(field).and_then(Value::as_u64) else {
            continue;
        };
        if matches!(CLASS_ORDER[rank], "STANDARD_IA" | "ONEZONE_IA") && days < 30 {
            say(format!("transition to {} after {days} days; S3 needs at least 30", CLASS_ORDER[rank]));
        }
        if let Some(expiry) = expiry.filter(|e| *e <= days) {
            say(format!("expiry after {expiry} days is not later than the transition to {class} after {days}"));
        }
        steps.push((rank, CLASS_ORDER[rank], days));
    }
    steps.sort_by_key(|s| s.0);
    for pair in steps.windows(2) {
        let ((_, a, a_days), (_, b, b_days)) = (pair[0], pair[1]);
        if b_days <= a_days {
            say(format!("transition to {b} after {b_days} days is not later than to {a} after {a_days}"));
        }
        if (a, b) == ("GLACIER", "DEEP_ARCHIVE") && b_days < a_days + 90 {
            say(format!(
                "DEEP_ARCHIVE after {b_days} days is less than 90 days after GLACIER ({a_days}); S3 refuses it: \
                 set it to at least {}",
                a_days + 90
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bucket(rules: Value) -> Value {
        json!({ "VersioningConfiguration": { "Status": "Enabled" }, "LifecycleConfiguration": { "Rules": rules } })
    }

    fn problems(props: &Value) -> Vec<String> {
        check_bucket("B", props).into_iter().map(|v| v.to_string()).collect()
    }

    #[test]
    fn a_rule_holding_only_expired_object_delete_marker_is_refused() {
        // cloudformation-coverage-roadmap #1124: CloudFormation refuses it, S3 would not.
        let p = problems(&bucket(json!([{ "Id": "M", "Status": "Enabled", "ExpiredObjectDeleteMarker": true }])));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("B lifecycle rule `M`: no action"), "{p:?}");
        let with_second = json!([{
            "Id": "M", "Status": "Enabled", "ExpiredObjectDeleteMarker": true,
            "NoncurrentVersionExpiration": { "NoncurrentDays": 30 }
        }]);
        assert!(problems(&bucket(with_second)).is_empty());
    }

    #[test]
    fn expired_object_delete_marker_excludes_days_dates_tags_and_sizes() {
        // S3 API reference, LifecycleExpiration: "cannot be specified with Days or Date".
        let rule = json!([{
            "Id": "M", "Status": "Enabled", "ExpiredObjectDeleteMarker": true, "ExpirationInDays": 3,
            "TagFilters": [{ "Key": "k", "Value": "v" }], "ObjectSizeGreaterThan": 10
        }]);
        let p = problems(&bucket(rule)).join("\n");
        for what in ["with ExpirationInDays", "with TagFilters", "with an object-size filter"] {
            assert!(p.contains(&format!("ExpiredObjectDeleteMarker cannot be specified {what}")), "{p}");
        }
    }

    #[test]
    fn abort_incomplete_multipart_upload_excludes_tags_and_sizes() {
        // cfn-lint #3554 quotes S3's "AbortIncompleteMultipartUpload cannot be specified with Object Size".
        let rule = json!([{
            "Id": "A", "Status": "Enabled", "AbortIncompleteMultipartUpload": { "DaysAfterInitiation": 1 },
            "ObjectSizeLessThan": 10, "TagFilters": [{ "Key": "k", "Value": "v" }]
        }]);
        let p = problems(&bucket(rule)).join("\n");
        assert!(p.contains("AbortIncompleteMultipartUpload cannot be specified with TagFilters"), "{p}");
        assert!(p.contains("AbortIncompleteMultipartUpload cannot be specified with an object-size filter"), "{p}");
    }

    #[test]
    fn transitions_ascend_deep_archive_waits_90_days_and_expiry_comes_last() {
        // S3's InvalidArgument for DEEP_ARCHIVE under 90 days after GLACIER; the Rule page for
        // expiry after transitions; the Transition API reference for STANDARD_IA's 30 days.
        let rule = |glacier: u64, deep: u64, expire: u64| {
            bucket(json!([{
                "Id": "T", "Status": "Enabled", "ExpirationInDays": expire,
                "Transitions": [
                    { "StorageClass": "GLACIER", "TransitionInDays": glacier },
                    { "StorageClass": "DEEP_ARCHIVE", "TransitionInDays": deep }
                ]
            }]))
        };
        assert!(problems(&rule(7, 97, 365)).is_empty());
        let p = problems(&rule(30, 60, 365)).join("\n");
        assert!(p.contains("less than 90 days after GLACIER (30)") && p.contains("at least 120"), "{p}");
        let p = problems(&rule(100, 50, 365)).join("\n");
        assert!(p.contains("not later than to GLACIER after 100"), "{p}");
        let p = problems(&rule(7, 97, 97)).join("\n");
        assert!(p.contains("expiry after 97 days is not later than the transition to DEEP_ARCHIVE"), "{p}");
        let ia = bucket(json!([{
            "Id": "I", "Status": "Enabled", "Transitions": [{ "StorageClass": "STANDARD_IA", "TransitionInDays": 7 }]
        }]));
        assert!(problems(&ia).join("\n").contains("S3 needs at least 30"));
        let both = bucket(json!([{
            "Id": "D", "Status": "Enabled", "Transition": { "StorageClass": "GLACIER", "TransitionInDays": 1 },
            "Transitions": [{ "StorageClass": "GLACIER", "TransitionInDays": 1 }]
        }]));
        assert!(problems(&both).join("\n").contains("Transition and Transitions together"));
        let mixed = bucket(json!([{
            "Id": "U", "Status": "Enabled", "ExpirationDate": "2030-01-01T00:00:00.000Z",
            "Transitions": [{ "StorageClass": "GLACIER", "TransitionInDays": 1 }]
        }]));
        assert!(problems(&mixed).join("\n").contains("mix days and dates"));
    }

    #[test]
    fn rule_ids_are_unique_and_short_and_status_is_known() {
        let rule = |id: &str, status: &str| json!({ "Id": id, "Status": status, "ExpirationInDays": 1 });
        let p = problems(&bucket(json!([rule("a", "Enabled"), rule("a", "On"), rule(&"x".repeat(256), "Enabled")])))
            .join("\n");
        assert!(p.contains("`a`: Id is used by another rule"), "{p}");
        assert!(p.contains("`a`: Status is Some(\"On\")"), "{p}");
        assert!(p.contains("Id is 256 characters"), "{p}");
        let many: Vec<Value> = (0..=MAX_LIFECYCLE_RULES).map(|i| rule(&format!("r{i}"), "Enabled")).collect();
        assert!(problems(&bucket(Value::Array(many))).join("\n").contains("1001 lifecycle rules"));
    }

    #[test]
    fn object_lock_configuration_needs_object_lock_enabled_and_versioning() {
        // AWS::S3::Bucket ObjectLockConfiguration: "Enable ObjectLockEnabled when you apply
        // ObjectLockConfiguration to a bucket".
        let nested_only = json!({
            "VersioningConfiguration": { "Status": "Enabled" },
            "ObjectLockConfiguration": { "ObjectLockEnabled": "Enabled" }
        });
        let p = problems(&nested_only);
        assert_eq!(
            p,
            ["B: ObjectLockConfiguration without ObjectLockEnabled: true (found none); AWS documents the two together"]
        );
        let pair = json!({
            "VersioningConfiguration": { "Status": "Enabled" },
            "ObjectLockEnabled": true,
            "ObjectLockConfiguration": { "ObjectLockEnabled": "Enabled" }
        });
        assert!(problems(&pair).is_empty());
        let unversioned =
            json!({ "ObjectLockEnabled": true, "ObjectLockConfiguration": { "ObjectLockEnabled": "Enabled" } });
        assert!(problems(&unversioned)[0].contains("needs versioning"));
    }

    #[test]
    fn only_buckets_are_checked() {
        let t = json!({ "Resources": {
            "Q": { "Type": "AWS::SQS::Queue", "Properties": { "LifecycleConfiguration": { "Rules": [] } } },
            "B": { "Type": "AWS::S3::Bucket", "Properties": { "LifecycleConfiguration": { "Rules": [
                { "Id": "M", "Status": "Enabled", "ExpiredObjectDeleteMarker": true }
            ] } } }
        }});
        let found = check_template(&t);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].resource, "B");
        assert_eq!(found[0].rule.as_deref(), Some("`M`"));
    }
}
