"""AWS's error answers, checked against botocore's own model of KMS.

For every operation botocore knows, an invalid request is sent (client-side
validation off, so the bad value reaches the server) and the answer must be
an error botocore lists for that operation (or one AWS returns for every
operation), with HTTP 400 and, for ValidationException, AWS's message
format. Then, for every constrained member of every served operation, the
constraint is read from the model (length, value range, pattern,
enumeration) and a value breaking it must be reported in AWS's words.
"""

import re

import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

MODEL = botocore.session.get_session().get_service_model("kms")

# Errors AWS may answer to any operation (API reference, "Common Errors"),
# besides those botocore lists per operation.
COMMON = {
    "ValidationException",
    "AccessDeniedException",
    "UnrecognizedClientException",
    "NotAuthorizedException",
    "ThrottlingException",
    "SerializationException",
}

# Operations Strongroom refuses as a whole (docs/errors.md): their answer is
# UnsupportedOperationException, whatever the input.
UNSUPPORTED = {
    "ConnectCustomKeyStore",
    "CreateCustomKeyStore",
    "Decapsulate",
    "DeleteCustomKeyStore",
    "DescribeCustomKeyStores",
    "DisconnectCustomKeyStore",
    "Encapsulate",
    "GetKeyLastUsage",
    "UpdateCustomKeyStore",
}

# Where AWS enforces a narrower range than its model states (the API
# reference: 7 to 30 days).
NARROWER = {("ScheduleKeyDeletion", "PendingWindowInDays"): (7, 30)}

# Members of the model Strongroom does not take (ignored, as unknown JSON
# members are), so it has no constraint to report for them.
NOT_TAKEN = {
    ("CreateGrant", "GranteeServicePrincipal"),
    ("CreateGrant", "RetiringServicePrincipal"),
    ("DeleteImportedKeyMaterial", "KeyMaterialId"),
    ("ImportKeyMaterial", "ImportType"),
    ("ImportKeyMaterial", "KeyMaterialDescription"),
    ("ImportKeyMaterial", "KeyMaterialId"),
    ("ListGrants", "GranteeServicePrincipal"),
    ("ListKeyRotations", "IncludeKeyMaterial"),
    ("ListKeys", "ResourceOwners"),
    ("ListRetirableGrants", "RetiringServicePrincipal"),
    ("Decrypt", "DryRunModifiers"),
    ("ReEncrypt", "DryRunModifiers"),
}

VIOLATION = r"Value (null|'.*?') at '[a-z][A-Za-z0-9]*(\.[A-Za-z0-9]+)*' failed to satisfy constraint: Member must [^;]+"
MESSAGE = re.compile(rf"^(\d+) validation errors? detected: {VIOLATION}(; {VIOLATION})*$", re.S)


def camel(name: str) -> str:
    return name[0].lower() + name[1:]


@pytest.fixture()
def raw(server):
    """A client that sends what it is given: no client-side validation."""
    return server.client(parameter_validation=False)


def call(client, operation: str, params: dict) -> ClientError:
    method = getattr(client, botocore.xform_name(operation))
    with pytest.raises(ClientError) as e:
        method(**params)
    return e.value


def assert_validation_message(message: str):
    m = MESSAGE.match(message)
    assert m, f"not AWS's validation message format: {message!r}"
    assert int(m.group(1)) == len(re.findall(r"failed to satisfy constraint", message)), message


def breaking(shape):
    """A value breaking one of `shape`'s constraints, and AWS's words for it; None if unconstrained."""
    t = shape.type_name
    meta = shape.metadata
    if t == "string" and shape.enum:
        return "NOT_AN_AWS_VALUE", "'NOT_AN_AWS_VALUE'", f"Member must satisfy enum value set: [{', '.join(shape.enum)}]"
    if t == "string" and "max" in meta:
        v = "x" * (meta["max"] + 1)
        return v, f"'{v}'", f"Member must have length less than or equal to {meta['max']}"
    if t == "string" and meta.get("min", 0) > 0:
        return "", "''", f"Member must have length greater than or equal to {meta['min']}"
    if t == "blob" and "max" in meta:
        n = meta["max"] + 1
        return b"\x01" * n, f"'java.nio.HeapByteBuffer[pos=0 lim={n} cap={n}]'", f"Member must have length less than or equal to {meta['max']}"
    if t == "integer" and "min" in meta:
        v = meta["min"] - 1
        return v, f"'{v}'", f"Member must have value greater than or equal to {meta['min']}"
    if t == "list" and "max" in meta:
        return ["t"] * (meta["max"] + 1), None, f"Member must have length less than or equal to {meta['max']}"
    return None


