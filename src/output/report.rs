//! Evidence reports (placeholder until the renderer lands).

use super::evidence::Evidence;

pub fn markdown(e: &Evidence) -> String {
    serde_json::to_string_pretty(e).unwrap_or_default()
}

pub fn json(e: &Evidence) -> String {
    serde_json::to_string_pretty(e).unwrap_or_default()
}

pub fn html(e: &Evidence) -> String {
    serde_json::to_string_pretty(e).unwrap_or_default()
}
