//! Key management: the data-protection key ring and the signing keys, both kept in the
//! [`KeyStore`](crate::store::KeyStore) so that every instance on one database shares them.

mod data_protection;
mod signing;

pub use data_protection::{DataProtector, ProtectError, purposes};
pub use signing::{KeyError, KeyInfo, KeyManager, KeyStatus};

fn to_time(duration: std::time::Duration) -> time::Duration {
    crate::clock::capped(duration)
}
