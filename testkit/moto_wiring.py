"""What moto's CloudFormation skips, filled in through the service APIs from the synthesized
templates (for the demo and any run that deploys into the emulator).

- `stack_resources`: a deployed stack's logical -> physical ids.
- `Resolver`: Ref, Fn::GetAtt and Fn::Sub of the few shapes these resources use.
- `wire`: the topic's SQS subscriptions with their filter policies, the Glue databases and the
  Athena workgroup, created as the templates declare them; the emulator's Lambda event source
  mappings paused (moto would run the function in Docker; `exporter poll` stands in).
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


def wire(templates):
    sns, glue, athena, awslambda = (boto3.client(s) for s in ("sns", "glue", "athena", "lambda"))
    skipped = set()
    for path in sorted(Path(templates).glob("*.template.json")):
        stack = path.name.removesuffix(".template.json")
        resources = json.loads(path.read_text())["Resources"]
        resolve = Resolver(stack, resources)
        for logical, resource in resources.items():
            kind, props = resource["Type"], resource.get("Properties", {})
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
