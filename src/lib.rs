//! strata: a codemod engine that finds and fixes layering violations in Python backends.
//!
//! The pipeline, one module per stage: [`config`] and [`recipe`] (what to do) → [`discover`] and
//! [`layers`] (which files) → [`python`] (parse once) → [`matching`] (what matches) → [`diagnostics`]
//! and [`output`] (report) → [`fix`] and [`transform`] (plan change sets) → [`edit`] (apply, validate,
//! write atomically) → [`migrate`] (a fix run on a commit's tree, as commits on a branch) → [`verify`]
//! (the project's tests judge the change sets).

pub mod batch;
pub mod callers;
pub mod cli;
pub mod commands;
pub mod config;
pub mod diagnostics;
pub mod discover;
pub mod edit;
pub mod engine;
pub mod exceptions;
pub mod fix;
pub mod forge;
pub mod git;
pub mod guard;
pub mod layers;
pub mod matching;
pub mod migrate;
pub mod output;
pub mod progress;
pub mod python;
pub mod recipe;
pub mod templates;
pub mod tomlfile;
pub mod transform;
pub mod verify;
