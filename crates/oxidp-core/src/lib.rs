//! oxidp-core
