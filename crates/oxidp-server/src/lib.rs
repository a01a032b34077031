//! oxidp-server
