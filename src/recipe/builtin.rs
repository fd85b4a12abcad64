//! The shipped recipes, embedded in the binary from `recipes/`.

pub const SHIPPED: &[(&str, &str)] = &[
    ("l2-db-execute.toml", include_str!("../../recipes/l2-db-execute.toml")),
    ("l2-transaction.toml", include_str!("../../recipes/l2-transaction.toml")),
    ("l6-transaction.toml", include_str!("../../recipes/l6-transaction.toml")),
    ("l6-session-lifecycle.toml", include_str!("../../recipes/l6-session-lifecycle.toml")),
    ("l4-service-locator.toml", include_str!("../../recipes/l4-service-locator.toml")),
    ("l5-imports-l4.toml", include_str!("../../recipes/l5-imports-l4.toml")),
    ("l2-registry-dispatch.toml", include_str!("../../recipes/l2-registry-dispatch.toml")),
    ("imports-l2.toml", include_str!("../../recipes/imports-l2.toml")),
    ("unregistered-operation.toml", include_str!("../../recipes/unregistered-operation.toml")),
    ("hoc-layers.toml", include_str!("../../recipes/hoc-layers.toml")),
];
