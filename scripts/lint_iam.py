"""Lints every IAM policy in synthesized CloudFormation templates with parliament (an IAM linter
that knows every action, resource type and condition key): role policies, managed policies,
trust policies, and the bucket, key, queue and topic policies.

Intrinsic functions are resolved to values of the right shape (an SQS queue's Arn is an SQS ARN),
so parliament can match actions to resource types. Any finding fails, unless it is listed in
EXCEPTIONS below with the reason it is accepted: the one place exceptions live.

Usage: lint_iam.py DIR...   (folders of *.template.json, as `infra synth` writes them)
"""

import json
import re
import sys
from pathlib import Path

from parliament import analyze_policy_string

PARTITION, REGION, ACCOUNT = "aws", "us-east-1", "123456789012"

# (issue, text in the finding's location or detail) -> why it is accepted. The one place
# exceptions live; keep each justified.
EXCEPTIONS = {
    ("RESOURCE_STAR", ".KeyPolicy:"):
        "in a key policy, Resource * means the key itself (KMS developer guide, key policies)",
    ("MALFORMED", ".AssumeRolePolicyDocument"):
        "a trust policy names a Principal and no Resource, by design",
    ("UNKNOWN_CONDITION_FOR_ACTION", "kms:ResourceAliases"):
        "kms:ResourceAliases is a KMS condition key (KMS developer guide, 'kms:ResourceAliases') newer than "
        "parliament's action database; it scopes grants to this project's key aliases",
    ("UNKNOWN_CONDITION_FOR_ACTION", "kms:EncryptionContext:aws:logs:arn"):
        "AWS's documented key policy for CloudWatch Logs encryption, verbatim (Logs user guide, "
        "'Encrypt log data in CloudWatch Logs using AWS KMS')",
    ("MISMATCHED_TYPE", "ArnLike requires a value of type Arn"):
        "the same documented CloudWatch Logs statement uses ArnLike on kms:EncryptionContext:aws:logs:arn",
    ("RESOURCE_MISMATCH", "s3:GetObjectAttributes"):
        "s3:GetObject* is AWS's documented export role policy (RDS user guide, snapshot export); parliament's "
        "database lists only access points for GetObjectAttributes, which also takes objects",
    ("RESOURCE_STAR", "ec2:CreateNetworkInterface"):
        "Lambda's VPC access (AWSLambdaVPCAccessExecutionRole) grants these on *; pinned to the region",
}

ARN_OF = {
    "AWS::SQS::Queue": "arn:{p}:sqs:{r}:{a}:{name}",
    "AWS::SNS::Topic": "arn:{p}:sns:{r}:{a}:{name}",
    "AWS::KMS::Key": "arn:{p}:kms:{r}:{a}:key/00000000-0000-0000-0000-000000000000",
    "AWS::Logs::LogGroup": "arn:{p}:logs:{r}:{a}:log-group:{name}:*",
    "AWS::IAM::Role": "arn:{p}:iam::{a}:role/{name}",
    "AWS::S3::Bucket": "arn:{p}:s3:::{name}",
    "AWS::Lambda::Function": "arn:{p}:lambda:{r}:{a}:function:{name}",
    "AWS::Glue::Database": "arn:{p}:glue:{r}:{a}:database/{name}",
    "AWS::Glue::Crawler": "arn:{p}:glue:{r}:{a}:crawler/{name}",
    "AWS::Athena::WorkGroup": "arn:{p}:athena:{r}:{a}:workgroup/{name}",
}
PSEUDO = {"AWS::Partition": PARTITION, "AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::URLSuffix": "amazonaws.com"}


class Resolver:
    def __init__(self, resources):
        self.resources = resources

    def name(self, logical):
        return logical.lower()

    def arn(self, logical):
        kind = self.resources.get(logical, {}).get("Type", "")
        form = ARN_OF.get(kind, "arn:{p}:unknown:{r}:{a}:{name}")
        return form.format(p=PARTITION, r=REGION, a=ACCOUNT, name=self.name(logical))

    def ref(self, logical):
        if logical in PSEUDO:
            return PSEUDO[logical]
        kind = self.resources.get(logical, {}).get("Type", "")
        # Ref of a topic, role or key gives what policies name them by.
        if kind in ("AWS::SNS::Topic",):
            return self.arn(logical)
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{self.name(logical)}"
        return self.name(logical)

    def sub_variable(self, name):
        """`${AWS::Region}`, `${Logical}` (its Ref) or `${Logical.Attribute}` (its GetAtt)."""
        if name in PSEUDO:
            return PSEUDO[name]
        if "." in name:
            return self.arn(name.split(".", 1)[0])
        return self.ref(name)

    def __call__(self, value):
        if isinstance(value, dict):
            if "Ref" in value:
                return self.ref(value["Ref"])
            if "Fn::GetAtt" in value:
                logical, _attribute = value["Fn::GetAtt"]
                return self.arn(logical)
            if "Fn::Sub" in value:
                text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
                return re.sub(r"\$\{([^}]+)\}", lambda m: self.sub_variable(m.group(1)), text)
            if "Fn::Join" in value:
                sep, parts = value["Fn::Join"]
                return sep.join(str(self(p)) for p in parts)
            if "Fn::If" in value:
                return self(value["Fn::If"][1])
            return {k: self(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self(v) for v in value]
        return value


def policies(template):
    """(location, policy document) of every policy in a template."""
    resources = template.get("Resources", {})
    resolve = Resolver(resources)
    for logical, resource in resources.items():
        props = resource.get("Properties", {})
        kind = resource["Type"]
        if kind == "AWS::IAM::Role":
            yield f"{logical}.AssumeRolePolicyDocument", resolve(props["AssumeRolePolicyDocument"])
            for p in props.get("Policies", []):
                yield f"{logical}.Policies.{p['PolicyName']}", resolve(p["PolicyDocument"])
        elif kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            yield f"{logical}.PolicyDocument", resolve(props["PolicyDocument"])
        elif kind == "AWS::KMS::Key":
            yield f"{logical}.KeyPolicy", resolve(props["KeyPolicy"])
        elif kind in ("AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy"):
            yield f"{logical}.PolicyDocument", resolve(props["PolicyDocument"])


def accepted(finding, location):
    text = f"{location}: {finding.detail}"
    return any(finding.issue == issue and needle in text for (issue, needle) in EXCEPTIONS)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    checked, failures = 0, []
    for folder in sys.argv[1:]:
        for path in sorted(Path(folder).glob("*.template.json")):
            for location, document in policies(json.loads(path.read_text())):
                checked += 1
                for f in analyze_policy_string(json.dumps(document)).findings:
                    if not accepted(f, location):
                        failures.append(f"{path.name} {location}: {f.issue} {f.detail} {f.location}")
    for failure in failures:
        print(failure, file=sys.stderr)
    print(f"parliament: {checked} policies, {len(failures)} finding(s)", file=sys.stderr)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
