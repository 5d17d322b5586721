//! Key and identity policy documents (crates/policy PolicyDocument::parse):
//! PutKeyPolicy, CreateKey and the admin commands take them from callers,
//! and they are read back from the store for every request.
//! Asserts: never panics; the parsed document depends only on the JSON
//! value, not its formatting (re-serialising and re-parsing gives an equal
//! document); evaluation never panics, for contexts built from the
//! document's own condition keys and values; and an explicit
//! everyone/everything Deny added to any parsed policy always wins.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strongroom_policy::{
    ConditionValues, Effect, KeyPolicyDecision, MAX_POLICY_BYTES, PolicyDecision, PolicyDocument,
    Principals, RequestContext, Statement, evaluate_key_policy, evaluate_policy,
};

const PRINCIPAL: &str = "arn:aws:iam::111122223333:user/alice";
const RESOURCE: &str =
    "arn:aws:kms:us-east-1:111122223333:key/0b5d8f3a-7a9e-4a5b-9bd7-1c1f4d2b8c9e";

fn contexts(doc: &PolicyDocument) -> Vec<ConditionValues> {
    let mut own = ConditionValues::new();
    for s in &doc.statements {
        for c in &s.conditions {
            own.entry(c.key.clone())
                .or_default()
                .extend(c.values.iter().cloned());
        }
    }
    let first_only = own
        .iter()
        .map(|(k, v)| (k.clone(), v.iter().take(1).cloned().collect()))
        .collect();
    vec![ConditionValues::new(), own, first_only]
}

fn deny_everything() -> Statement {
    Statement {
        sid: None,
        effect: Effect::Deny,
        principals: Principals::Everyone,
        not_principal: false,
        actions: vec!["*".into()],
        not_action: false,
        resources: vec!["*".into()],
        not_resource: false,
        conditions: Vec::new(),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsers: [fn(&str) -> Result<PolicyDocument, _>; 2] =
        [PolicyDocument::parse, PolicyDocument::parse_identity];
    for (i, parse) in parsers.into_iter().enumerate() {
        let Ok(doc) = parse(text) else {
            continue;
        };
        let value: serde_json::Value = serde_json::from_str(text).expect("parsed JSON");
        let compact = serde_json::to_string(&value).expect("serialise");
        if compact.len() <= MAX_POLICY_BYTES {
            assert_eq!(parse(&compact).as_ref(), Ok(&doc), "{compact}");
        }
        let mut denied = doc.clone();
        denied.statements.push(deny_everything());
        for conditions in contexts(&doc) {
            for action in ["kms:Encrypt", "kms:PutKeyPolicy", "kms:ShredKey"] {
                let ctx = RequestContext {
                    principal_arn: PRINCIPAL,
                    account_id: "111122223333",
                    service: Some("s3.amazonaws.com"),
                    action,
                    resource: RESOURCE,
                    conditions: &conditions,
                };
                if i == 0 {
                    let _ = evaluate_key_policy(&doc, &ctx);
                    assert_eq!(
                        evaluate_key_policy(&denied, &ctx),
                        KeyPolicyDecision::ExplicitDeny
                    );
                } else {
                    let _ = evaluate_policy(&doc, &ctx);
                    assert_eq!(evaluate_policy(&denied, &ctx), PolicyDecision::ExplicitDeny);
                }
            }
        }
    }
});
