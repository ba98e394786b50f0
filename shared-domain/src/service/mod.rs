//! The HTTP service kit (see issue: operability).
