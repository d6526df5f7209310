#!/usr/bin/env python3
"""A workload that needs a long-lived access key (for `prune --principal user`).

It refuses temporary credentials, as programs that store or rotate their own keys do, then
calls `sts:GetSessionToken` (which AWS refuses to session credentials), and with its own key
lists VPCs and buckets. Endpoint and region come from the environment iam-prune sets."""
import os
import sys

import boto3
from botocore.exceptions import ClientError

if os.environ.get("AWS_SESSION_TOKEN"):
    print("needs a long-lived access key, got temporary credentials", file=sys.stderr)
    sys.exit(3)
if not os.environ.get("AWS_ACCESS_KEY_ID", "").startswith("AKIA"):
    print("needs a long-lived access key (AKIA...)", file=sys.stderr)
    sys.exit(3)

session = boto3.session.Session()
try:
    session.client("sts").get_session_token(DurationSeconds=900)
    session.client("ec2").describe_vpcs()
    session.client("s3").list_buckets()
except ClientError as e:
    print(e, file=sys.stderr)
    sys.exit(1)
print("ok")
