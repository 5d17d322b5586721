"""The calls the hashicorp/aws Terraform provider makes for `aws_kms_key`,
`aws_kms_alias` and `aws_kms_grant`, replayed with boto3.

Each helper below is one function of terraform-provider-aws
`internal/service/kms` (key.go, alias.go, grant.go, tags_gen.go), in the
provider's order, reading exactly the fields the provider reads:

aws_kms_key
  create  CreateKey(BypassPolicyLockoutSafetyCheck, CustomerMasterKeySpec,
            KeyUsage, Tags, Description, Policy)
          EnableKeyRotation(RotationPeriodInDays) if enable_key_rotation,
            then GetKeyRotationStatus polled (5 answers in a row agree)
          DisableKey if !is_enabled, then DescribeKey polled (15 in a row)
          GetKeyPolicy(PolicyName=default) polled until equivalent (5 in a row)
          ListResourceTags (paginated) polled until equal (5 in a row)
          then read
  read    DescribeKey (PendingDeletion counts as gone)
          GetKeyPolicy(PolicyName=default)
          GetKeyRotationStatus (Origin AWS_KMS only)
          ListResourceTags (paginated)
  update  EnableKey (if enabling), Enable/DisableKeyRotation + poll,
          UpdateKeyDescription + DescribeKey polled (5),
          PutKeyPolicy(PolicyName=default) + GetKeyPolicy polled (5),
          DisableKey (if disabling) + DescribeKey polled (15),
          UntagResource / TagResource + ListResourceTags polled (5), then read
  destroy ScheduleKeyDeletion(PendingWindowInDays), then DescribeKey until
          the key is gone or PendingDeletion; NotFoundException, or
          KMSInvalidStateException saying "is pending deletion", count as done
aws_kms_alias
  create  CreateAlias, then read
  read    ListAliases (paginated, no KeyId), the entry of that name:
          AliasArn, AliasName, TargetKeyId; target_key_arn is the alias ARN
          with `alias/NAME` replaced by `key/TargetKeyId`
  update  UpdateAlias, then read
  destroy DeleteAlias (NotFoundException counts as done)
aws_kms_grant
  create  CreateGrant(GranteePrincipal, KeyId, Operations, Constraints,
            GrantTokens, Name, RetiringPrincipal), then read
  read    ListGrants(KeyId, Limit=100) (paginated), the entry with that
          GrantId; its principals must be ARNs or service principals (the
          provider retries otherwise)
  destroy RevokeGrant (or RetireGrant with retire_on_delete), then
          ListGrants until the grant is gone
"""

import json

import pytest
from botocore.exceptions import ClientError

# The provider's waiters need this many equal answers in a row.
POLL_POLICY = POLL_TAGS = POLL_ROTATION = POLL_DESCRIPTION = 5
POLL_STATE = 15


def error_code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def policy_doc(account: str, sid: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Id": "terraform",
            "Statement": [
                {
                    "Sid": sid,
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        },
        separators=(",", ":"),
        sort_keys=True,
    )


def normalized(policy: str) -> str:
    """structure.NormalizeJsonString: parse and re-encode."""
    return json.dumps(json.loads(policy), separators=(",", ":"), sort_keys=True)


def list_tags(kms, key_id) -> dict:
    tags = {}
    for page in kms.get_paginator("list_resource_tags").paginate(KeyId=key_id):
        assert "Tags" in page, "ListResourceTags must always return Tags (AWS does)"
        tags.update({t["TagKey"]: t["TagValue"] for t in page["Tags"]})
    return tags


def find_key(kms, key_id):
    """findKeyByID: None when gone or pending deletion."""
    try:
        meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    except ClientError as e:
        if e.response["Error"]["Code"] == "NotFoundException":
            return None
        raise
    if meta["KeyState"] in ("PendingDeletion", "PendingReplicaDeletion"):
        return None
    return meta


def poll(check, times: int):
    """tfresource.WaitUntil with ContinuousTargetOccurence=times."""
    for _ in range(times):
        assert check()


def wait_rotation(kms, key_id, enabled: bool, period: int):
    def check():
        status = kms.get_key_rotation_status(KeyId=key_id)
        if period and status.get("RotationPeriodInDays") is not None:
            return status["KeyRotationEnabled"] == enabled and status["RotationPeriodInDays"] == period
        return status["KeyRotationEnabled"] == enabled

    poll(check, POLL_ROTATION)


def wait_policy(kms, key_id, policy: str):
    poll(
        lambda: normalized(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]) == normalized(policy),
        POLL_POLICY,
    )


