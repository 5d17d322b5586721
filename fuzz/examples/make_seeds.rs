//! Writes the small seed corpus in fuzz/corpus/<target>/ (a few valid
//! inputs per target, so the fuzzer starts past the first checks):
//! `cargo run --manifest-path fuzz/Cargo.toml --example make_seeds` (a plain
//! build of the fuzz crate; slow the first time).
//! Seeds made with the fixed domain key stay valid; those signed with a
//! per-process key (tokens, commands) still exercise the decoding.
//! `corpus/ekt/v1` and `corpus/ekt/v2` are key EKTs of the formats before
//! v3 under the same fixed domain key, kept from earlier runs: nothing
//! seals those formats any more, but the key opener still reads them.

use std::path::Path;

// Linked for the coverage hooks the fuzz build instruments every crate with.
use libfuzzer_sys as _;

use strongroom_crypto::{AsymmetricKey, AsymmetricSpec};
use strongroom_fuzz::{DOMAIN, MODULE, NOW, OPERATOR_KEY, OPERATORS, PROOF_KEY, RULES};
use strongroom_hsm::fuzzing::{EktKind, ekt_seal, import_token_seal, token_issue};
use strongroom_hsm_proto::admin::{
    Command, CommandBody, DomainTokenBody, OperatorSignature, SignedCommand, Target, encode,
};
use strongroom_hsm_proto::ciphertext::{CiphertextHeader, TAG_LEN};
use strongroom_hsm_proto::codec::encode_bare;
use strongroom_hsm_proto::frame::{FrameClass, encode_frame};
use strongroom_hsm_proto::{Ekt, HsmError, KeyRef, KeySpecCode, Request, Response};
use strongroom_server::proof::{ProofClaims, seal_claims};
use uuid::Uuid;

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    std::fs::create_dir_all(&dir).expect("corpus dir");
    std::fs::write(dir.join(name), bytes).expect("write seed");
}

fn with_mode(mode: u8, bytes: &[u8]) -> Vec<u8> {
    let mut v = vec![mode];
    v.extend_from_slice(bytes);
    v
}

