//! oxidp-store