def wait_tags(kms, key_id, tags: dict):
    poll(lambda: list_tags(kms, key_id) == tags, POLL_TAGS)


def wait_enabled(kms, key_id, enabled: bool):
    poll(lambda: find_key(kms, key_id)["Enabled"] == enabled, POLL_STATE)


def key_create(kms, cfg: dict) -> str:
    args = {
        "BypassPolicyLockoutSafetyCheck": False,
        "CustomerMasterKeySpec": cfg.get("customer_master_key_spec", "SYMMETRIC_DEFAULT"),
        "KeyUsage": cfg.get("key_usage", "ENCRYPT_DECRYPT"),
    }
    if cfg.get("tags"):
        args["Tags"] = [{"TagKey": k, "TagValue": v} for k, v in cfg["tags"].items()]
    if cfg.get("description"):
        args["Description"] = cfg["description"]
    if cfg.get("policy"):
        args["Policy"] = normalized(cfg["policy"])
    key_id = kms.create_key(**args)["KeyMetadata"]["KeyId"]
    if cfg.get("enable_key_rotation"):
        rotation = {"KeyId": key_id}
        if cfg.get("rotation_period_in_days"):
            rotation["RotationPeriodInDays"] = cfg["rotation_period_in_days"]
        kms.enable_key_rotation(**rotation)
        wait_rotation(kms, key_id, True, cfg.get("rotation_period_in_days", 0))
    if not cfg.get("is_enabled", True):
        kms.disable_key(KeyId=key_id)
        wait_enabled(kms, key_id, False)
    if cfg.get("policy"):
        wait_policy(kms, key_id, cfg["policy"])
    if cfg.get("tags"):
        wait_tags(kms, key_id, cfg["tags"])
    return key_id


def key_read(kms, key_id):
    """resourceKeyRead: the state Terraform records, or None if gone."""
    meta = find_key(kms, key_id)
    if meta is None:
        return None
    if meta.get("MultiRegion"):
        assert meta["MultiRegionConfiguration"]["MultiRegionKeyType"] == "PRIMARY"
    policy = kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]
    rotation, period = None, None
    if meta["Origin"] == "AWS_KMS":
        status = kms.get_key_rotation_status(KeyId=key_id)
        rotation, period = status["KeyRotationEnabled"], status.get("RotationPeriodInDays")
    return {
        "arn": meta["Arn"],
        "custom_key_store_id": meta.get("CustomKeyStoreId"),
        "customer_master_key_spec": meta["CustomerMasterKeySpec"],
        "description": meta["Description"],
        "enable_key_rotation": rotation,
        "is_enabled": meta["Enabled"],
        "key_id": meta["KeyId"],
        "key_usage": meta["KeyUsage"],
        "multi_region": meta["MultiRegion"],
        "rotation_period_in_days": period,
        "xks_key_id": (meta.get("XksKeyConfiguration") or {}).get("Id"),
        "policy": normalized(policy),
        "tags_all": list_tags(kms, key_id),
    }


def key_destroy(kms, key_id, window: int = 7):
    try:
        kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=window)
    except ClientError as e:
        code, message = e.response["Error"]["Code"], e.response["Error"]["Message"]
        if code == "NotFoundException" or (code == "KMSInvalidStateException" and "is pending deletion" in message):
            return
        raise
    # waitKeyDeleted: pending states Enabled/Disabled, target "gone".
    assert find_key(kms, key_id) is None


