//! Change-set deployment, the way `cdk deploy` does it: create a change set per stack, show
//! it, execute it, stream the stack's events with progress, print the outputs.

use std::collections::HashSet;
use std::io::Write;
use std::time::Duration;

use aws_sdk_cloudformation::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cloudformation::types::{Capability, ChangeSetType, Parameter, Tag};
use aws_smithy_types::DateTime;

use crate::stacks::Stack;

/// CloudFormation takes a template inline up to this size; larger ones go through S3.
const MAX_INLINE_TEMPLATE: usize = 51_200;

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("{doing}: {message}")]
    Aws { doing: String, message: String },
    #[error(
        "stack {stack} is {status} and cannot be updated; delete it (`infra destroy --stack {stack}`) and deploy again"
    )]
    Unusable { stack: String, status: String },
    #[error("change set for {stack} failed: {reason}")]
    ChangeSetFailed { stack: String, reason: String },
    #[error("deploying {stack} ended in {status}: {reasons}")]
    Failed { stack: String, status: String, reasons: String },
    #[error(
        "template of {stack} is {bytes} bytes, over the {MAX_INLINE_TEMPLATE} CloudFormation takes inline; run `infra bootstrap` so it can go through the artifacts bucket"
    )]
    TemplateTooLarge { stack: String, bytes: usize },
    #[error("{0}")]
    Endpoint(String),
}

fn aws<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    doing: impl Into<String>,
) -> impl FnOnce(SdkError<E, R>) -> DeployError {
    move |e| DeployError::Aws {
        doing: doing.into(),
        message: match (e.code(), e.message()) {
            (Some(c), Some(m)) => format!("{c}: {m}"),
            _ => s3exports_cli::error_text(&e),
        },
    }
}

/// Where a stack is in its life, from its status text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Missing,
    /// Created by a change set that was never executed: still a CREATE.
    Review,
    Busy,
    Stable,
    /// Failed creation: only deleting helps.
    Unusable,
    Failed,
}

pub fn phase(status: Option<&str>) -> Phase {
    match status {
        None | Some("DELETE_COMPLETE") => Phase::Missing,
        Some("REVIEW_IN_PROGRESS") => Phase::Review,
        Some("ROLLBACK_COMPLETE" | "ROLLBACK_FAILED" | "CREATE_FAILED" | "DELETE_FAILED") => Phase::Unusable,
        Some(s) if s.ends_with("_IN_PROGRESS") => Phase::Busy,
        Some(s) if s.ends_with("_FAILED") || s == "UPDATE_ROLLBACK_COMPLETE" => Phase::Failed,
        Some(_) => Phase::Stable,
    }
}

