//! The literal prefilter: one Aho-Corasick automaton over the literals every rule requires, so each
//! file is scanned once to decide which rules could match it before anything is parsed.

use std::collections::HashMap;

use aho_corasick::AhoCorasick;

use super::rule::Rule;

pub struct LiteralIndex {
    automaton: Option<AhoCorasick>,
    ids: HashMap<String, usize>,
}

/// Which of the index's literals occur in one file.
pub struct Found(Vec<bool>);

impl LiteralIndex {
    pub fn build(rules: &[Rule]) -> Self {
        let mut ids: HashMap<String, usize> = HashMap::new();
        let mut literals: Vec<&str> = Vec::new();
        for alternative in rules.iter().filter_map(Rule::prefilter).flatten() {
            for literal in alternative {
                if !ids.contains_key(literal) {
                    ids.insert(literal.clone(), literals.len());
                    literals.push(literal);
                }
            }
        }
        // Literals are plain strings; building can only fail on absurd sizes, and then every
        // file simply counts as containing every literal.
        let automaton = (!literals.is_empty()).then(|| AhoCorasick::new(&literals).ok()).flatten();
        LiteralIndex { automaton, ids }
    }

    pub fn scan(&self, haystack: &[u8]) -> Found {
        let Some(automaton) = &self.automaton else { return Found(vec![true; self.ids.len()]) };
        let mut found = vec![false; self.ids.len()];
        for m in automaton.find_overlapping_iter(haystack) {
            found[m.pattern().as_usize()] = true;
        }
        Found(found)
    }

    /// Some alternative of the rule's prefilter has all its literals in the file.
    pub fn passes(&self, rule: &Rule, found: &Found) -> bool {
        let present = |literal: &String| self.ids.get(literal).is_none_or(|&i| found.0[i]);
        rule.prefilter().is_none_or(|alternatives| alternatives.iter().any(|alt| alt.iter().all(present)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recipe::{LoadedRecipe, Origin, Recipe};

    fn rule(toml_text: &str) -> Rule {
        let recipe: Recipe = toml::from_str(toml_text).unwrap();
        Rule::compile(&LoadedRecipe { recipe, origin: Origin::Shipped("t") }, &[]).unwrap()
    }

    #[test]
    fn a_rule_passes_when_one_alternative_is_complete() {
        let r = rule("id = 'r'\ntitle = 't'\n[match]\npattern = '$R.$M()'\n[match.constraints.M]\nregex = '^(commit|rollback)$'\n");
        let index = LiteralIndex::build(std::slice::from_ref(&r));
        assert!(index.passes(&r, &index.scan(b"x.rollback()")));
        assert!(!index.passes(&r, &index.scan(b"x.execute() # comm")));
    }

    #[test]
    fn rules_without_literals_always_pass() {
        let r = rule("id = 'r'\ntitle = 't'\n[match]\nquery = '(call) @match'\n");
        let index = LiteralIndex::build(std::slice::from_ref(&r));
        assert!(index.passes(&r, &index.scan(b"")));
    }
}