def alias_read(kms, name):
    for page in kms.get_paginator("list_aliases").paginate():
        for alias in page["Aliases"]:
            if alias["AliasName"] == name:
                arn, target = alias["AliasArn"], alias["TargetKeyId"]
                prefix, _, resource = arn.partition(":alias/")
                assert resource == name[len("alias/"):], arn
                return {
                    "arn": arn,
                    "name": alias["AliasName"],
                    "target_key_arn": f"{prefix}:key/{target}",
                    "target_key_id": target,
                }
    return None


def grant_read(kms, key_id, grant_id):
    for page in kms.get_paginator("list_grants").paginate(KeyId=key_id, PaginationConfig={"PageSize": 100}):
        for g in page["Grants"]:
            if g["GrantId"] == grant_id:
                for principal in (g.get("GranteePrincipal"), g.get("RetiringPrincipal")):
                    if principal:
                        assert principal.startswith("arn:") or principal.endswith(".amazonaws.com"), principal
                return {
                    "constraints": g.get("Constraints"),
                    "grant_id": g["GrantId"],
                    "grantee_principal": g.get("GranteePrincipal"),
                    "name": g.get("Name") or None,
                    "operations": sorted(g["Operations"]),
                    "retiring_principal": g.get("RetiringPrincipal"),
                }
    return None


@pytest.fixture()
def account(kms):
    return kms.describe_key(KeyId=kms.create_key()["KeyMetadata"]["KeyId"])["KeyMetadata"]["AWSAccountId"]


def test_aws_kms_key_with_every_argument_creates_reads_without_drift_updates_and_destroys(kms, account):
    cfg = {
        "description": "terraform key",
        "policy": policy_doc(account, "Enable IAM User Permissions"),
        "tags": {"Name": "tf", "env": "test"},
        "enable_key_rotation": True,
        "rotation_period_in_days": 180,
        "is_enabled": False,
    }
    key_id = key_create(kms, cfg)
    state = key_read(kms, key_id)
    assert state["arn"].endswith(f":key/{key_id}") and state["arn"].startswith("arn:aws:kms:")
    assert state["key_id"] == key_id
    assert state["customer_master_key_spec"] == "SYMMETRIC_DEFAULT"
    assert state["key_usage"] == "ENCRYPT_DECRYPT"
    assert state["description"] == "terraform key"
    assert state["is_enabled"] is False
    assert state["multi_region"] is False
    assert state["custom_key_store_id"] is None and state["xks_key_id"] is None
    assert state["enable_key_rotation"] is True
    assert state["rotation_period_in_days"] == 180
    assert state["policy"] == normalized(cfg["policy"])
    assert state["tags_all"] == cfg["tags"]
    # terraform plan right after apply: a second read, identical.
    assert key_read(kms, key_id) == state

    # Update in the provider's order: enable first, disable last.
    kms.enable_key(KeyId=key_id)
    wait_enabled(kms, key_id, True)
    kms.disable_key_rotation(KeyId=key_id)
    wait_rotation(kms, key_id, False, 0)
    kms.update_key_description(KeyId=key_id, Description="renamed")
    poll(lambda: find_key(kms, key_id)["Description"] == "renamed", POLL_DESCRIPTION)
    new_policy = policy_doc(account, "Second")
    kms.put_key_policy(
        KeyId=key_id, PolicyName="default", Policy=normalized(new_policy), BypassPolicyLockoutSafetyCheck=False
    )
    wait_policy(kms, key_id, new_policy)
    kms.untag_resource(KeyId=key_id, TagKeys=["env"])
    kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "Name", "TagValue": "tf2"}])
    wait_tags(kms, key_id, {"Name": "tf2"})
    updated = key_read(kms, key_id)
    assert updated["is_enabled"] is True and updated["enable_key_rotation"] is False
    assert updated["description"] == "renamed" and updated["tags_all"] == {"Name": "tf2"}
    assert updated["policy"] == normalized(new_policy)
    assert key_read(kms, key_id) == updated

    key_destroy(kms, key_id, window=7)
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "PendingDeletion" and meta["PendingDeletionWindowInDays"] == 7
    # A refresh after destroy drops it from state; destroying again is done too.
    assert key_read(kms, key_id) is None
    key_destroy(kms, key_id)