/// What CloudFormation says when a change set would change nothing.
pub fn means_no_changes(reason: &str) -> bool {
    reason.contains("didn't contain changes") || reason.contains("No updates are to be performed")
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ResourceChange {
    pub action: String,
    pub logical_id: String,
    pub resource_type: String,
    pub replacement: String,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub stack: String,
    pub create: bool,
    /// `None` when there is nothing to change.
    pub change_set: Option<String>,
    pub changes: Vec<ResourceChange>,
}

/// The buckets a set of change sets would replace. A replaced export bucket would be a new,
/// empty bucket of the same name (the old one is retained, so the replacement even fails):
/// `infra` refuses such a deploy before anything is executed.
pub fn bucket_replacements(plans: &[Plan]) -> Vec<String> {
    plans
        .iter()
        .flat_map(|p| p.changes.iter().map(move |c| (p, c)))
        .filter(|(_, c)| {
            c.resource_type == "AWS::S3::Bucket" && matches!(c.replacement.as_str(), "True" | "Conditional")
        })
        .map(|(p, c)| format!("{}.{} (replacement: {})", p.stack, c.logical_id, c.replacement))
        .collect()
}

/// The databases this deploy would seal in compliance mode for the first time: compliance in
/// config, and not in the target their stack published (`published`: the `object_lock` of
/// the live target parameter, `None` when there is none yet).
pub fn first_compliance(
    config: &s3exports_config::Config,
    published: impl Fn(&str) -> Option<s3exports_config::ObjectLock>,
) -> Vec<String> {
    use s3exports_config::ObjectLock;
    config
        .databases
        .iter()
        .filter(|d| d.object_lock == ObjectLock::Compliance && published(&d.db_name) != Some(ObjectLock::Compliance))
        .map(|d| d.db_name.clone())
        .collect()
}

/// The `object_lock` a database's live target parameter carries, if any.
pub async fn published_object_lock(
    ssm: &aws_sdk_ssm::Client,
    env: &str,
    db: &str,
) -> Option<s3exports_config::ObjectLock> {
    let out = ssm.get_parameter().name(s3exports_config::names::target_parameter(env, db)).send().await.ok()?;
    let text = out.parameter()?.value()?;
    serde_json::from_str::<s3exports_config::ExportTarget>(text).ok()?.object_lock
}

#[derive(Debug)]
pub struct Deployer {
    pub cfn: aws_sdk_cloudformation::Client,
    pub s3: aws_sdk_s3::Client,
    /// Bucket for templates over the inline limit (the artifacts bucket).
    pub template_bucket: Option<String>,
    pub environment: String,
    /// The configuration the clients were made from: its region's partition names the S3 host
    /// CloudFormation reads large templates from.
    pub sdk: aws_config::SdkConfig,
}

impl Deployer {
    pub async fn stack_status(&self, stack: &str) -> Result<Option<String>, DeployError> {
        match self.cfn.describe_stacks().stack_name(stack).send().await {
            Ok(out) => Ok(out.stacks().first().and_then(|s| s.stack_status()).map(|s| s.as_str().to_owned())),
            Err(e) if e.message().is_some_and(|m| m.contains("does not exist")) => Ok(None),
            Err(e) => Err(aws(format!("describing stack {stack}"))(e)),
        }
    }

    pub async fn outputs(&self, stack: &str) -> Result<Vec<(String, String)>, DeployError> {
        let out = self
            .cfn
            .describe_stacks()
            .stack_name(stack)
            .send()
            .await
            .map_err(aws(format!("describing stack {stack}")))?;
        Ok(out
            .stacks()
            .first()
            .map(|s| {
                s.outputs()
                    .iter()
                    .map(|o| {
                        (o.output_key().unwrap_or_default().to_owned(), o.output_value().unwrap_or_default().to_owned())
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The physical id of one of a stack's resources; `None` when the stack does not exist.
    pub async fn physical_id(&self, stack: &str, logical_id: &str) -> Result<Option<String>, DeployError> {
        match self.cfn.describe_stack_resource().stack_name(stack).logical_resource_id(logical_id).send().await {
            Ok(out) => Ok(out.stack_resource_detail().and_then(|r| r.physical_resource_id()).map(str::to_owned)),
            Err(e) if e.message().is_some_and(|m| m.contains("does not exist")) => Ok(None),
            Err(e) => Err(aws(format!("reading {logical_id} of {stack}"))(e)),
        }
    }

    /// Creates a change set for the stack and reads what it would do.
    pub async fn plan(&self, stack: &Stack, parameters: &[(String, String)]) -> Result<Plan, DeployError> {
        let status = self.stack_status(&stack.name).await?;
        let create = match phase(status.as_deref()) {
            Phase::Missing | Phase::Review => true,
            Phase::Stable | Phase::Failed => false,
            Phase::Busy => {
                return Err(DeployError::Aws {
                    doing: format!("planning {}", stack.name),
                    message: format!("the stack is {}; wait for it to finish", status.unwrap_or_default()),
                });
            }
            Phase::Unusable => {
                return Err(DeployError::Unusable { stack: stack.name.clone(), status: status.unwrap_or_default() });
            }
        };
        let body = stack.template.render();
        let mut request = self
            .cfn
            .create_change_set()
            .stack_name(&stack.name)
            .change_set_name(format!("infra-{}", DateTime::from(std::time::SystemTime::now()).secs()))
            .change_set_type(if create { ChangeSetType::Create } else { ChangeSetType::Update })
            .capabilities(Capability::CapabilityIam)
            .capabilities(Capability::CapabilityNamedIam)
            .tags(Tag::builder().key("project").value(s3exports_config::names::PROJECT).build())
            .tags(Tag::builder().key("environment").value(&self.environment).build());
        for (key, value) in parameters {
            request = request.parameters(Parameter::builder().parameter_key(key).parameter_value(value).build());
        }
        request = if body.len() <= MAX_INLINE_TEMPLATE {
            request.template_body(body)
        } else {
            request.template_url(self.upload_template(&stack.name, body).await?)
        };
        let created = match request.send().await {
            Ok(created) => created,
            // Some implementations refuse an empty update outright instead of failing the set.
            Err(e) if e.message().is_some_and(means_no_changes) => {
                return Ok(Plan { stack: stack.name.clone(), create, change_set: None, changes: Vec::new() });
            }
            Err(e) => return Err(aws(format!("creating a change set for {}", stack.name))(e)),
        };
        let id = created.id().unwrap_or_default().to_owned();

        let mut wait = Poll::new();
        let (status, reason) = loop {
            let out = self
                .cfn
                .describe_change_set()
                .change_set_name(&id)
                .send()
                .await
                .map_err(aws(format!("reading the change set of {}", stack.name)))?;
            let status = out.status().map(|s| s.as_str().to_owned()).unwrap_or_default();
            if !status.ends_with("PENDING") && !status.ends_with("IN_PROGRESS") {
                break (status, out.status_reason().unwrap_or_default().to_owned());
            }
            wait.sleep().await;
        };
        if status == "FAILED" && !means_no_changes(&reason) {
            return Err(DeployError::ChangeSetFailed { stack: stack.name.clone(), reason });
        }
        let changes = if status == "FAILED" { Vec::new() } else { self.changes(&id).await? };
        if changes.is_empty() {
            self.cfn
                .delete_change_set()
                .change_set_name(&id)
                .send()
                .await
                .map_err(aws("deleting an empty change set"))?;
            return Ok(Plan { stack: stack.name.clone(), create, change_set: None, changes });
        }
        Ok(Plan { stack: stack.name.clone(), create, change_set: Some(id), changes })
    }

    async fn changes(&self, change_set: &str) -> Result<Vec<ResourceChange>, DeployError> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .cfn
                .describe_change_set()
                .change_set_name(change_set)
                .set_next_token(token)
                .send()
                .await
                .map_err(aws("reading change set changes"))?;
            out.extend(page.changes().iter().filter_map(|c| c.resource_change()).map(|rc| ResourceChange {
                action: rc.action().map(|a| a.as_str().to_owned()).unwrap_or_default(),
                logical_id: rc.logical_resource_id().unwrap_or_default().to_owned(),
                resource_type: rc.resource_type().unwrap_or_default().to_owned(),
                replacement: rc.replacement().map(|r| r.as_str().to_owned()).unwrap_or_default(),
            }));
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    async fn upload_template(&self, stack: &str, body: String) -> Result<String, DeployError> {
        let Some(bucket) = &self.template_bucket else {
            return Err(DeployError::TemplateTooLarge { stack: stack.to_owned(), bytes: body.len() });
        };
        let key = format!("templates/{}.json", crate::artifacts::sha256_hex(body.as_bytes()));
        self.s3
            .put_object()
            .bucket(bucket)
            .key(&key)
            .body(body.into_bytes().into())
            .send()
            .await
            .map_err(aws(format!("uploading the template of {stack}")))?;
        Ok(format!("{}/{key}", self.template_host(bucket).await?))
    }

    /// `https://<bucket>.s3.<region>.<partition's domain>`, as the SDK's endpoint rules give it:
    /// CloudFormation reads the template from S3 in the stack's region, whatever endpoint this
    /// process talks to.
    async fn template_host(&self, bucket: &str) -> Result<String, DeployError> {
        s3exports_cli::resolve_s3_endpoint(&self.sdk, Some(bucket), true)
            .await
            .map_err(|e| DeployError::Endpoint(format!("the template URL of bucket {bucket}: {e}")))
    }

    /// Throws a planned change set away (for `diff`), and the empty stack a CREATE left.
    pub async fn discard(&self, plan: &Plan) -> Result<(), DeployError> {
        if let Some(id) = &plan.change_set {
            self.cfn.delete_change_set().change_set_name(id).send().await.map_err(aws("deleting the change set"))?;
        }
        if plan.create && phase(self.stack_status(&plan.stack).await?.as_deref()) == Phase::Review {
            self.cfn.delete_stack().stack_name(&plan.stack).send().await.map_err(aws("removing the reviewed stack"))?;
        }
        Ok(())
    }

    /// Executes a planned change set and streams the stack's events until it settles.
    pub async fn execute(&self, plan: &Plan, out: &mut impl Write) -> Result<(), DeployError> {
        let Some(id) = &plan.change_set else { return Ok(()) };
        let started = DateTime::from(std::time::SystemTime::now());
        self.cfn
            .execute_change_set()
            .change_set_name(id)
            .send()
            .await
            .map_err(aws(format!("executing the change set of {}", plan.stack)))?;
        self.follow(&plan.stack, started, plan.changes.len(), out).await
    }

    /// Deletes a stack and waits until it is gone.
    pub async fn destroy(&self, stack: &str, out: &mut impl Write) -> Result<bool, DeployError> {
        if phase(self.stack_status(stack).await?.as_deref()) == Phase::Missing {
            return Ok(false);
        }
        let started = DateTime::from(std::time::SystemTime::now());
        self.cfn.delete_stack().stack_name(stack).send().await.map_err(aws(format!("deleting {stack}")))?;
        let total = self
            .cfn
            .describe_stack_resources()
            .stack_name(stack)
            .send()
            .await
            .map(|r| r.stack_resources().len())
            .unwrap_or(0);
        self.follow(stack, started, total, out).await?;
        Ok(true)
    }

    async fn follow(
        &self,
        stack: &str,
        since: DateTime,
        total: usize,
        out: &mut impl Write,
    ) -> Result<(), DeployError> {
        let mut seen = HashSet::new();
        let mut done = 0usize;
        let mut failures = Vec::new();
        let mut wait = Poll::new();
        loop {
            let status = self.stack_status(stack).await?;
            // Events come newest first; print the new ones oldest first.
            let events = match self.cfn.describe_stack_events().stack_name(stack).send().await {
                Ok(events) => events.stack_events().to_vec(),
                Err(e) if e.message().is_some_and(|m| m.contains("does not exist")) => Vec::new(),
                Err(e) => return Err(aws(format!("reading events of {stack}"))(e)),
            };
            for e in events.iter().rev() {
                let id = e.event_id().unwrap_or_default().to_owned();
                if e.timestamp().is_some_and(|t| t.secs() < since.secs()) || !seen.insert(id) {
                    continue;
                }
                let logical = e.logical_resource_id().unwrap_or_default();
                let state = e.resource_status().map(|s| s.as_str()).unwrap_or_default();
                if logical != stack && state.ends_with("_COMPLETE") {
                    done += 1;
                }
                if state.ends_with("_FAILED") {
                    failures.push(format!("{logical}: {}", e.resource_status_reason().unwrap_or("no reason given")));
                }
                let _ = writeln!(
                    out,
                    "  [{done:>3}/{total}] {:<20} {:<44} {}{}",
                    state,
                    logical,
                    e.resource_type().unwrap_or_default(),
                    e.resource_status_reason().map(|r| format!("  ({r})")).unwrap_or_default()
                );
            }
            match phase(status.as_deref()) {
                Phase::Busy | Phase::Review => wait.sleep().await,
                Phase::Stable | Phase::Missing => return Ok(()),
                Phase::Failed | Phase::Unusable => {
                    return Err(DeployError::Failed {
                        stack: stack.to_owned(),
                        status: status.unwrap_or_default(),
                        reasons: if failures.is_empty() { "see the stack events".into() } else { failures.join("; ") },
                    });
                }
            }
        }
    }
}

/// Polls quickly first (emulators answer at once), then backs off to 5 s.
struct Poll(Duration);

impl Poll {
    fn new() -> Self {
        Self(Duration::from_millis(200))
    }

    async fn sleep(&mut self) {
        tokio::time::sleep(self.0).await;
        self.0 = (self.0 * 2).min(Duration::from_secs(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_from_status() {
        assert_eq!(phase(None), Phase::Missing);
        assert_eq!(phase(Some("REVIEW_IN_PROGRESS")), Phase::Review);
        assert_eq!(phase(Some("CREATE_IN_PROGRESS")), Phase::Busy);
        assert_eq!(phase(Some("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")), Phase::Busy);
        assert_eq!(phase(Some("CREATE_COMPLETE")), Phase::Stable);
        assert_eq!(phase(Some("UPDATE_COMPLETE")), Phase::Stable);
        assert_eq!(phase(Some("ROLLBACK_COMPLETE")), Phase::Unusable);
        assert_eq!(phase(Some("UPDATE_ROLLBACK_COMPLETE")), Phase::Failed);
        assert_eq!(phase(Some("DELETE_COMPLETE")), Phase::Missing);
    }

    #[test]
    fn no_change_reasons() {
        assert!(means_no_changes(
            "The submitted information didn't contain changes. Submit different information to create a change set."
        ));
        assert!(means_no_changes("No updates are to be performed."));
        assert!(!means_no_changes("Template format error"));
    }

    #[test]
    fn a_change_set_that_replaces_a_bucket_is_found() {
        let change = |logical: &str, kind: &str, replacement: &str| ResourceChange {
            action: "Modify".into(),
            logical_id: logical.into(),
            resource_type: kind.into(),
            replacement: replacement.into(),
        };
        let plan = Plan {
            stack: "db".into(),
            create: false,
            change_set: Some("cs".into()),
            changes: vec![
                change("ExportBucket", "AWS::S3::Bucket", "False"),
                change("ExportRole", "AWS::IAM::Role", "True"),
            ],
        };
        assert!(bucket_replacements(std::slice::from_ref(&plan)).is_empty());
        let replacing = Plan { changes: vec![change("ExportBucket", "AWS::S3::Bucket", "True")], ..plan };
        assert_eq!(bucket_replacements(&[replacing]), ["db.ExportBucket (replacement: True)"]);
    }

    #[test]
    fn compliance_asks_only_the_first_time() {
        use s3exports_config::ObjectLock;
        let text = "environment = \"prod\"\ngit_branch = \"main\"\n[defaults]\nobject_lock = \"compliance\"\n\
                    [[databases]]\ndb_name = \"a\"\ns3_bucket_name = \"a-exports\"\n\
                    [[databases]]\ndb_name = \"b\"\ns3_bucket_name = \"b-exports\"\nobject_lock = \"governance\"\n";
        let config = s3exports_config::parse("prod.toml", text).unwrap().config;
        assert_eq!(first_compliance(&config, |_| None), ["a"]);
        assert_eq!(first_compliance(&config, |_| Some(ObjectLock::Governance)), ["a"]);
        assert!(first_compliance(&config, |_| Some(ObjectLock::Compliance)).is_empty());
    }
}
