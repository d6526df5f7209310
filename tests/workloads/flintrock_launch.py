#!/usr/bin/env python3
"""A Flintrock-like cluster launch (seed 003): the calls Flintrock makes to start a Spark
master on EC2 with an instance profile. Uses whatever credentials, region and endpoint the
environment gives (iam-prune sets them per trial). Exits non-zero on any AWS error, printing
botocore's message (which names the denied action) to stderr."""
import os
import sys

import boto3
import botocore.exceptions

PROFILE = os.environ.get("FLINTROCK_INSTANCE_PROFILE", "flintrock-profile")
AMI = os.environ.get("FLINTROCK_AMI", "ami-12c6146b")


def main():
    ec2 = boto3.client("ec2")
    iam = boto3.client("iam")
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
    if not vpcs:
        print("no default VPC", file=sys.stderr)
        return 2
    profile = iam.get_instance_profile(InstanceProfileName=PROFILE)["InstanceProfile"]
    run = ec2.run_instances(
        ImageId=AMI,
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.micro",
        IamInstanceProfile={"Arn": profile["Arn"]},
    )
    ids = [i["InstanceId"] for i in run["Instances"]]
    ec2.create_tags(Resources=ids, Tags=[{"Key": "flintrock-role", "Value": "master"}])
    desc = ec2.describe_instances(InstanceIds=ids)
    print("launched", ids, "in", vpcs[0]["VpcId"], "state", desc["Reservations"][0]["Instances"][0]["State"]["Name"])
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except botocore.exceptions.ClientError as e:
        print(f"botocore.exceptions.ClientError: {e}", file=sys.stderr)
        sys.exit(1)
