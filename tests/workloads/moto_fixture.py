#!/usr/bin/env python3
"""Test fixture for the moto end-to-end tests.

`setup ENDPOINT`: spends moto's unauthenticated actions (INITIAL_NO_AUTH_ACTION_COUNT=3) on
an admin user with access keys, then, as that user, creates the user's own pre-existing
role, policy and instance profile that the Flintrock-like workload uses. Prints the admin's
keys as JSON.

`snapshot ENDPOINT`: prints every role, user and customer policy (documents included), so a test
can check that the user's objects are byte-for-byte unchanged. Needs the admin keys in the
environment."""
import json
import sys

import boto3

TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
S3_READ = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}]}


def client(svc, endpoint, **kw):
    return boto3.client(svc, endpoint_url=endpoint, region_name="us-east-1", **kw)


def setup(endpoint):
    anon = client("iam", endpoint, aws_access_key_id="setup", aws_secret_access_key="setup")
    anon.create_user(UserName="admin")
    anon.attach_user_policy(UserName="admin", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    key = anon.create_access_key(UserName="admin")["AccessKey"]
    creds = dict(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    iam = client("iam", endpoint, **creds)
    iam.create_role(RoleName="flintrock-ec2-role", AssumeRolePolicyDocument=json.dumps(TRUST), Description="the user's own role")
    arn = iam.create_policy(PolicyName="flintrock-s3-read", PolicyDocument=json.dumps(S3_READ))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="flintrock-ec2-role", PolicyArn=arn)
    iam.put_role_policy(RoleName="flintrock-ec2-role", PolicyName="inline", PolicyDocument=json.dumps(S3_READ))
    iam.create_instance_profile(InstanceProfileName="flintrock-profile")
    iam.add_role_to_instance_profile(InstanceProfileName="flintrock-profile", RoleName="flintrock-ec2-role")
    print(json.dumps({"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}))


def snapshot(endpoint):
    iam = client("iam", endpoint)
    out = {"roles": {}, "users": {}, "policies": {}}
    for r in iam.list_roles()["Roles"]:
        name = r["RoleName"]
        out["roles"][name] = {
            "role": iam.get_role(RoleName=name)["Role"],
            "attached": iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"],
            "inline": {p: iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"] for p in iam.list_role_policies(RoleName=name)["PolicyNames"]},
            "tags": iam.list_role_tags(RoleName=name)["Tags"],
        }
    for u in iam.list_users()["Users"]:
        name = u["UserName"]
        out["users"][name] = {
            "user": u,
            "attached": iam.list_attached_user_policies(UserName=name)["AttachedPolicies"],
            "inline": iam.list_user_policies(UserName=name)["PolicyNames"],
            "keys": [(k["AccessKeyId"], k["Status"]) for k in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]],
            "tags": iam.list_user_tags(UserName=name)["Tags"],
        }
    for p in iam.list_policies(Scope="Local")["Policies"]:
        versions = iam.list_policy_versions(PolicyArn=p["Arn"])["Versions"]
        out["policies"][p["Arn"]] = {
            "policy": p,
            "versions": [iam.get_policy_version(PolicyArn=p["Arn"], VersionId=v["VersionId"])["PolicyVersion"] for v in versions],
        }
    print(json.dumps(out, default=str, sort_keys=True))


if __name__ == "__main__":
    {"setup": setup, "snapshot": snapshot}[sys.argv[1]](sys.argv[2])
