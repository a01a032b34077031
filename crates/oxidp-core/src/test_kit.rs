//! The store conformance kit: one suite every store implementation must pass.