def test_aws_kms_key_with_defaults_reads_the_default_policy_and_no_tags_without_drift(kms):
    key_id = key_create(kms, {})
    state = key_read(kms, key_id)
    assert state["description"] == ""
    assert state["enable_key_rotation"] is False
    assert state["tags_all"] == {}
    policy = json.loads(state["policy"])
    assert policy["Statement"], policy
    assert key_read(kms, key_id) == state
    key_destroy(kms, key_id)
    assert key_read(kms, key_id) is None


def test_aws_kms_key_destroy_of_a_missing_key_counts_as_done(kms):
    key_destroy(kms, "00000000-0000-4000-8000-000000000000")


def test_aws_kms_alias_creates_reads_without_drift_retargets_and_destroys(kms):
    first = key_create(kms, {"description": "alias target 1"})
    second = key_create(kms, {"description": "alias target 2"})
    first_arn = key_read(kms, first)["arn"]
    name = "alias/terraform-sequence"
    kms.create_alias(AliasName=name, TargetKeyId=first_arn)
    state = alias_read(kms, name)
    assert state["name"] == name and state["target_key_id"] == first
    assert state["target_key_arn"] == first_arn
    assert state["arn"] == first_arn.replace(f":key/{first}", f":{name}")
    assert alias_read(kms, name) == state

    kms.update_alias(AliasName=name, TargetKeyId=second)
    moved = alias_read(kms, name)
    assert moved["target_key_id"] == second and moved["target_key_arn"] == key_read(kms, second)["arn"]
    assert alias_read(kms, name) == moved

    kms.delete_alias(AliasName=name)
    assert alias_read(kms, name) is None
    with pytest.raises(ClientError) as e:
        kms.delete_alias(AliasName=name)
    assert error_code(e) == "NotFoundException"  # the provider counts this as done
    for key_id in (first, second):
        key_destroy(kms, key_id)


@pytest.mark.parametrize("retire_on_delete", [False, True])
def test_aws_kms_grant_creates_reads_without_drift_and_destroys(kms, account, retire_on_delete):
    key_id = key_create(kms, {"description": "grant target"})
    key_arn = key_read(kms, key_id)["arn"]
    grantee = f"arn:aws:iam::{account}:role/app"
    retiring = f"arn:aws:iam::{account}:root"
    out = kms.create_grant(
        GranteePrincipal=grantee,
        KeyId=key_id,
        Operations=["Encrypt", "Decrypt", "GenerateDataKey"],
        Constraints={"EncryptionContextSubset": {"app": "tf"}},
        Name="terraform-grant",
        RetiringPrincipal=retiring,
    )
    grant_id = out["GrantId"]
    assert out["GrantToken"]
    state = grant_read(kms, key_id, grant_id)
    assert state == {
        "constraints": {"EncryptionContextSubset": {"app": "tf"}},
        "grant_id": grant_id,
        "grantee_principal": grantee,
        "name": "terraform-grant",
        "operations": ["Decrypt", "Encrypt", "GenerateDataKey"],
        "retiring_principal": retiring,
    }
    # The import ID may be KEY_ARN:GRANT_ID: ListGrants takes the ARN too.
    assert grant_read(kms, key_arn, grant_id) == state
    assert grant_read(kms, key_id, grant_id) == state

    if retire_on_delete:
        kms.retire_grant(GrantId=grant_id, KeyId=key_arn)
    else:
        kms.revoke_grant(GrantId=grant_id, KeyId=key_id)
    assert grant_read(kms, key_id, grant_id) is None
    with pytest.raises(ClientError) as e:
        kms.revoke_grant(GrantId=grant_id, KeyId=key_id)
    assert error_code(e) == "NotFoundException"  # the provider counts this as done
    key_destroy(kms, key_id)
