//! Cost of evaluating a key policy per request: the default policy, and a
//! non-trivial one (five statements, conditions on context and source IP).

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use strongroom_policy::{
    ConditionValues, PolicyDocument, RequestContext, default_policy, evaluate_policy,
};

fn bench(c: &mut Criterion) {
    let key = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let default = PolicyDocument::parse(&default_policy("111122223333")).unwrap();
    let rich = PolicyDocument::parse(
        r#"{"Version":"2012-10-17","Statement":[
          {"Sid":"admins","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/admin"},"Action":["kms:Create*","kms:Describe*","kms:Put*","kms:Schedule*"],"Resource":"*"},
          {"Sid":"use","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:root","arn:aws:iam::444455556666:root"]},"Action":["kms:Encrypt","kms:Decrypt","kms:GenerateDataKey*"],"Resource":"*",
           "Condition":{"StringEquals":{"kms:EncryptionContext:tenant":"acme"},"IpAddress":{"aws:SourceIp":["10.0.0.0/8","192.168.0.0/16"]}}},
          {"Sid":"via","Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringLike":{"kms:ViaService":"objects.*"},"Bool":{"aws:SecureTransport":"true"}}},
          {"Sid":"no-old","Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}},
          {"Sid":"keys","Effect":"Deny","Principal":"*","Action":"kms:Encrypt","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":["forbidden"]}}}
        ]}"#,
    )
    .unwrap();
    let mut cv = ConditionValues::new();
    cv.insert("kms:encryptioncontext:tenant".into(), vec!["acme".into()]);
    cv.insert("kms:encryptioncontextkeys".into(), vec!["tenant".into()]);
    cv.insert("aws:sourceip".into(), vec!["10.1.2.3".into()]);
    cv.insert(
        "aws:currenttime".into(),
        vec!["2026-11-28T12:00:00Z".into()],
    );
    cv.insert("aws:securetransport".into(), vec!["true".into()]);
    let ctx = RequestContext {
        principal_arn: "arn:aws:iam::111122223333:root",
        account_id: "111122223333",
        service: None,
        action: "kms:Encrypt",
        resource: key,
        conditions: &cv,
    };
    c.bench_function("policy/default", |b| {
        b.iter(|| evaluate_policy(black_box(&default), black_box(&ctx)))
    });
    c.bench_function("policy/five_statements_with_conditions", |b| {
        b.iter(|| evaluate_policy(black_box(&rich), black_box(&ctx)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
