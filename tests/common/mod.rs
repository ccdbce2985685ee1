pub mod fixture_list;
pub mod replay;