@pytest.mark.parametrize("operation", sorted(MODEL.operation_names))
def test_every_operation_answers_an_invalid_request_with_an_error_it_may_answer(raw, operation):
    op = MODEL.operation_model(operation)
    members = op.input_shape.members if op.input_shape else {}
    required = op.input_shape.required_members if op.input_shape else []
    # All required members missing, and one constrained member broken.
    params, broken = {}, None
    for name, shape in members.items():
        b = breaking(shape)
        if b and (operation, name) not in NOT_TAKEN:
            params[name] = b[0]
            broken = (name, b)
            break
    if not required and broken is None:
        pytest.fail(f"{operation}: no invalid request could be made from the model")
    err = call(raw, operation, params)
    code = err.response["Error"]["Code"]
    status = err.response["ResponseMetadata"]["HTTPStatusCode"]
    listed = {e.name for e in op.error_shapes}
    if operation in UNSUPPORTED:
        assert code == "UnsupportedOperationException", (operation, code)
        assert status == 400
        return
    assert code in listed | COMMON, f"{operation} answered {code}, not among {sorted(listed | COMMON)}"
    assert status == 400, (operation, status)
    assert code == "ValidationException", (operation, code, err.response["Error"]["Message"])
    message = err.response["Error"]["Message"]
    assert_validation_message(message)
    for name in required:
        if (operation, name) not in NOT_TAKEN and name not in params:
            want = f"Value null at '{camel(name)}' failed to satisfy constraint: Member must not be null"
            assert want in message, (operation, message)


def constrained_members():
    for operation in sorted(MODEL.operation_names):
        if operation in UNSUPPORTED:
            continue
        op = MODEL.operation_model(operation)
        if not op.input_shape:
            continue
        for name, shape in op.input_shape.members.items():
            if (operation, name) not in NOT_TAKEN and breaking(shape):
                yield operation, name


@pytest.mark.parametrize("operation,member", list(constrained_members()))
def test_every_constraint_of_the_model_is_reported_in_awss_words(raw, operation, member):
    shape = MODEL.operation_model(operation).input_shape.members[member]
    value, shown, words = breaking(shape)
    if (operation, member) in NARROWER:
        low, _ = NARROWER[(operation, member)]
        value, shown, words = low - 1, f"'{low - 1}'", f"Member must have value greater than or equal to {low}"
    err = call(raw, operation, {member: value})
    assert err.response["Error"]["Code"] == "ValidationException", (operation, member, err.response)
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    message = err.response["Error"]["Message"]
    assert_validation_message(message)
    want = f"at '{camel(member)}' failed to satisfy constraint: {words}"
    if shown is not None:
        want = f"Value {shown} " + want
    assert want in message, (operation, member, message)


def test_several_violations_are_counted_and_joined(raw):
    err = call(raw, "GenerateDataKey", {"NumberOfBytes": 0, "KeySpec": "AES_512"})
    message = err.response["Error"]["Message"]
    assert message == (
        "3 validation errors detected: "
        "Value null at 'keyId' failed to satisfy constraint: Member must not be null; "
        "Value '0' at 'numberOfBytes' failed to satisfy constraint: Member must have value greater than or equal to 1; "
        "Value 'AES_512' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]"
    )


@pytest.mark.parametrize(
    "operation,params,what",
    [
        ("CreateKey", {"KeySpec": "SM2", "KeyUsage": "SIGN_VERIFY"}, "KeySpec SM2"),
        ("CreateKey", {"KeySpec": "ML_KEM_768", "KeyUsage": "ENCAPSULATE_DECAPSULATE"}, "ENCAPSULATE_DECAPSULATE"),
        ("CreateKey", {"Origin": "AWS_CLOUDHSM"}, "Origin AWS_CLOUDHSM"),
    ],
)
def test_values_aws_has_and_strongroom_lacks_are_unsupported_naming_what_is(kms, operation, params, what):
    before = kms.list_keys()["Keys"]
    err = call(kms, operation, params)
    assert err.response["Error"]["Code"] == "UnsupportedOperationException"
    message = err.response["Error"]["Message"]
    assert what in message and "supported" in message, message
    assert kms.list_keys()["Keys"] == before


def test_unsupported_algorithms_on_a_key_name_what_is_supported(kms):
    key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    for algorithm in ["ED25519_PH_SHA_512", "SM2DSA"]:
        with pytest.raises(ClientError) as e:
            kms.sign(KeyId=key, Message=b"m", SigningAlgorithm=algorithm)
        assert e.value.response["Error"]["Code"] == "UnsupportedOperationException", algorithm
        assert "ECDSA_SHA_256" in e.value.response["Error"]["Message"]
    # ML-DSA is served, for ML-DSA keys only: on this key it is a usage error.
    with pytest.raises(ClientError) as e:
        kms.sign(KeyId=key, Message=b"m", SigningAlgorithm="ML_DSA_SHAKE_256")
    assert e.value.response["Error"]["Code"] == "InvalidKeyUsageException"
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=key, Plaintext=b"m", EncryptionAlgorithm="SM2PKE")
    assert e.value.response["Error"]["Code"] == "UnsupportedOperationException"


def test_get_key_rotation_status_and_list_resource_tags_return_every_field(kms):
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    status = kms.get_key_rotation_status(KeyId=key)
    assert status["KeyRotationEnabled"] is False and status["KeyId"]
    kms.enable_key_rotation(KeyId=key, RotationPeriodInDays=90)
    status = kms.get_key_rotation_status(KeyId=key)
    assert status["RotationPeriodInDays"] == 90 and "NextRotationDate" in status
    tags = kms.list_resource_tags(KeyId=key)
    assert tags["Tags"] == [] and tags["Truncated"] is False
