//! The API operations, grouped by concept, and the dispatcher.

mod aliases;
mod crypto;
mod dispatch;
mod keys;
mod rotation;
mod tags;
