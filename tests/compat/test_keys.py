"""boto3 against strongroom dev: key management beyond the spine (tags, rotation)."""

import pytest
from botocore.exceptions import ClientError


def error_code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def test_tags_with_the_paginator(kms, key_arn):
    kms.tag_resource(KeyId=key_arn, Tags=[{"TagKey": f"k{i}", "TagValue": str(i)} for i in range(7)])
    kms.untag_resource(KeyId=key_arn, TagKeys=["k3"])
    pages = kms.get_paginator("list_resource_tags").paginate(KeyId=key_arn, PaginationConfig={"PageSize": 2})
    tags = [(t["TagKey"], t["TagValue"]) for page in pages for t in page["Tags"]]
    assert tags == [(f"k{i}", str(i)) for i in range(7) if i != 3]
    with pytest.raises(ClientError) as e:
        kms.tag_resource(KeyId=key_arn, Tags=[{"TagKey": "aws:x", "TagValue": "y"}])
    assert error_code(e) == "TagException"
