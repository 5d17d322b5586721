//! What one row of the operation table says about an operation. The table
//! itself is generated with the dispatcher (`ops::dispatch`), so a served
//! operation cannot exist without a row, and everything authorization needs
//! to know about it (keyless or not, context, grants, resources) comes from
//! that row and nowhere else.

/// How the dispatcher answers an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// A handler serves it.
    Served,
    /// An AWS KMS operation Strongroom knows but does not serve: it answers
    /// UnsupportedOperationException (after the keyless check, so a caller
    /// with no permission learns nothing, not even that).
    Unsupported,
}

/// The resources an operation is authorized on. A state-changing handler
/// cannot change anything until decisions on these were made (it needs a
/// `Change` from `Processor::begin_change`); after any handler succeeds the
/// dispatcher checks them again, and answers an internal error otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resources {
    /// No key: only identity policies govern it (resource `*`). The
    /// dispatcher authorizes before the handler runs.
    Keyless,
    /// One key, by its key policy, the caller's identity policy and grants.
    Key,
    /// Two keys authorized separately, each with its own action, context
    /// and grants (ReEncrypt: ReEncryptFrom, ReEncryptTo).
    KeyPair,
    /// An alias (identity policy, resource = the alias ARN) and every key it
    /// points to or will point to (key policy).
    AliasAndKeys,
    /// A grant (RetireGrant: its retiring or grantee principal, or the
    /// account that issued it).
    Grant,
}

/// Whether an operation can change state (keys, aliases, grants, policies,
/// tags, material). One that can is recorded as an intent in the audit trail,
/// naming its keys, before it changes anything (docs/audit.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Reads or computes only.
    Reads,
    /// May change state.
    Writes,
}

/// One row of the operation table.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    /// The `X-Amz-Target` suffix (`TrentService.<name>`).
    pub name: &'static str,
    /// The policy action, `kms:<name>`.
    pub action: &'static str,
    /// How it is answered.
    pub route: Route,
    /// What it is authorized on.
    pub resources: Resources,
    /// Whether it takes an encryption context (grant constraints bind only
    /// these, as in AWS).
    pub context: bool,
    /// The `GrantOperation` names that let a grantee do it (empty: grants
    /// never allow it).
    pub grant_operations: &'static [&'static str],
    /// Actions decided on their own within the request: the two halves of
    /// a `Resources::KeyPair` row (ReEncryptFrom, ReEncryptTo), or the
    /// material-release action a row may also need (ExposeKeyMaterial at
    /// CreateKey, RevealDerivedKey at DeriveKey).
    pub halves: &'static [&'static str],
    /// Whether it can change state.
    pub effect: Effect,
    /// Whether a service may run it for a customer with an authentication
    /// proof (`#[via_proof]` in the table; docs/extensions.md): only
    /// operations that use a key for the customer's data, never ones that
    /// manage keys, policies, grants, aliases or tags.
    pub via_proof: bool,
    /// Whether a keyless row may draw random bytes from the module
    /// (`#[random]` in the table: GenerateRandom). No other keyless row
    /// reaches the module at all (`Processor::keyless_module`).
    pub random: bool,
}

impl Operation {
    /// Whether the operation names no key.
    pub fn is_keyless(&self) -> bool {
        self.resources == Resources::Keyless
    }
}

/// The row of `name` in `table`.
pub fn find<'t>(table: &'t [Operation], name: &str) -> Option<&'t Operation> {
    table.iter().find(|o| o.name == name)
}

/// Every `GrantOperation` name in `table`, in table order.
pub fn grant_operations(table: &[Operation]) -> Vec<&'static str> {
    table
        .iter()
        .flat_map(|o| o.grant_operations.iter().copied())
        .collect()
}

/// Whether grant operation `grant_op` (e.g. `ReEncryptFrom`) belongs to an
/// operation that takes an encryption context.
pub fn grant_operation_takes_context(table: &[Operation], grant_op: &str) -> bool {
    table
        .iter()
        .any(|o| o.context && o.grant_operations.contains(&grant_op))
}
