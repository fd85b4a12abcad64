//! placeholder
pub mod recipe_tests;
