//! The facts of one request, carried explicitly from the dispatcher to the
//! handler and into every authorization decision. There is no ambient
//! state: a decision cannot be made without a `RequestCtx`, and one cannot
//! be made without a row of the operation table, so the action is never
//! empty or guessed.

use std::sync::Arc;

use strongroom_policy::ConditionValues;

use super::operations::{Operation, Resources};
use crate::auth::Caller;
use crate::error::KmsError;
use crate::protocol::EncryptionContext;

/// What the audit trail needs to know about a request.
#[derive(Debug, Clone, Default)]
pub struct AuditFacts {
    /// ARNs of the keys the request was authorised for, in order.
    pub key_arns: Vec<String>,
    /// Encryption contexts given (ReEncrypt has two), in order.
    pub context: Vec<(String, String)>,
    /// The grant a grant operation is about (RetireGrant, RevokeGrant).
    pub grant_id: Option<String>,
    /// Whether the request's intent record was written (before it changed
    /// anything; see `Processor::begin_change`).
    pub intent_recorded: bool,
}

/// Where a request came from.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestMeta {
    /// The client's address.
    pub source_ip: Option<std::net::IpAddr>,
    /// Whether it came over TLS.
    pub secure: bool,
}

/// Authorization decisions made so far (allowed ones only: a denial ends
/// the request).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Decisions {
    pub(crate) keyless: bool,
    pub(crate) keys: usize,
    pub(crate) aliases: usize,
    pub(crate) grants: usize,
    /// Halves (ReEncryptFrom, ReEncryptTo) that authorized a key.
    pub(crate) halves: usize,
}

impl Decisions {
    /// Whether these decisions cover what `resources` requires.
    pub(crate) fn cover(&self, resources: Resources) -> bool {
        match resources {
            Resources::Keyless => self.keyless,
            Resources::Key => self.keys >= 1,
            Resources::KeyPair => self.halves >= 2,
            Resources::AliasAndKeys => self.aliases >= 1 && self.keys >= 1,
            Resources::Grant => self.grants >= 1,
        }
    }
}

/// One request in progress: who asks, for which operation row, and the
/// condition values known so far.
pub struct RequestCtx<'a> {
    caller: &'a Caller,
    operation: &'static Operation,
    action: &'static str,
    /// Caller, transport and time conditions, plus what the handler noted
    /// (lower-cased keys); never the encryption context, which is kept
    /// apart so that each ReEncrypt half sees only its own.
    conditions: ConditionValues,
    context: Option<Arc<EncryptionContext>>,
    audit: AuditFacts,
    decisions: Decisions,
    /// Keys the request was authorized on (or is creating), by id: the
    /// only keys a [`crate::processor::Change`] it earns may change.
    authorized_keys: Vec<uuid::Uuid>,
    /// The intent record to write before the first state change, as far
    /// as the HTTP edge knows it (identity, request id, address).
    intent: Option<crate::audit::AuditEvent>,
    /// The id CreateKey gives its new key instead of a random one: set
    /// only in-process (seed files, `Processor::dispatch_with_key_id`),
    /// never from a request.
    fixed_key_id: Option<uuid::Uuid>,
}

impl<'a> RequestCtx<'a> {
    /// A request for `operation` by `caller`.
    pub fn new(caller: &'a Caller, meta: RequestMeta, operation: &'static Operation) -> Self {
        let mut conditions = ConditionValues::new();
        if let Some(ip) = meta.source_ip {
            conditions.insert("aws:sourceip".into(), vec![ip.to_string()]);
        }
        conditions.insert("aws:securetransport".into(), vec![meta.secure.to_string()]);
        conditions.insert("kms:calleraccount".into(), vec![caller.account_id.clone()]);
        conditions.insert("aws:principalarn".into(), vec![caller.identity.arn.clone()]);
        conditions.insert(
            "aws:principaltype".into(),
            vec![caller.identity.kind.trail_name().into()],
        );
        for (k, v) in &caller.identity.tags {
            conditions.insert(
                format!("aws:principaltag/{}", k.to_ascii_lowercase()),
                vec![v.clone()],
            );
        }
        if let Some(s) = &caller.via_service {
            conditions.insert("kms:viaservice".into(), vec![s.clone()]);
        }
        conditions.insert(
            "aws:principalaccount".into(),
            vec![caller.account_id.clone()],
        );
        let now = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        conditions.insert("aws:currenttime".into(), vec![now]);
        Self {
            caller,
            operation,
            action: operation.action,
            conditions,
            context: None,
            audit: AuditFacts::default(),
            decisions: Decisions::default(),
            authorized_keys: Vec::new(),
            intent: None,
            fixed_key_id: None,
        }
    }

