//! The API operations, grouped by concept, and the dispatcher.

mod aliases;
mod crypto;
mod dispatch;
mod keys;
pub(crate) mod mac;
mod rotation;
mod tags;
