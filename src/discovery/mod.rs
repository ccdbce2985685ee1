//! STUB
mod result;
pub use result::*;
pub struct DiscoverOptions;
pub fn discover() {}
