"""What moto's CloudFormation skips, filled in through the service APIs from the synthesized
templates (for the demo and any run that deploys into the emulator).

- `stack_resources`: a deployed stack's logical -> physical ids.
- `Resolver`: Ref, Fn::GetAtt and Fn::Sub of the few shapes these resources use.
- `wire`: the topic's SQS subscriptions with their filter policies, the Glue databases and the
  Athena workgroup, created as the templates declare them; the buckets' versioning, Object
  Lock, lifecycle and public access blocks, which moto's CloudFormation ignores, applied as
  declared; the emulator's Lambda event
  source mappings paused (moto would run the function in Docker; `exporter poll` stands in).
"""

import json
import sys
from pathlib import Path

import boto3


def say(text):
    print(f"    {text}", file=sys.stderr)


def stack_resources(cfn, stack):
    pages = cfn.get_paginator("list_stack_resources").paginate(StackName=stack)
    return {r["LogicalResourceId"]: r.get("PhysicalResourceId", "") for p in pages for r in p["StackResourceSummaries"]}


class Resolver:
    """Ref and Fn::GetAtt of the few shapes these resources use, against a deployed stack."""

    def __init__(self, stack, resources):
        self.types = {logical: r["Type"] for logical, r in resources.items()}
        self.physical = stack_resources(boto3.client("cloudformation"), stack)
        self.account = boto3.client("sts").get_caller_identity()["Account"]

    def __call__(self, value):
        if isinstance(value, dict) and "Ref" in value:
            return self.account if value["Ref"] == "AWS::AccountId" else self.physical[value["Ref"]]
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            logical, attribute = value["Fn::GetAtt"]
            kind, physical = self.types[logical], self.physical[logical]
            if (kind, attribute) == ("AWS::SQS::Queue", "Arn"):
                return boto3.client("sqs").get_queue_attributes(QueueUrl=physical,
                                                                AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            if (kind, attribute) == ("AWS::KMS::Key", "Arn"):
                # Built, not described: moto's DescribeKey fails on keys its CloudFormation made.
                return f"arn:aws:kms:{boto3.client('kms').meta.region_name}:{self.account}:key/{physical}"
            raise ValueError(f"cannot resolve {value}")
        if isinstance(value, dict) and "Fn::Sub" in value:
            text = value["Fn::Sub"]
            for logical, physical in self.physical.items():
                text = text.replace(f"${{{logical}}}", physical)
            return text
        if isinstance(value, dict):
            return {k: self(v) for k, v in value.items()}
        return value


# The CloudFormation Rule properties lifecycle_rule translates; any other one is refused, so a
# template change can never be dropped on its way to the emulator.
RULE_PROPERTIES = {"Id", "Status", "Prefix", "Transitions", "ExpirationInDays", "ExpiredObjectDeleteMarker",
                   "NoncurrentVersionExpiration", "AbortIncompleteMultipartUpload"}


def lifecycle_rule(rule):
    """A CloudFormation lifecycle rule in the API's shape: `Prefix` becomes the filter (the
    evidence-keeping rules filter the archive transition on the export folders), and
    ExpiredObjectDeleteMarker, which S3 refuses beside a number of days, gets its own Expiration."""
    unknown = sorted(set(rule) - RULE_PROPERTIES)
    if unknown:
        raise ValueError(f"lifecycle rule {rule.get('Id')}: moto_wiring cannot translate {', '.join(unknown)}")
    out = {"ID": rule["Id"], "Status": rule["Status"], "Filter": {"Prefix": rule.get("Prefix", "")}}
    if "Transitions" in rule:
        for t in rule["Transitions"]:
            if set(t) != {"StorageClass", "TransitionInDays"}:
                raise ValueError(f"lifecycle rule {rule['Id']}: transition {t} is not one of days")
        out["Transitions"] = [{"Days": t["TransitionInDays"], "StorageClass": t["StorageClass"]}
                              for t in rule["Transitions"]]
    if "ExpirationInDays" in rule and rule.get("ExpiredObjectDeleteMarker"):
        raise ValueError(f"lifecycle rule {rule['Id']}: ExpiredObjectDeleteMarker beside ExpirationInDays, "
                         "which S3 refuses")
    if "ExpirationInDays" in rule:
        out["Expiration"] = {"Days": rule["ExpirationInDays"]}
    if rule.get("ExpiredObjectDeleteMarker"):
        out["Expiration"] = {"ExpiredObjectDeleteMarker": True}
    if "NoncurrentVersionExpiration" in rule:
        out["NoncurrentVersionExpiration"] = {"NoncurrentDays": rule["NoncurrentVersionExpiration"]["NoncurrentDays"]}
    if "AbortIncompleteMultipartUpload" in rule:
        out["AbortIncompleteMultipartUpload"] = rule["AbortIncompleteMultipartUpload"]
    return out


def bucket_settings(s3, where, bucket, props):
    """Versioning, Object Lock, lifecycle and public access blocks as the template declares them
    (moto's CloudFormation skips them)."""
    if "PublicAccessBlockConfiguration" in props:
        s3.put_public_access_block(Bucket=bucket,
                                   PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"])
    if "LifecycleConfiguration" in props:
        rules = [lifecycle_rule(r) for r in props["LifecycleConfiguration"]["Rules"]]
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
        say(f"{where}: lifecycle on {bucket}: " + ", ".join(r["ID"] for r in rules))
    if props.get("VersioningConfiguration", {}).get("Status") == "Enabled":
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        say(f"{where}: versioning on {bucket}")
    lock = props.get("ObjectLockConfiguration", {})
    if lock and props.get("ObjectLockEnabled") is not True:
        raise ValueError(f"{where}: ObjectLockConfiguration without ObjectLockEnabled: true")
    if lock.get("ObjectLockEnabled") == "Enabled":
        # As declared: enabled, no default retention (the cataloguer seals each export itself).
        s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
        say(f"{where}: Object Lock on {bucket}")


def wire(templates):
    sns, glue, athena, awslambda, s3 = (boto3.client(s) for s in ("sns", "glue", "athena", "lambda", "s3"))
    skipped = set()
    for path in sorted(Path(templates).glob("*.template.json")):
        stack = path.name.removesuffix(".template.json")
        resources = json.loads(path.read_text())["Resources"]
        resolve = Resolver(stack, resources)
        for logical, resource in resources.items():
            kind, props = resource["Type"], resource.get("Properties", {})
            if kind == "AWS::S3::Bucket" and resolve.physical.get(logical):
                bucket_settings(s3, f"{stack}/{logical}", resolve.physical[logical], props)
            if resolve.physical.get(logical):
                continue
            if kind == "AWS::SNS::Subscription":
                attributes = {}
                if "FilterPolicy" in props:
                    attributes = {"FilterPolicy": json.dumps(props["FilterPolicy"]),
                                  "FilterPolicyScope": props.get("FilterPolicyScope", "MessageAttributes")}
                endpoint = resolve(props["Endpoint"])
                sns.subscribe(TopicArn=resolve(props["TopicArn"]), Protocol=props["Protocol"], Endpoint=endpoint,
                              Attributes=attributes)
                what = f" with filter {attributes['FilterPolicy']}" if attributes else ""
                say(f"{stack}/{logical}: topic -> {endpoint.rsplit(':', 1)[-1]}{what}")
            elif kind == "AWS::Glue::Database":
                glue.create_database(CatalogId=resolve(props["CatalogId"]), DatabaseInput=props["DatabaseInput"])
                say(f"{stack}/{logical}: Glue database {props['DatabaseInput']['Name']}")
            elif kind == "AWS::Athena::WorkGroup":
                configuration = resolve(props["WorkGroupConfiguration"])
                athena.create_work_group(Name=props["Name"], Description=props.get("Description", ""),
                                         Configuration=configuration)
                say(f"{stack}/{logical}: Athena workgroup {props['Name']}")
            else:
                skipped.add(kind)
    say("not emulated (no effect on the local run): " + ", ".join(sorted(skipped)))
    for mapping in awslambda.list_event_source_mappings()["EventSourceMappings"]:
        awslambda.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
        say(f"paused the emulator's mapping {mapping['EventSourceArn'].rsplit(':', 1)[-1]} -> "
            f"{mapping['FunctionArn'].rsplit(':', 1)[-1]} (exporter poll stands in for it)")