    /// Sets what the intent record says about the caller and transport.
    pub fn with_intent(mut self, intent: crate::audit::AuditEvent) -> Self {
        self.intent = Some(intent);
        self
    }

    /// Makes CreateKey use `id` for its new key (in-process callers only).
    pub(crate) fn with_fixed_key_id(mut self, id: Option<uuid::Uuid>) -> Self {
        self.fixed_key_id = id;
        self
    }

    /// The id CreateKey must give its new key, if an in-process caller chose one.
    pub(crate) fn fixed_key_id(&self) -> Option<uuid::Uuid> {
        self.fixed_key_id
    }

    /// Who asks.
    pub fn caller(&self) -> &'a Caller {
        self.caller
    }

    /// The operation's row.
    pub fn operation(&self) -> &'static Operation {
        self.operation
    }

    /// The action being authorized (`kms:<Operation>`, or a half's).
    pub fn action(&self) -> &'static str {
        self.action
    }

    /// The encryption context as given (grant constraints are
    /// case-sensitive, unlike condition keys).
    pub fn context(&self) -> Option<&EncryptionContext> {
        self.context.as_deref()
    }

    /// Condition values for policy evaluation: the request's, plus the
    /// encryption context's `kms:EncryptionContext:<k>` and
    /// `kms:EncryptionContextKeys`.
    pub fn conditions(&self) -> ConditionValues {
        let mut c = self.conditions.clone();
        if let Some(ctx) = &self.context {
            for (k, v) in ctx.iter() {
                c.insert(
                    format!("kms:encryptioncontext:{}", k.to_ascii_lowercase()),
                    vec![v.clone()],
                );
            }
            c.insert(
                "kms:encryptioncontextkeys".into(),
                ctx.keys().cloned().collect(),
            );
        }
        c
    }

    /// Records a condition value (`kms:GrantOperations`, ...).
    pub fn note(&mut self, key: &str, values: Vec<String>) {
        self.conditions.insert(key.to_ascii_lowercase(), values);
    }

    /// Records the request's encryption context, for conditions, grant
    /// constraints and the audit trail. Only operations whose row takes a
    /// context may.
    pub fn note_context(&mut self, ctx: &Option<EncryptionContext>) -> Result<(), KmsError> {
        if !self.operation.context {
            return Err(KmsError::Internal(format!(
                "{} takes no encryption context",
                self.operation.name
            )));
        }
        let Some(ctx) = ctx else { return Ok(()) };
        // Condition keys ignore case, context keys do not: two keys that
        // differ only in case would let one hide the other from a policy.
        let mut lowered = std::collections::HashSet::with_capacity(ctx.len());
        if !ctx.keys().all(|k| lowered.insert(k.to_ascii_lowercase())) {
            return Err(KmsError::Validation(
                "Encryption context keys must differ by more than letter case.".into(),
            ));
        }
        self.context = Some(Arc::new(ctx.clone()));
        self.audit
            .context
            .extend(ctx.iter().map(|(k, v)| (k.clone(), v.clone())));
        Ok(())
    }

    /// A half of this request (ReEncrypt's ReEncryptFrom or ReEncryptTo):
    /// the same caller and request facts, the half's action, and only
    /// `ctx` as encryption context. Fold it back with `absorb`.
    pub fn half(
        &self,
        action: &'static str,
        ctx: &Option<EncryptionContext>,
    ) -> Result<RequestCtx<'a>, KmsError> {
        if !self.operation.halves.contains(&action) {
            return Err(KmsError::Internal(format!(
                "{action} is not a half of {}",
                self.operation.name
            )));
        }
        let mut half = RequestCtx {
            caller: self.caller,
            operation: self.operation,
            action,
            conditions: self.conditions.clone(),
            context: None,
            audit: AuditFacts::default(),
            decisions: Decisions::default(),
            authorized_keys: Vec::new(),
            intent: None,
            fixed_key_id: None,
        };
        if self.operation.context {
            half.note_context(ctx)?;
        }
        Ok(half)
    }

    /// Takes in what a half decided and recorded.
    pub fn absorb(&mut self, half: RequestCtx<'a>) {
        for arn in half.audit.key_arns {
            self.push_key_arn(arn);
        }
        self.audit.context.extend(half.audit.context);
        if half.decisions.keys >= 1 {
            self.decisions.halves += 1;
        }
        for id in half.authorized_keys {
            if !self.authorized_keys.contains(&id) {
                self.authorized_keys.push(id);
            }
        }
        self.decisions.keys += half.decisions.keys;
        self.decisions.aliases += half.decisions.aliases;
        self.decisions.grants += half.decisions.grants;
    }

    fn push_key_arn(&mut self, arn: String) {
        if !self.audit.key_arns.contains(&arn) {
            self.audit.key_arns.push(arn);
        }
    }

    /// Records that the request is about key `arn` (for the audit trail,
    /// allowed or not).
    pub(crate) fn note_key(&mut self, arn: &str) {
        self.push_key_arn(arn.to_owned());
    }

    /// Records that the request was authorized on key `id`.
    pub(crate) fn allowed_key(&mut self, id: uuid::Uuid) {
        self.decisions.keys += 1;
        if !self.authorized_keys.contains(&id) {
            self.authorized_keys.push(id);
        }
    }

    /// Lets the request's changes and module calls also touch `id`, the
    /// shared material id of a multi-Region key it was authorized on (or
    /// is creating), without counting as a decision.
    pub(crate) fn also_covers(&mut self, id: uuid::Uuid) {
        if !self.authorized_keys.contains(&id) {
            self.authorized_keys.push(id);
        }
    }

    /// Records the key a keyless request (CreateKey) is creating, so its
    /// intent record names it and its changes may touch it.
    pub(crate) fn creating_key(&mut self, id: uuid::Uuid, arn: &str) {
        self.note_key(arn);
        if !self.authorized_keys.contains(&id) {
            self.authorized_keys.push(id);
        }
    }

    /// The keys the request was authorized on (or is creating).
    pub(crate) fn authorized_keys(&self) -> &[uuid::Uuid] {
        &self.authorized_keys
    }

    /// Whether every decision the operation's row requires has been made.
    pub(crate) fn satisfied(&self) -> bool {
        self.decisions.cover(self.operation.resources)
    }

    /// The intent record for what the request has resolved so far, unless
    /// it was written already.
    pub(crate) fn pending_intent(&self) -> Option<crate::audit::AuditEvent> {
        if self.audit.intent_recorded {
            return None;
        }
        let mut event = self.intent.clone().unwrap_or_else(|| {
            crate::audit::AuditEvent::for_caller(self.caller, self.operation.name)
        });
        event.intent = true;
        event.error = None;
        event.key_arns = self.audit.key_arns.clone();
        event.context = self.audit.context.clone();
        event.grant_id = self.audit.grant_id.clone();
        Some(event)
    }

    /// Notes that the intent record is durable.
    pub(crate) fn intent_written(&mut self) {
        self.audit.intent_recorded = true;
    }

    /// Records that the request was authorized on an alias.
    pub(crate) fn allowed_alias(&mut self) {
        self.decisions.aliases += 1;
    }

    /// Records that the request was authorized on grant `grant_id` of
    /// key `key_id` (ARN `key_arn`): its records name both, and its
    /// changes may touch that key's grants.
    pub(crate) fn allowed_grant(&mut self, grant_id: &str, key_id: uuid::Uuid, key_arn: &str) {
        self.decisions.grants += 1;
        self.note_grant(grant_id);
        self.note_key(key_arn);
        if !self.authorized_keys.contains(&key_id) {
            self.authorized_keys.push(key_id);
        }
    }

    /// Records the grant the request is about (for the audit trail).
    pub(crate) fn note_grant(&mut self, grant_id: &str) {
        self.audit.grant_id = Some(grant_id.to_owned());
    }

    /// Records that the identity policy allowed a keyless operation.
    pub(crate) fn allowed_keyless(&mut self) {
        self.decisions.keyless = true;
    }

    /// The decisions made so far.
    pub(crate) fn decisions(&self) -> Decisions {
        self.decisions
    }

    /// What the audit trail should record.
    pub fn into_audit(self) -> AuditFacts {
        self.audit
    }
}