fn main() {
    let key = KeyRef {
        key_id: Uuid::from_u128(0x1b0c_4e55),
        version: 1,
    };

    let mut blob = Vec::new();
    CiphertextHeader {
        key,
        kdf_nonce: [3; 32],
        iv: [4; 12],
    }
    .write(&mut blob);
    blob.extend_from_slice(b"body");
    blob.extend_from_slice(&[0; TAG_LEN]);
    write("ciphertext_header", "v1", &blob);

    let sym = ekt_seal(
        &DOMAIN,
        EktKind::Key,
        key,
        KeySpecCode::SymmetricDefault,
        &[9; 32],
        None,
    )
    .expect("ekt");
    write("ekt", "key", &sym);
    let hmac = ekt_seal(
        &DOMAIN,
        EktKind::Key,
        key,
        KeySpecCode::Hmac256,
        &[5; 64],
        Some([6; 32]),
    )
    .expect("ekt");
    write("ekt", "key_owned", &hmac);
    let transient = ekt_seal(
        &DOMAIN,
        EktKind::Transient,
        key,
        KeySpecCode::SymmetricDefault,
        &[8; 32],
        None,
    )
    .expect("ekt");
    write("ekt", "transient", &transient);

    let mut body = DomainTokenBody {
        domain_id: DOMAIN.id(),
        epoch: 1,
        issued_at: NOW,
        issuer: MODULE.id,
        members: vec![MODULE.member("fuzz")],
        operators: OPERATORS.clone(),
        rules: RULES.clone(),
        hosts: vec![OPERATOR_KEY.public_key().to_vec()],
        generations: Vec::new(),
        wrapped_keys: Vec::new(),
        escrow_threshold: 1,
        escrow: Vec::new(),
        min_generation_lifespan_secs: 3600,
    };
    let token = token_issue(&MODULE, &mut body, &DOMAIN, NOW).expect("token");
    write("domain_token", "token", &with_mode(0, &encode(&token)));
    write("domain_token", "body", &with_mode(1, &token.body));

    let command = CommandBody {
        target: Target::Domain(DOMAIN.id()),
        nonce: [1; 16],
        expires_at: NOW + 3600,
        epoch: 1,
        command: Command::AddHost {
            host_key: MODULE.signing.public_key().to_vec(),
        },
    };
    let mut signed = SignedCommand::new(&command);
    signed.signatures.push(OperatorSignature {
        signing_key: OPERATOR_KEY.public_key().to_vec(),
        signature: OPERATOR_KEY.sign(&signed.signing_bytes()).expect("sign"),
    });
    write("quorum_command", "signed", &with_mode(0, &encode(&signed)));
    write("quorum_command", "body", &with_mode(1, &signed.body));

    let request = Request::InDomain {
        domain: DOMAIN.id(),
        request: Box::new(Request::Decrypt {
            ekt: Ekt(sym.clone()),
            ciphertext: blob.clone(),
            context: b"{}".to_vec(),
        }),
    };
    let response: Result<Response, HsmError> = Ok(Response::Ciphertext(blob.clone()));
    let mut stream = vec![0];
    stream.extend_from_slice(&encode_frame(
        FrameClass::Control,
        7,
        &encode_bare(&request),
    ));
    stream.extend_from_slice(&encode_frame(FrameClass::Bulk, 7, &encode_bare(&response)));
    write("module_frame", "request_response", &stream);
    // The audit seal requests (wire version 4).
    let seal = Request::InDomain {
        domain: Uuid::from_bytes([0x11; 16]),
        request: Box::new(Request::SignAuditSeal {
            message: b"strongroom audit footer v1\0footer body".to_vec(),
        }),
    };
    let mut stream = vec![0];
    stream.extend_from_slice(&encode_frame(FrameClass::Control, 9, &encode_bare(&seal)));
    stream.extend_from_slice(&encode_frame(
        FrameClass::Control,
        10,
        &encode_bare(&Request::AuditSealKeys),
    ));
    write("module_frame", "audit_seal", &stream);
    let mut huge = vec![1];
    huge.extend_from_slice(&encode_frame(FrameClass::Control, 8, &[0; 16])[..14]);
    huge[11..15].copy_from_slice(&u32::MAX.to_be_bytes());
    write("module_frame", "declared_too_large", &huge);

    write(
        "sigv4_authorization",
        "header",
        b"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/us-east-1/kms/aws4_request, \
          SignedHeaders=content-type;host;x-amz-date;x-amz-target, \
          Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
    );
    write("sigv4_authorization", "date", b"20231114T221320Z");
    write(
        "sigv4_canonical_request",
        "post",
        b"POST\n/a/./b/../c//\nb=2&a=1&a=%41\ncontent-type;host;x-amz-date;x-amz-target\n\
          Content-Type: application/x-amz-json-1.1\nHost: kms.test\n\
          X-Amz-Date: 20231114T221320Z\nX-Amz-Target: TrentService.Encrypt\n",
    );

    write(
        "policy_document",
        "default",
        strongroom_policy::default_policy("111122223333").as_bytes(),
    );
    write(
        "policy_document",
        "conditions",
        br#"{"Version":"2012-10-17","Statement":[
{"Sid":"a","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
{"Sid":"b","Effect":"Deny","Principal":"*","Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*",
 "Condition":{"StringNotEquals":{"kms:EncryptionContext:tenant":"a"},
  "ForAllValues:StringLike":{"kms:EncryptionContextKeys":["tenant","app*"]},
  "NumericLessThanIfExists":{"kms:GrantConstraintType":5},
  "DateGreaterThan":{"aws:CurrentTime":"2023-01-01T00:00:00Z"},
  "Bool":{"kms:GrantIsForAWSResource":true},
  "IpAddress":{"aws:SourceIp":"10.0.0.0/8"},
  "Null":{"kms:ViaService":"false"}}},
{"Effect":"Allow","NotPrincipal":{"Service":"s3.amazonaws.com"},"NotAction":"kms:ShredKey","NotResource":"arn:aws:kms:*:111122223333:key/*"}]}"#,
    );
    write(
        "policy_document",
        "identity",
        br#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:Describe*","Resource":"*"}}"#,
    );

    let ops = strongroom_server::fuzz_operations();
    let index = |op: &str| ops.iter().position(|o| *o == op).expect("listed op") as u8;
    for (op, body) in [
        (
            "Encrypt",
            &br#"{"KeyId":"alias/app","Plaintext":"aGVsbG8=","EncryptionContext":{"tenant":"a"},"GrantTokens":["t"]}"#[..],
        ),
        (
            "CreateGrant",
            br#"{"KeyId":"k","GranteePrincipal":"arn:aws:iam::111122223333:role/r","Operations":["Decrypt"],"Constraints":{"EncryptionContextSubset":{"a":"b"}}}"#,
        ),
        (
            "CreateKey",
            br#"{"KeySpec":"RSA_2048","KeyUsage":"SIGN_VERIFY","Policy":"{}","Tags":[{"TagKey":"k","TagValue":"v"}],"MultiRegion":false}"#,
        ),
        (
            "ReEncrypt",
            br#"{"CiphertextBlob":"AQID","DestinationKeyId":"k","SourceEncryptionContext":{},"DestinationEncryptionContext":{"a":"b"}}"#,
        ),
        (
            "CreateAuthenticationProof",
            br#"{"Method":"POST","Path":"/","Headers":{"host":"kms.test"},"PayloadSha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","SigningService":"s3","MaxUses":1}"#,
        ),
    ] {
        write("request_body", op, &with_mode(index(op), body));
    }

    let pair = AsymmetricKey::generate(AsymmetricSpec::Rsa2048).expect("rsa");
    let wrapping = ekt_seal(
        &DOMAIN,
        EktKind::WrappingKey,
        KeyRef {
            key_id: key.key_id,
            version: 0,
        },
        KeySpecCode::Rsa2048,
        pair.expose_pkcs8(),
        None,
    )
    .expect("wrapping key");
    write("ekt", "wrapping_key", &wrapping);
    let token = import_token_seal(
        &DOMAIN,
        key.key_id,
        "RSAES_OAEP_SHA_256".into(),
        NOW + 86_400,
        &wrapping,
    );
    write("import_token", "token", &with_mode(0, &token));
    write(
        "import_token",
        "body",
        &with_mode(1, &token[..token.len() - 32]),
    );

    let claims = ProofClaims {
        v: strongroom_server::proof::CLAIMS_VERSION,
        id: "00".repeat(16),
        issued_to: "arn:aws:iam::111122223333:role/objectstore".into(),
        principal: "arn:aws:iam::111122223333:user/alice".into(),
        account: "111122223333".into(),
        access_key_id: "AKIDEXAMPLE".into(),
        service: "objectstore.example.com".into(),
        iat: NOW as i64,
        exp: NOW as i64 + 300,
        uses: 1,
        digest: "ab".repeat(32),
    };
    let proof = seal_claims(&PROOF_KEY, &claims).expect("proof");
    write("auth_proof", "proof", &with_mode(0, proof.as_bytes()));
    let text = serde_json::to_string(&claims).expect("claims");
    write("auth_proof", "claims", &with_mode(1, text.as_bytes()));
    // audit_segment: a segment of three records, the same cut inside its
    // last frame (a torn tail), and a sealed footer.
    let mut segment = strongroom_audit::encode_header(&strongroom_audit::SegmentHeader {
        chain: "fe-1".into(),
        number: 0,
        first_seq: 1,
        prev_head: [0; 32],
        created_ms: NOW as i64 * 1000,
    });
    for seq in 1..=3u64 {
        let record = strongroom_audit::AuditRecord {
            time_ms: NOW as i64 * 1000 + seq as i64,
            request_id: "0b7c2f3e-8d4a-4c1b-9e2f-3a4b5c6d7e8f".into(),
            operation: "Encrypt".into(),
            key_arns: vec![
                "arn:aws:kms:us-east-1:111122223333:key/6f0c8a1e-2b3d-4e5f-8a9b-0c1d2e3f4a5b"
                    .into(),
            ],
            context: vec![("dept".into(), Some("a".into()))],
            ..Default::default()
        };
        strongroom_audit::push_frame(&mut segment, &strongroom_audit::encode_record(seq, &record));
    }
    write("audit_segment", "segment", &segment);
    write("audit_segment", "torn", &segment[..segment.len() - 7]);
    let footer = strongroom_audit::SealedFooter::seal(
        strongroom_audit::FooterBody {
            chain: "fe-1".into(),
            number: 0,
            first_seq: 1,
            last_seq: 3,
            count: 3,
            first_time_ms: 1,
            last_time_ms: 3,
            head: [1; 32],
            prev_head: [0; 32],
            segment_len: segment.len() as u64,
        },
        &strongroom_audit::InProcessSealer::from_seed([0x5e; 32]).expect("key"),
    )
    .expect("seal");
    write("audit_segment", "footer", &footer.encode());

    // XKS proxy API: a path, then each body (selector = parser).
    let meta = r#""requestMetadata":{"awsPrincipalArn":"arn:aws:iam::1:user/a","kmsKeyArn":"k","kmsOperation":"Encrypt","kmsRequestId":"r"}"#;
    write(
        "xks_request",
        "path",
        &with_mode(0, b"/keystores/a/kms/xks/v1/keys/k-1.x_y/encrypt"),
    );
    write(
        "xks_request",
        "health",
        &with_mode(
            1,
            br#"{"requestMetadata":{"kmsRequestId":"r","kmsOperation":"KmsHealthCheck"}}"#,
        ),
    );
    let encrypt = format!(
        r#"{{{meta},"plaintext":"SGVsbG8=","additionalAuthenticatedData":"YQ==","encryptionAlgorithm":"AES_GCM","ciphertextDataIntegrityValueAlgorithm":"SHA_256"}}"#
    );
    write("xks_request", "encrypt", &with_mode(3, encrypt.as_bytes()));
    let decrypt = format!(
        r#"{{{meta},"ciphertext":"AAAA","ciphertextMetadata":"WAAAAAEAAAAAAAAAAAAAAAAAAAA=","initializationVector":"AAAAAAAAAAAAAAAA","authenticationTag":"AAAAAAAAAAAAAAAAAAAAAA==","encryptionAlgorithm":"AES_GCM"}}"#
    );
    write("xks_request", "decrypt", &with_mode(4, decrypt.as_bytes()));
}
